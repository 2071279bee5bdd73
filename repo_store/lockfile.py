"""models.lock: which model is in production. Its git log is the model's history; promoting a
model (merge) or rolling back (monitor) is a commit that changes it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from repo_store import gitio, schemas
from repo_store.errors import Issue, UsageError, ValidationFailed
from repo_store.ids import now_iso
from repo_store.repo import MAIN, CaseRepo
from repo_store.safe_text import printable

LOCK_FILE = "models.lock"


def encode(lock: dict[str, Any]) -> bytes:
    schemas.check("models_lock", lock, LOCK_FILE)
    return (json.dumps(lock, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def decode(raw: bytes, where: str = LOCK_FILE) -> dict[str, Any]:
    try:
        lock = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValidationFailed([Issue(where, "$", f"unreadable models.lock: {err}")]) from None
    schemas.check("models_lock", lock, where)
    return lock


def read_lock(repo: CaseRepo, ref: str = MAIN) -> dict[str, Any] | None:
    """The production model as committed on `ref`; None before the first promotion."""
    raw = gitio.read_file(repo.git, ref, LOCK_FILE)
    return None if raw is None else decode(raw, f"{ref}:{LOCK_FILE}")


@dataclass(frozen=True)
class LockVersion:
    commit: str
    date: str
    subject: str
    lock: dict[str, Any]


def lock_history(repo: CaseRepo) -> list[LockVersion]:
    """Every production model main has had, newest first."""
    out = gitio.run(repo.git, "log", "--first-parent", "--format=%H%x1f%aI%x1f%s", MAIN, "--",
                    LOCK_FILE) if gitio.rev(repo.git, MAIN) else ""
    versions = []
    for line in out.splitlines():
        commit, date, subject = line.split("\x1f", 2)
        raw = gitio.read_file(repo.git, commit, LOCK_FILE)
        if raw is not None:
            versions.append(LockVersion(commit, date, subject, decode(raw, f"{commit[:8]}:{LOCK_FILE}")))
    return versions


def earlier_version(repo: CaseRepo, model: str) -> LockVersion:
    """The newest earlier production version whose model id starts with `model` (with or without
    `sha256:`): what a rollback by hand may go back to."""
    want = model if model.startswith("sha256:") else f"sha256:{model}"
    versions = lock_history(repo)
    if not versions:
        raise UsageError(f"main has no {LOCK_FILE} yet: there is nothing to roll back")
    current = versions[0].lock["model"]
    if len(want) < len("sha256:") + 6:
        raise UsageError(f"model {model!r}: give at least 6 characters of its id")
    if current.startswith(want):
        raise UsageError(f"model {model!r} is production already")
    for version in versions[1:]:
        if version.lock["model"].startswith(want):
            return version
    known = ", ".join(dict.fromkeys(v.lock["model"].removeprefix("sha256:")[:12] for v in versions[1:]))
    raise UsageError(f"model {model!r} was never production on main"
                     + (f" (earlier versions: {known})" if known else " (no earlier versions)"))


def commit_lock(repo: CaseRepo, lock: dict[str, Any], message: str) -> str:
    """Write models.lock on main as one commit (a rollback), whether or not main is checked out."""
    with repo.write_lock():
        head = gitio.rev(repo.git, f"refs/heads/{MAIN}")
        if repo.head_branch == MAIN and gitio.dirty_paths(repo.root, LOCK_FILE):
            raise UsageError(f"{LOCK_FILE} has uncommitted changes: commit or discard them first")
        return gitio.commit_to_branch(repo.git, MAIN, {LOCK_FILE: encode(lock)}, message, start=head)


def rollback_to(repo: CaseRepo, target: dict[str, Any], why: str,
                baseline: dict[str, int] | None = None) -> str:
    """Make `target` (a models.lock from the history) production again, as one commit on main
    with the trailers `straw log` reads. `baseline`: its score on the current baseline, when
    measured (otherwise the commit claims no score). Returns the commit id."""
    current = read_lock(repo)
    why = printable(why)  # one line of the user's, escaped: log parsing splits on control bytes
    lock = {**target, "promoted": now_iso(), "reason": "rollback"}
    lock.pop("new", None)
    lock.pop("baseline", None)  # the target's score was on the baseline of its day: stale now
    if baseline is not None:
        lock["baseline"] = baseline
    score = lock.get("baseline")
    trailer = f"Straw-Baseline: {score['passed']}/{score['total']}\n" if score else ""
    return commit_lock(repo, lock, (
        f"Roll back production model to {lock['model'][:19]}\n\n{why}\n\n"
        f"Straw-Rollback: {current['model'] if current else '-'}\nStraw-Model: {lock['model']}\n"
        f"{trailer}Rolled-back-by: {repo.identity}\n"))
