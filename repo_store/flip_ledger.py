"""The flip ledger: the watch cases a candidate model broke (negative flips against the
production model), read from a batch's report, and `promote`, which moves them from watch into
pending with their provenance in `meta`, so the next batch trains on them."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from repo_store import cases, gitio
from repo_store.batch_branches import require_batch
from repo_store.cases import Case
from repo_store.errors import StrawError, UsageError
from repo_store.repo import MAIN, CaseRepo
from repo_store.reports import read_report


@dataclass(frozen=True)
class Ledger:
    batch: str | None
    production: str  # the model that was right
    candidate: str  # the model that is wrong
    negative: list[dict[str, Any]]  # id, expected, production, candidate (the predictions)


def batch_ledger(repo: CaseRepo, batch_id: str) -> Ledger:
    """The watch negative flips in a batch's latest report (its branch, or main once merged)."""
    batch = require_batch(repo, batch_id)
    report = read_report(repo, batch.id) or read_report(repo, batch.id, ref=MAIN)
    if report is None:
        raise UsageError(f"batch {batch.id} has no report: run `straw tune {batch.id}`")
    found = report.get("flips")
    if not isinstance(found, dict):
        raise UsageError(f"reports/{batch.id}.json has no flips: there was no production model "
                         f"to compare with when it was tuned")
    return Ledger(batch.id, found["production"], report["model"]["hash"],
                  list(found["watch"]["negative"]))


def promote(repo: CaseRepo, ledger: Ledger) -> list[Case]:
    """Move each flipped case still in watch into pending, in one commit, with `meta.flip`
    naming the batch and both models; cases no longer in watch are skipped."""
    repo.require_on_main()
    with repo.write_lock():
        moved: list[tuple[Case, str, bytes]] = []
        for flip in ledger.negative:
            old_path = cases.case_path("watch", flip["id"])
            source = repo.root / old_path
            if not source.is_file():
                continue
            case, issues = cases.parse(source.read_bytes(), old_path, "watch")
            if case is None:
                raise StrawError(f"{old_path}: {issues[0].message if issues else 'unreadable'}")
            data = copy.deepcopy(case.data)
            data["meta"] = {**data.get("meta", {}), "flip": {
                "from": "watch", "batch": ledger.batch, "production_model": ledger.production,
                "candidate_model": ledger.candidate, "production_predicted": flip["production"],
                "candidate_predicted": flip["candidate"]}}
            moved.append((Case(data, "pending"), old_path, cases.check_new(data, "pending")))
        if not moved:
            raise UsageError("no watch negative flips left to promote (already promoted or removed)")
        paths: list[str] = []
        head = gitio.head_commit(repo.root)
        try:
            for case, old_path, content in moved:
                paths += [old_path, case.path]
                cases.atomic_write(repo.root / case.path, content)
                (repo.root / old_path).unlink()
            where = f" of batch {ledger.batch}" if ledger.batch else ""
            gitio.commit_paths(repo.root, paths, f"Promote {len(moved)} watch negative flips"
                                f"{where} into pending\n\n" + "\n".join(c.id for c, _, _ in moved))
        except BaseException:
            if gitio.head_commit(repo.root) == head:  # take back every file this call touched
                gitio.run(repo.root, "checkout", "HEAD", "--", *[p for _, p, _ in moved])
                for case, _, _ in moved:
                    (repo.root / case.path).unlink(missing_ok=True)
                gitio.unstage(repo.root, paths)
            raise
        return [case for case, _, _ in moved]
