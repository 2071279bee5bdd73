"""The monitor's log: `monitor/log.jsonl` on main, one JSON line per run (time, model, pass rate,
failing case ids, action). Committed, so `git log monitor/` is the production model's health
record, and two monitors at once serialise on the repository lock."""

from __future__ import annotations

import json
from typing import Any

from repo_store import gitio
from repo_store.repo import MAIN, CaseRepo

LOG_FILE = "monitor/log.jsonl"


def read_entries(repo: CaseRepo, ref: str = MAIN) -> list[dict[str, Any]]:
    raw = gitio.read_file(repo.git, ref, LOG_FILE) if gitio.rev(repo.git, ref) else None
    entries = []
    for line in (raw or b"").decode("utf-8", errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def append_entry(repo: CaseRepo, entry: dict[str, Any], subject: str) -> str:
    """Append one line and commit it on main (plumbing: works whatever is checked out)."""
    with repo.write_lock():
        head = gitio.rev(repo.git, f"refs/heads/{MAIN}")
        old = gitio.read_file(repo.git, MAIN, LOG_FILE) if head else None
        content = (old or b"") + (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        return gitio.commit_to_branch(repo.git, MAIN, {LOG_FILE: content}, subject, start=head)
