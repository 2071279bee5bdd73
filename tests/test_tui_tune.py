"""Tune from the TUI on a tiny real model (random weights, built from a config in a second):
live progress, a cancel that leaves the branch as it was, and a finished tune's report."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from textual.widgets import DataTable, Log, Static
from tui_helpers import open_pull, plain, settle

from repo_store import batches, gitio, reports
from tui import make_app

SIZE = (120, 40)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuning.testing import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "model")


def use_tiny_model(repo, tiny_model: Path, rounds: int, learning_rate: float = 1e-4,
                   epochs: int = 1) -> None:
    (repo.root / "straw.toml").write_text(
        f'[model]\nbase = "{tiny_model}"\nmax_length = 32\n\n'
        f"[train]\nmax_iterations = {rounds}\nepochs_per_round = {epochs}\nbatch_size = 32\n"
        f"learning_rate = {learning_rate}\n", encoding="utf-8")
    # tune uses main's committed settings only
    gitio.commit_paths(repo.root, ["straw.toml"], "tiny model")



async def test_cancelling_a_tune_leaves_the_branch_as_it_was(demo_repo, tiny_model: Path) -> None:
    # a learning rate too small to learn anything and long rounds: the tune cannot end by itself
    # before it is cancelled
    use_tiny_model(demo_repo, tiny_model, rounds=50, learning_rate=1e-12, epochs=100)
    batch = batches.create_batch(demo_repo)
    before = gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}")
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch.id)
        await pilot.press("t")
        for _ in range(600):  # until training has started (a round began)
            await asyncio.sleep(0.05)
            if "round" in plain(pr.query_one("#tune-status", Static)):
                break
        assert pr.tuning
        seen = ""
        for _ in range(600):  # a step of the round: its loss and the time left in the round
            await asyncio.sleep(0.05)
            seen = plain(pr.query_one("#tune-status", Static))
            if "loss" in seen and "left in this round" in seen:
                break
        pattern = r"round \d+/50 · step \d+/\d+ · loss \d+\.\d{4} · about \d+ (s|min) left"
        assert re.search(pattern, seen), seen
        await pilot.press("x")
        await settle(pilot)
        assert not pr.tuning
        assert "cancelled" in plain(pr.query_one("#tune-status", Static))
    assert gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}") == before
    assert reports.read_report(demo_repo, batch.id) is None


async def test_a_finished_tune_commits_its_report_and_shows_it(demo_repo, tiny_model: Path) -> None:
    use_tiny_model(demo_repo, tiny_model, rounds=1)
    batch = batches.create_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch.id)
        await pilot.press("t")
        await settle(pilot)
        await settle(pilot)
        log = pr.query_one("#tune-log", Log)
        assert any(line.startswith("round 1:") for line in log.lines)
        assert pr.query_one("#pr-report", DataTable).row_count > 0
        assert "report:" in plain(pr.query_one("#pr-report-summary", Static))
    assert reports.read_report(demo_repo, batch.id) is not None


async def test_q_while_tuning_asks_and_quitting_cancels_the_tune(demo_repo, tiny_model: Path) -> None:
    from tui.dialogs.confirm import Confirm

    # a learning rate too small to learn anything and long rounds: the tune cannot end by itself
    # before it is cancelled
    use_tiny_model(demo_repo, tiny_model, rounds=50, learning_rate=1e-12, epochs=100)
    batch = batches.create_batch(demo_repo)
    before = gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}")
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch.id)
        await pilot.press("t")
        for _ in range(600):
            await asyncio.sleep(0.05)
            if "round" in plain(pr.query_one("#tune-status", Static)):
                break
        await pilot.press("q")
        await pilot.pause()
        asked = app.screen  # not narrowing app.screen itself, which `app.screen is pr` below reads
        assert isinstance(asked, Confirm) and "tune is running" in asked.question.plain
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is pr and pr.tuning and not app._exit
        await pilot.press("q", "y")
        await pilot.pause()
        assert pr.cancel.is_set() and app._exit
        await app.workers.wait_for_complete()
    assert gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}") == before
    assert reports.read_report(demo_repo, batch.id) is None
