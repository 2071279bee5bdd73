"""`straw demo` end to end on a tiny real classifier with a short schedule (the README's main job
runs the same code on the embedded MiniLM): both ways run from the same production model, the
gated way merges only when every case passes, and git tells the story."""

from __future__ import annotations

from pathlib import Path

from repo_store import audit
from repo_store.lockfile import read_lock
from repo_store.repo import open_case_repo
from straw.commands.demo import _table
from tuning.demo import run_demo

SHORT = {"train": {"epochs_per_round": 2, "max_iterations": 2, "learning_rate": 0.003}}


def test_demo_tells_the_story(tmp_path: Path, tiny_classifier: Path) -> None:
    events: list[object] = []
    result = run_demo(tmp_path / "demo", base=str(tiny_classifier), config=SHORT, new_cases=4,
                      max_steps=3, progress=events.append)
    naive, gated = result.naive, result.straw
    assert naive.new_total == gated.new_total == 4
    assert naive.baseline_total == gated.baseline_total == 100
    assert len(result.per_case) == 4 and 4 <= naive.trainings <= 12
    # a broken case is one the production model passed and the naive model fails at the end
    assert len(naive.broken) <= naive.baseline_before
    assert naive.baseline_after >= naive.baseline_before - len(naive.broken) - 0
    repo = open_case_repo(result.root)
    lock = read_lock(repo)
    assert lock is not None
    if gated.baseline_after == gated.baseline_total and gated.new_passed == gated.new_total:
        assert lock["reason"] == "merge" and gated.broken == []
        assert "Straw-Batch:" in result.git_log
    else:  # the tiny model could not pass everything: the gate kept main as it was
        assert lock["reason"] == "bootstrap"
    assert audit.verify_history(repo) == []
    assert "Train the first production model" in result.git_log
    assert [getattr(e, "name", "") for e in events if getattr(e, "name", "") == "pharaoh"]
    table = _table(result)
    assert "baseline cases broken" in table and f"{naive.new_passed}/4" in table
