"""A batch's names and manifest: branch `batch/<id>`, `batches/<id>.json`, the archive tag of a
rejected batch, and finding a batch by name. Every other batch module imports this one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repo_store import gitio, jsonio, schemas
from repo_store.errors import Issue, NoSuchBatch, ValidationFailed
from repo_store.ids import is_safe_id
from repo_store.repo import MAIN, CaseRepo

BRANCH_PREFIX = "batch/"
REJECTED_PREFIX = "batch-rejected/"


@dataclass(frozen=True)
class Batch:
    id: str
    title: str
    cases: list[str]
    approver: str
    created: str
    bootstrap: bool = False

    @property
    def branch(self) -> str:
        return branch_name(self.id)

    @classmethod
    def from_manifest(cls, data: dict[str, Any]) -> Batch:
        return cls(data["id"], data["title"], list(data["cases"]), data["approver"],
                   data["created"], bool(data.get("bootstrap", False)))

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "title": self.title, "cases": self.cases,
                                "approver": self.approver, "created": self.created}
        if self.bootstrap:
            data["bootstrap"] = True
        return data


def branch_name(batch_id: str) -> str:
    return f"{BRANCH_PREFIX}{batch_id}"


def manifest_path(batch_id: str) -> str:
    return f"batches/{batch_id}.json"


def batch_id_of(name: str) -> str:
    """Accept `ID` or `batch/ID`; refuse anything that cannot be a batch."""
    batch_id = name.removeprefix("refs/heads/").removeprefix(BRANCH_PREFIX)
    if "/" in batch_id or not is_safe_id(batch_id):
        raise NoSuchBatch(f"{name!r} is not a batch (batch branches are named {BRANCH_PREFIX}<id>)")
    return batch_id


def read_manifest(repo: CaseRepo, ref: str, batch_id: str) -> Batch | None:
    raw = gitio.read_file(repo.git, ref, manifest_path(batch_id))
    if raw is None:
        return None
    where = f"{ref}:{manifest_path(batch_id)}"
    try:  # a pushed branch can hold any bytes: a bad manifest is an error naming it, not a crash
        data = jsonio.strict_loads(raw)
    except jsonio.BadJSON as err:
        raise ValidationFailed([Issue(where, "$", str(err))]) from None
    schemas.check("batch", data, where)
    return Batch.from_manifest(data)


def is_merged(repo: CaseRepo, batch_id: str) -> bool:
    return gitio.rev(repo.git, f"{MAIN}:{manifest_path(batch_id)}") is not None


def require_batch(repo: CaseRepo, name: str) -> Batch:
    """The open (or merged) batch called `name`, read from its branch."""
    batch_id = batch_id_of(name)
    branch = branch_name(batch_id)
    if gitio.rev(repo.git, f"refs/heads/{branch}") is None:
        if gitio.rev(repo.git, f"refs/tags/{REJECTED_PREFIX}{batch_id}"):
            raise NoSuchBatch(f"batch {batch_id} was rejected (tag {REJECTED_PREFIX}{batch_id})")
        merged = read_manifest(repo, MAIN, batch_id) if is_merged(repo, batch_id) else None
        if merged:
            return merged
        raise NoSuchBatch(f"no batch {batch_id!r}: branch {branch} does not exist")
    batch = read_manifest(repo, branch, batch_id)
    if batch is None:
        raise NoSuchBatch(f"{branch} has no {manifest_path(batch_id)}: not a straw batch branch")
    return batch
