"""`straw merge`: gate, then the model's own rerun, then one `--no-ff` merge commit on main that
brings the batch in AND promotes its model in models.lock, with trailers that `git log` shows.

The store cannot run a model (it imports no engine): the caller (tuning.recheck) runs the stored
model on every case of the branch and passes its predictions in as a `Rerun`; the merge goes
ahead only if they are the report's predictions, case for case, for the branch's current tip.

The merge is built with plumbing (`merge-tree --write-tree`, `commit-tree`) and published by one
`update-ref` that checks main's old value: Ctrl-C at any point leaves main as it was. Everything
that can fail is checked before that `update-ref` (a locked index included), so a merge either
happens whole or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from repo_store import gitio, lockfile
from repo_store.batch_branches import require_batch
from repo_store.errors import StrawError, UsageError
from repo_store.flip_check import check_flips, recomputed_flips
from repo_store.gate import GateRefused, branch_cases, check_gate
from repo_store.ids import now_iso
from repo_store.repo import MAIN, CaseRepo

WATCHED = ("cases", "batches", "reports", lockfile.LOCK_FILE, "straw.toml")


@dataclass(frozen=True)
class Rerun:
    """The stored model run again on every case of a batch branch, by the engine."""

    batch: str
    tip: str  # the branch commit whose cases were run
    model: str  # the model hash that was loaded (after its weights were hashed)
    predictions: dict[str, str | None]  # case id -> predicted output
    # main's production model (models.lock) on the same branch's baseline and watch cases, when
    # there is one: the report's flips and blame are recomputed from these (repo_store.flip_check)
    production: str | None = None
    production_predictions: dict[str, str | None] = field(default_factory=dict)


def check_rerun(report: dict[str, Any], rerun: Rerun, batch_id: str, tip: str) -> None:
    """Refuse unless the rerun is of this branch tip and this model and predicted exactly what
    the report says, case by case (the gate recomputed pass/fail from those predictions)."""
    if rerun.batch != batch_id or rerun.tip != tip:
        raise GateRefused(f"the model was rerun on {rerun.tip[:10]}, but batch/{batch_id} is now "
                          f"at {tip[:10]}; run `straw merge {batch_id}` again")
    if rerun.model != report["model"]["hash"]:
        raise GateRefused(f"the rerun loaded model {rerun.model[:19]}, the report names "
                          f"{report['model']['hash'][:19]}")
    for row in sorted(report["cases"], key=lambda r: r["id"]):
        if row["id"] not in rerun.predictions:
            raise GateRefused(f"the rerun has no prediction for case {row['id']}")
        got = rerun.predictions[row["id"]]
        if got != row["predicted"]:
            raise GateRefused(f"report disagrees with the rerun of model "
                              f"{rerun.model[:19]} on case {row['id']}: the report says "
                              f"{row['predicted']!r}, the model says {got!r}")


def index_lock_problem(repo: CaseRepo) -> str | None:
    """Why the work tree of a checked-out main could not follow a merge (None: it can)."""
    lock = repo.git_dir / "index.lock"
    if repo.head_branch == MAIN and lock.exists():
        return (f"git's index is locked ({lock}): another git command is running or one was "
                f"killed; if none is running, remove that file and run the merge again")
    return None


def merge_batch(repo: CaseRepo, batch_id: str, *, rerun: Rerun) -> str:
    """Returns the merge commit id. `rerun`: the engine's rerun of the report's model on the
    branch (tuning.recheck.rerun_batch)."""
    with repo.write_lock():
        batch = require_batch(repo, batch_id)
        result = check_gate(repo, batch.id)
        if not result.passed:
            raise GateRefused(f"gate refused {batch.branch}: {result.reason}")
        report = result.report
        assert report is not None
        if repo.head_branch == MAIN:
            dirty = [p for w in WATCHED for p in gitio.dirty_paths(repo.root, w)]
            if dirty:
                raise UsageError(f"dirty work tree: {dirty[0]} has uncommitted changes; commit or "
                                 f"stash them before merging")
        locked = index_lock_problem(repo)
        if locked:
            raise UsageError(f"not merged: {locked}")
        main = gitio.rev(repo.git, f"refs/heads/{MAIN}")
        head = gitio.rev(repo.git, f"refs/heads/{batch.branch}")
        assert main and head
        check_rerun(report, rerun, batch.id, head)
        production = (lockfile.read_lock(repo) or {}).get("model")
        if rerun.production != production:
            raise GateRefused(f"the rerun ran production model {str(rerun.production)[:19]}, "
                              f"main's {lockfile.LOCK_FILE} names {str(production)[:19]}; run "
                              f"the merge again")
        check_flips(report, production, recomputed_flips(
            production, branch_cases(repo, batch, head), rerun.production_predictions,
            rerun.predictions) if production else None)
        tree, conflicts = gitio.merge_tree(repo.git, main, head)
        if tree is None:
            raise StrawError(f"{batch.branch} conflicts with {MAIN} in {', '.join(conflicts)}; "
                             f"run `straw batch update {batch.id}`")
        summary = report["summary"]
        lock = {
            "model": report["model"]["hash"],
            "backend": report["model"]["backend"],
            "base": report["model"]["base"],
            "batch": batch.id,
            "promoted": now_iso(),
            "reason": "merge",
            "baseline": summary["baseline"],
            "new": summary["new"],
        }
        tree = gitio.write_tree(repo.git, tree, {lockfile.LOCK_FILE: lockfile.encode(lock)})
        baseline, new = summary["baseline"], summary["new"]
        message = (
            f"Merge batch {batch.id}: {batch.title}\n\n"
            f"{len(batch.cases)} cases join the baseline; model {report['model']['hash'][:19]} "
            f"promoted in {lockfile.LOCK_FILE}.\n\n"
            f"Straw-Batch: {batch.id}\n"
            f"Straw-Model: {report['model']['hash']}\n"
            f"Straw-Baseline: {baseline['passed']}/{baseline['total']}\n"
            f"Straw-New: {new['passed']}/{new['total']}\n"
            f"Straw-Cases: {len(batch.cases)}\n"
            f"Straw-BWT: {_bwt_trailer(report.get('bwt'))}\n"
            f"Approved-by: {batch.approver}\n"
            f"Merged-by: {repo.identity}\n"
        )
        # signed with the user's key when main requires it; a signing failure stops here, main unmoved
        commit = gitio.commit_tree(repo.git, tree, [main, head], message,
                                   sign=bool(repo.verdict_config["gate"].get("require_signed")))
        gitio.update_ref(repo.git, MAIN, commit, main)
        if repo.head_branch == MAIN:
            try:  # two-tree merge: index and files follow main; local edits elsewhere survive
                gitio.run(repo.git, "read-tree", "-m", "-u", main, commit)
            except StrawError as err:
                raise StrawError(f"merged batch {batch.id} into {MAIN} ({commit[:8]}), but the work "
                                 f"tree could not follow ({err}); once nothing else runs git, "
                                 f"run `git read-tree -m -u {main} {commit}`") from None
        gitio.gc_auto(repo.git)
        return commit


def _bwt_trailer(bwt: object) -> str:
    """The report's backward transfer for `straw log`, which then need not read the report."""
    return repr(float(bwt)) if isinstance(bwt, (int, float)) else "-"  # repr: the exact value
