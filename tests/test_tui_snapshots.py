"""Snapshots of the main screens at a fixed terminal size (pytest-textual-snapshot). The demo
repository's cases have fixed ids, so these screens are deterministic; screens that show batch
ids or commit hashes are covered by the Pilot tests instead. Update with --snapshot-update."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_store.setup import init_case_repo
from tui import make_app

SIZE = (120, 36)


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    repo, _ = init_case_repo(tmp_path / "cases", demo=True)
    return repo.root


def _app(root: Path):  # noqa: ANN202
    app = make_app(root)
    app.cursor_blink = False  # type: ignore[attr-defined]
    return app


async def _settle(pilot) -> None:  # noqa: ANN001
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_cases_screen(snap_compare, demo_root: Path) -> None:  # noqa: ANN001
    assert snap_compare(_app(demo_root), terminal_size=SIZE, run_before=_settle)


def test_cases_screen_filtered_to_hebrew(snap_compare, demo_root: Path) -> None:  # noqa: ANN001
    async def search(pilot) -> None:  # noqa: ANN001
        await _settle(pilot)
        await pilot.press("slash", *"hebrew", "enter")
        await _settle(pilot)

    assert snap_compare(_app(demo_root), terminal_size=SIZE, run_before=search)


def test_batches_screen(snap_compare, demo_root: Path) -> None:  # noqa: ANN001
    async def batches(pilot) -> None:  # noqa: ANN001
        await _settle(pilot)
        await pilot.press("2")
        await _settle(pilot)
        await pilot.press("o")
        await _settle(pilot)

    assert snap_compare(_app(demo_root), terminal_size=SIZE, run_before=batches)


def test_help_screen(snap_compare, demo_root: Path) -> None:  # noqa: ANN001
    async def helped(pilot) -> None:  # noqa: ANN001
        await _settle(pilot)
        await pilot.press("question_mark")
        await _settle(pilot)

    assert snap_compare(_app(demo_root), terminal_size=SIZE, run_before=helped)
