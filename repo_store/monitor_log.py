"""The monitor's history, kept out of main's log: every run is one commit on the branch
`straw/monitor`, written with plumbing (the work tree and HEAD are never touched), appending a
line to `runs/YYYY/MM/DD.jsonl`.

A branch rather than git notes: it is pushed, fetched and read like any branch
(`git push origin straw/monitor`, `git log straw/monitor`), runs are ordered by time rather than
keyed by the commit they audited (a note would be rewritten by every run on the same commit,
and notes refs need `git notes merge` when two machines both record). One file per day keeps
each commit small: a run every 10 minutes writes a blob of at most ~150 lines.

Alerts about the model (alert, mismatch) also append to `monitor/log.jsonl` on main, and a
rollback is its own commit on main: those change or question production, so main's log shows
them. `read_entries` reads both places (older repositories have only main's file)."""

from __future__ import annotations

import json
from typing import Any

from repo_store import gitio
from repo_store.repo import MAIN, CaseRepo

BRANCH = "straw/monitor"
LOG_FILE = "monitor/log.jsonl"  # on main: alerts only
MAIN_ACTIONS = ("alert", "mismatch")


def day_file(time: str) -> str:
    return f"runs/{time[:4]}/{time[5:7]}/{time[8:10]}.jsonl"


def _lines(raw: bytes | None) -> list[dict[str, Any]]:
    entries = []
    for line in (raw or b"").decode("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def read_entries(repo: CaseRepo, days: int = 31) -> list[dict[str, Any]]:
    """Runs of the last `days` recorded days (branch) and main's alerts, oldest first."""
    entries: list[dict[str, Any]] = []
    if gitio.rev(repo.git, f"refs/heads/{BRANCH}"):
        files = sorted(gitio.ls_tree(repo.git, BRANCH, "runs"))[-days:]
        for path in files:
            entries += _lines(gitio.read_file(repo.git, BRANCH, path))
    if gitio.rev(repo.git, MAIN):
        entries += _lines(gitio.read_file(repo.git, MAIN, LOG_FILE))
    # an alert is on both; `run` tells two runs of the same second apart (older lines lack it)
    unique = {str(e.get("run")) if e.get("run") else (str(e.get("time")), str(e.get("model")),
                                                      str(e.get("action"))): e for e in entries}
    return sorted(unique.values(), key=lambda e: str(e.get("time", "")))


def record(repo: CaseRepo, entry: dict[str, Any]) -> str:
    """One commit on `straw/monitor` for this run; also on main when it is an alert."""
    subject = (f"Monitor: {str(entry['model'])[:19]} {entry.get('passed')}/{entry.get('total')} "
               f"({entry['action']})")
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    with repo.write_lock():
        path = day_file(str(entry["time"]))
        old = gitio.read_file(repo.git, BRANCH, path) if gitio.rev(repo.git, f"refs/heads/{BRANCH}") else None
        commit = gitio.commit_to_branch(repo.git, BRANCH, {path: (old or b"") + line}, subject)
        if entry["action"] in MAIN_ACTIONS:
            head = gitio.rev(repo.git, f"refs/heads/{MAIN}")
            old = gitio.read_file(repo.git, MAIN, LOG_FILE) if head else None
            commit = gitio.commit_to_branch(repo.git, MAIN, {LOG_FILE: (old or b"") + line}, subject,
                                            start=head)
    return commit


def line(entry: dict[str, Any]) -> str:
    """One run for `straw log --monitor`: time, model, score, action, where it was checked."""
    model = str(entry.get("model", "")).removeprefix("sha256:")[:12]
    score = f"{entry.get('passed')}/{entry.get('total')}"
    source = entry.get("source") or "in-process"
    tail = (f" → {str(entry['rolled_back_to']).removeprefix('sha256:')[:12]}" if entry.get("rolled_back_to")
            else f" ({entry['reason']})" if entry.get("reason") else "")
    action = str(entry.get("action"))
    return f"{str(entry.get('time', ''))[:19]} {model:<12} {score:>9} {action:<11} {source}{tail}"
