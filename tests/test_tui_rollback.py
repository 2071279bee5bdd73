"""The Monitor screen's rollback (`b`) does what `straw rollback` does (tuning.monitor.
roll_back_by_hand): it runs the chosen model on main's baseline first, records the score it
measured, and asks again before it rolls back to a model below the monitor's threshold. Real
tiny models, the real TUI driven by Pilot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prod_helpers import bad_model, copy_repo, deploy_by_hand
from textual.widgets import DataTable
from tui_helpers import settle

from repo_store import lockfile
from repo_store.repo import CaseRepo
from tui import make_app
from tui.dialogs.confirm import Confirm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def repo(good: Path, tmp_path: Path) -> CaseRepo:
    """Production is the good model again after a bad one was deployed by hand."""
    repo = copy_repo(good, tmp_path / "repo")
    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    deploy_by_hand(repo, bad_model(repo))
    deploy_by_hand(repo, good_model)
    return repo


async def choose_version(pilot: Any, model: str) -> None:
    """Open the Monitor screen, put the cursor on `model`'s newest version and press `b`."""
    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)
    table = pilot.app.screen.query_one("#versions-table", DataTable)
    row = next(i for i, v in enumerate(pilot.app.screen.versions) if v.lock["model"] == model)
    table.move_cursor(row=row)
    await pilot.press("b")
    await settle(pilot)


async def answer(pilot: Any, key: str) -> None:
    for _ in range(200):  # the check runs the model in a worker: wait for its question
        if isinstance(pilot.app.screen, Confirm):
            break
        await pilot.pause(0.05)
    assert isinstance(pilot.app.screen, Confirm)
    await pilot.press(key)
    await settle(pilot)


async def until_lock(pilot: Any, repo: CaseRepo, model: str) -> bool:
    for _ in range(400):
        if (lockfile.read_lock(repo) or {}).get("model") == model:
            return True
        await pilot.pause(0.05)
    return False


async def test_b_asks_again_before_rolling_back_to_a_model_below_the_threshold(repo: CaseRepo) -> None:
    bad = next(v.lock["model"] for v in lockfile.lock_history(repo)
               if v.lock["model"] != (lockfile.read_lock(repo) or {}).get("model"))
    async with make_app(repo.root).run_test(size=(120, 40)) as pilot:
        await choose_version(pilot, bad)
        await answer(pilot, "y")  # "Roll production back to …?"
        await answer(pilot, "n")  # "… passes 3/10 …: Roll back all the same?" → keep
        assert lockfile.read_lock(repo)["model"] != bad  # type: ignore[index]
        await choose_version(pilot, bad)
        await answer(pilot, "y")
        asked = pilot.app.screen
        assert isinstance(asked, Confirm)
        question = asked.question
        assert "of main's baseline cases" in str(question) and "would roll it back again" in str(question)
        await answer(pilot, "y")  # roll back anyway
        assert await until_lock(pilot, repo, bad)
    lock = lockfile.read_lock(repo) or {}
    assert lock["baseline"]["passed"] < lock["baseline"]["total"] == 10  # the score it measured


async def test_b_rolls_back_to_a_passing_model_with_its_measured_score(repo: CaseRepo) -> None:
    good_model = (lockfile.read_lock(repo) or {})["model"]
    bad = next(v.lock["model"] for v in lockfile.lock_history(repo) if v.lock["model"] != good_model)
    deploy_by_hand(repo, bad)  # now the bad model is production, the good one earlier
    async with make_app(repo.root).run_test(size=(120, 40)) as pilot:
        await choose_version(pilot, good_model)
        await answer(pilot, "y")
        assert await until_lock(pilot, repo, good_model)
        assert not isinstance(pilot.app.screen, Confirm)  # no second question for a passing model
    assert (lockfile.read_lock(repo) or {})["baseline"] == {"passed": 10, "total": 10}
