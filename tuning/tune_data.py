"""Everything a tune reads from the case repository, read once: the batch, its branch's cases
split into baseline and new, the trees the report pins, the production model. tune.py talks to
the store through this module and the report writer only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from repo_store import batch_branches, batches, checks, gitio, lockfile
from repo_store.batch_branches import Batch
from repo_store.cases import Case
from repo_store.errors import StrawError, UsageError, ValidationFailed
from repo_store.repo import MAIN, CaseRepo


@dataclass(frozen=True)
class TuneData:
    batch: Batch | None  # None for the bootstrap (main's baseline alone)
    ref: str  # where the cases were read: batch/<id>, or main
    cases_tree: str
    main_baseline_tree: str
    baseline: list[Case]
    new: list[Case]
    lock: dict[str, Any] | None  # models.lock on main: the production model
    watch: list[Case] = field(default_factory=list)  # watch cases at `ref`: validated, never trained

    def check_unchanged(self, repo: CaseRepo) -> None:
        """Refuse to write anything when the cases changed while we trained."""
        now = repo.cases_tree(self.ref)
        if now != self.cases_tree:
            raise StrawError(f"{self.ref}: cases changed during tuning ({self.cases_tree[:10]} → "
                             f"{now[:10]}); no report written, tune again")


def _checked(cases: list[Case]) -> None:
    issues = checks.cross_issues(cases)
    if issues:
        raise ValidationFailed(issues)


def watch_cases(repo: CaseRepo, ref: str) -> list[Case]:
    """The watch cases at `ref` (the batch branch: the gate and the merge's rerun check the
    report's watch rows against the same tree; `straw batch update` brings newer ones)."""
    return repo.load_ref(ref).split("watch")


def batch_data(repo: CaseRepo, batch_id: str) -> TuneData:
    batch = batch_branches.require_batch(repo, batch_id)
    branch = batch.branch
    if batch_branches.is_merged(repo, batch.id):  # its branch may outlive the merge
        raise UsageError(f"batch {batch.id} is already merged: nothing to tune")
    cases_tree = repo.cases_tree(branch)
    baseline, new = batches.split_cases(repo, batch)
    if not new:
        raise StrawError(f"{branch}: the batch holds no cases")
    _checked(baseline + new)
    return TuneData(batch, branch, cases_tree, gitio.tree_of(repo.git, MAIN, "cases/baseline"),
                    baseline, new, lockfile.read_lock(repo), watch_cases(repo, branch))


def bootstrap_data(repo: CaseRepo) -> TuneData:
    """Main's baseline, for the first production model; refused once a model exists."""
    lock = lockfile.read_lock(repo)
    if lock is not None:
        raise UsageError("models.lock already names a production model; tune a batch instead")
    loaded = repo.load_ref(MAIN)
    if loaded.issues:
        raise ValidationFailed(loaded.issues)
    baseline = loaded.split("baseline")
    if not baseline:
        raise UsageError("main has no baseline cases to train on")
    _checked(baseline)
    tree = gitio.tree_of(repo.git, MAIN, "cases/baseline")
    return TuneData(None, MAIN, repo.cases_tree(MAIN), tree, baseline, [], None,
                    loaded.split("watch"))
