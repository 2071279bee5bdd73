"""For the CLI tests: a batch whose report a real stored model (the tiny classifier, random
weights) produced, so that `straw gate` finds the model in the store and `straw merge` can rerun
it. The model fails many cases, so main's thresholds are set to 0 first, through `straw config
set` as a user would."""

from __future__ import annotations

import os
import pty
from pathlib import Path

from report_helpers import model_report, stored_tiny_model

from repo_store import batches
from repo_store.repo import CaseRepo, open_case_repo
from repo_store.reports import write_report
from straw.cli import main


def straw(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exit_info:
        return int(exit_info.code or 0)
    return 0


def lenient_gate(repo: CaseRepo) -> CaseRepo:
    for key in ("gate.baseline_threshold", "gate.new_threshold"):
        assert straw("config", "set", key, "0.0", "--repo", str(repo.root)) == 0
    return open_case_repo(repo.root)


def model_tuned(repo: CaseRepo, tiny: Path, **kwargs: object) -> tuple[CaseRepo, batches.Batch, str]:
    """(the reopened repository, a batch with a report from a stored real model, its hash)."""
    repo = lenient_gate(repo)
    model, predict_all = stored_tiny_model(repo, tiny)
    batch = batches.create_batch(repo, **kwargs)  # type: ignore[arg-type]
    write_report(repo, batch.id, model_report(repo, batch.id, model, predict_all))
    return repo, batch, model


def on_a_terminal(args: list[str], env: dict[str, str] | None = None) -> str:
    """Run straw with stdout and stderr on a pseudo-terminal; return what it printed."""
    from conftest import straw_executable

    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"} if env is None else env
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(straw_executable(), [straw_executable(), *args], env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out.decode("utf-8", "replace")
