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
        rejected = read_manifest(repo, tag, batch_id)
        if rejected:
            reason = gitio.run(repo.git, "tag", "-l", "--format=%(contents)", tag).strip()
            infos[batch_id] = BatchInfo(rejected, "rejected", reason or "rejected", None)
    return sorted(infos.values(), key=lambda i: i.batch.created, reverse=True)
