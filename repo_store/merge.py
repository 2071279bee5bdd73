"""`straw merge`: gate, then one `--no-ff` merge commit on main that brings the batch in AND
promotes its model in models.lock, with trailers that `git log` shows and tools parse.

The merge is built with plumbing (`merge-tree --write-tree`, `commit-tree`) and published by one
`update-ref` that checks main's old value: Ctrl-C at any point leaves main as it was."""

from __future__ import annotations

from repo_store import gitio, lockfile
from repo_store.batch_branches import require_batch
from repo_store.errors import StrawError, UsageError
from repo_store.gate import GateRefused, check_gate
from repo_store.ids import now_iso
from repo_store.repo import MAIN, CaseRepo

WATCHED = ("cases", "batches", "reports", lockfile.LOCK_FILE)


def merge_batch(repo: CaseRepo, batch_id: str) -> str:
    """Returns the merge commit id."""
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
        main = gitio.rev(repo.git, f"refs/heads/{MAIN}")
        head = gitio.rev(repo.git, f"refs/heads/{batch.branch}")
        assert main and head
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
        commit = gitio.commit_tree(repo.git, tree, [main, head], message)
        gitio.advance_branch(repo.git, MAIN, commit, main)
        return commit


def _bwt_trailer(bwt: object) -> str:
    """The report's backward transfer for `straw log`, which then need not read the report."""
    return repr(float(bwt)) if isinstance(bwt, (int, float)) else "-"  # repr: the exact value
