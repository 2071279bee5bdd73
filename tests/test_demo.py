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

SHORT = {"train": {"epochs_per_round": 10, "max_iterations": 4, "learning_rate": 0.005}}


def test_demo_tells_the_story(tmp_path: Path, tiny_classifier: Path, monkeypatch) -> None:
    # the tiny model's random features make centroid-imprinted head rows huge (loss in the
    # hundreds); random rows let 10 epochs a round reach the gate
    monkeypatch.setenv("STRAW_NO_IMPRINT", "1")
    events: list[object] = []
    result = run_demo(tmp_path / "demo", base=str(tiny_classifier), config=SHORT, new_cases=4,
                      max_steps=3, progress=events.append)
    naive, gated = result.naive, result.straw
    assert naive.new_total == gated.new_total == 4
    assert naive.baseline_total == gated.baseline_total == 100
    assert len(result.per_case) == 4 and 4 <= naive.trainings <= 12
    # the demo's claim: the naive way broke baseline cases the production model passed, and
    # the gated way merged with every case passing
    assert naive.broken, per_case_summary(result)
    assert naive.baseline_after < naive.baseline_before
    assert gated.baseline_after == gated.baseline_total and gated.new_passed == gated.new_total
    assert gated.broken == []
    repo = open_case_repo(result.root)
    lock = read_lock(repo)
    assert lock is not None and lock["reason"] == "merge"
    assert "Straw-Batch:" in result.git_log
    baseline_ids = {c.id for c in repo.load_ref("main").split("baseline")}
    assert set(naive.broken) <= baseline_ids
    assert audit.verify_history(repo) == []
    assert "Train the first production model" in result.git_log
    assert [getattr(e, "name", "") for e in events if getattr(e, "name", "") == "pharaoh"]
    table = _table(result)
    broken_row = next(line for line in table.splitlines() if "baseline cases broken" in line)
    assert broken_row.split()[-2:] == [str(len(naive.broken)), "0"]
    assert "baseline cases broken" in table and f"{naive.new_passed}/4" in table


def per_case_summary(result) -> str:
    return "; ".join(f"{row['case']}: {row['steps']} steps" for row in result.per_case)
