"""The README's "A session with straw" block, run as written (each line a real `straw` process
in the new repository), on a tiny real classifier instead of the embedded MiniLM so it fits the
suite: only `straw config set` lines are added, between `init` and `tune`. `serve` and `tui` run
until stopped and have tests of their own (test_serve.py, test_tui*.py)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from conftest import straw_executable

README = Path(__file__).resolve().parents[1] / "README.md"
RUN_FOREVER = {"serve", "tui"}
TINY = {"train.learning_rate": "0.005", "train.epochs_per_round": "10", "train.max_iterations": "8",
        "model.max_length": "32"}


def session_lines() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## A session with straw", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(part, comments=True) for line in block.splitlines()
                for part in re.split(r"\s*&&\s*", line)]
    return [argv for argv in commands if argv]


def test_the_readme_session_runs_as_written(tmp_path: Path, tiny_classifier: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRAW_NO_IMPRINT", "1")  # see test_demo: random rows suit the tiny model
    env = {**os.environ, "NO_COLOR": "1"}
    cwd = tmp_path
    ran: list[str] = []
    for argv in session_lines():
        if argv[0] == "cd":
            cwd = cwd / argv[1]
            continue
        assert argv[0] == "straw", argv
        if argv[1] in RUN_FOREVER:
            continue
        if argv[1] == "tune":  # the one thing added: the tiny model and a short schedule
            for key, value in {"model.base": str(tiny_classifier), **TINY}.items():
                subprocess.run([straw_executable(), "config", "set", key, value], cwd=cwd, env=env,
                               check=True, capture_output=True)
        t0 = time.monotonic()
        done = subprocess.run([straw_executable(), *argv[1:]], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}:\n{done.stderr}"
        ran.append(argv[1])
        print(f"{time.monotonic() - t0:6.1f}s {shlex.join(argv)}")
    assert ran[:2] == ["init", "add"] and {"tune", "gate", "merge", "verify", "monitor", "report"} <= set(ran)
    assert "contract" in (cwd.parent / "contract.html").read_text(encoding="utf-8")
    log = subprocess.run(["git", "log", "--format=%B", "-1", "main"], cwd=cwd, capture_output=True,
                         text=True, check=True).stdout
    assert "Straw-Batch:" in log or "Straw-Model:" in log  # last commit on main: the merge (or monitor's)
