"""Batch status for listings: open, invalid, tuned-failing, stale, passing (the gate's verdict),
merged or rejected, for one batch or all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repo_store import gitio
from repo_store.batch_branches import (
    BRANCH_PREFIX,
    REJECTED_PREFIX,
    Batch,
    batch_id_of,
    branch_name,
    is_merged,
    read_manifest,
    require_batch,
)
from repo_store.errors import StrawError
from repo_store.gate import check_gate
from repo_store.repo import MAIN, CaseRepo
from repo_store.reports import read_report


@dataclass
class BatchInfo:
    batch: Batch
    status: str  # open | invalid | tuned-failing | passing | stale | merged | rejected
    reason: str
    report: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.batch.id


def batch_info(repo: CaseRepo, batch_id: str) -> BatchInfo:
    batch = require_batch(repo, batch_id)
    if is_merged(repo, batch.id):
        return BatchInfo(batch, "merged", "merged into main", read_report(repo, batch.id, MAIN))
    result = check_gate(repo, batch.id)
    return BatchInfo(batch, result.status, result.reason, result.report)


def shown_info(repo: CaseRepo, batch_id: str) -> BatchInfo:
    """`straw batch show`: as batch_info, and a rejected batch (branch gone) from its tag;
    batch_info itself refuses one, since nothing can act on it (gate, merge, the TUI's PR)."""
    bare = batch_id_of(batch_id)
    if gitio.rev(repo.git, f"refs/heads/{branch_name(bare)}") is None:
        rejected = rejected_info(repo, bare)
        if rejected is not None:
            return rejected
    return batch_info(repo, batch_id)


def list_batches(repo: CaseRepo) -> list[BatchInfo]:
    """Every batch: open branches, merged ones (manifest on main), rejected ones (tags)."""
    infos: dict[str, BatchInfo] = {}
    for branch in gitio.branches(repo.git, f"{BRANCH_PREFIX}*"):
        try:
            info = batch_info(repo, branch)
        except StrawError:
            continue
        infos[info.id] = info
    if gitio.rev(repo.git, MAIN):
        for path in gitio.ls_tree(repo.git, MAIN, "batches"):
            batch_id = path.rsplit("/", 1)[-1].removesuffix(".json")
            if batch_id not in infos:
                merged = read_manifest(repo, MAIN, batch_id)
                if merged:
                    infos[batch_id] = BatchInfo(merged, "merged", "merged into main", None)
    for tag in gitio.tags(repo.git, f"{REJECTED_PREFIX}*"):
        batch_id = tag.removeprefix(REJECTED_PREFIX)
        if batch_id in infos:
            continue
        archived = rejected_info(repo, batch_id, with_report=False)
        if archived:
            infos[batch_id] = archived
    return sorted(infos.values(), key=lambda i: i.batch.created, reverse=True)


def rejected_info(repo: CaseRepo, batch_id: str, with_report: bool = True) -> BatchInfo | None:
    """A rejected batch as its tag `batch-rejected/<id>` keeps it: manifest, last report (unless
    not `with_report`: a listing does not show it), why."""
    tag = f"{REJECTED_PREFIX}{batch_id}"
    if gitio.rev(repo.git, f"refs/tags/{tag}") is None:
        return None
    batch = read_manifest(repo, tag, batch_id)
    if batch is None:
        return None
    reason = gitio.run(repo.git, "tag", "-l", "--format=%(contents)", tag).strip()
    report = None
    try:
        report = read_report(repo, batch_id, tag) if with_report else None
    except StrawError:  # a broken report does not hide the rejection
        pass
    return BatchInfo(batch, "rejected", reason or "rejected", report)
