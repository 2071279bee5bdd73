"""What a new user's walkthrough of the TUI found (tmux, 120x36 and 80x24): status lines that
say what is true now, keys that say why they cannot run instead of doing nothing (or something
unasked), gate reasons in the screen's keys rather than CLI commands, tables whose columns fit
the terminal, and a rollback shown the same way on Monitor and History."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from report_helpers import MODEL, merge_by_rule, rule_report
from textual.command import CommandPalette
from textual.widgets import DataTable, Static
from tui_helpers import open_pull, plain, settle, until

from repo_store import batches, lockfile, reports
from repo_store.repo import CaseRepo
from repo_store.watch_gate import watch_flips_refusal
from tui import make_app
from tui.dialogs.confirm import Confirm
from tui.screens.cases import CasesScreen
from tui.screens.pull import in_keys

SIZE = (120, 36)
SMALL = (80, 24)
OTHER_MODEL = "sha256:" + "cd" * 32




def said(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


def passing_batch(repo: CaseRepo, model: str = MODEL) -> str:
    batch = batches.create_batch(repo)
    reports.write_report(repo, batch.id, rule_report(repo, batch.id, model=model))
    return batch.id


def rolled_back(repo: CaseRepo) -> str:
    """Two merges (MODEL, then OTHER_MODEL), then production rolled back to MODEL; the first
    merge's batch id."""
    first = passing_batch(repo, MODEL)
    merge_by_rule(repo, first, model=MODEL)
    second = passing_batch(repo, OTHER_MODEL)
    merge_by_rule(repo, second, model=OTHER_MODEL)
    lockfile.rollback_to(repo, lockfile.earlier_version(repo, MODEL).lock, "the other model broke refunds")
    return first


def fits(table: DataTable) -> bool:
    """Every column ends inside the table's visible width (none cut at its edge)."""
    shown = sum(c.get_render_width(table) for c in table.columns.values())
    return shown <= table.scrollable_content_region.width


# ---- 1. Batches: the status line says what is true now -------------------------------------------


async def test_the_batches_note_goes_when_the_selection_changes_or_the_screen_is_left(
        demo_repo: CaseRepo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        status = app.screen.query_one("#batch-status", Static)
        await pilot.press("c")
        await pilot.pause()
        assert "select cases first" in plain(status)
        await pilot.press("o")
        await pilot.pause()
        assert "20 selected" in plain(status) and "select cases first" not in plain(status)
        await pilot.press("n", "c")
        await pilot.pause()
        assert "select cases first" in plain(status)
        await pilot.press("1")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert "select cases first" not in plain(status)


async def test_created_stays_until_the_batches_change_elsewhere(demo_repo: CaseRepo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        status = app.screen.query_one("#batch-status", Static)
        await pilot.press("o", "c")
        await settle(pilot)
        assert await until(pilot, lambda: "created batch/" in plain(status))
        await asyncio.sleep(1.0)  # the watcher sees this screen's own write: that load keeps it
        await settle(pilot)
        assert "created batch/" in plain(status)
        batches.create_batch(demo_repo)  # another terminal takes the rest
        assert await until(pilot, lambda: "· 0 pending free" in plain(status))
        assert "created batch/" not in plain(status)


# ---- 2. Pull request: `t` says why, and asks before tuning a passing batch again ----------------


async def test_t_while_a_tune_runs_says_so(demo_repo: CaseRepo) -> None:
    batch = batches.create_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch.id)
        pr.tuning = True  # as while a tune's worker runs
        pr.refresh_bindings()
        await pilot.press("t")
        await pilot.pause()
        assert any("a tune is running" in m for m in said(app)), said(app)
        pr.tuning = False


async def test_t_on_a_passing_batch_asks_before_tuning_again(demo_repo: CaseRepo,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    batch_id = passing_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch_id)
        started: list[object] = []
        monkeypatch.setattr(pr, "_tune", started.append)  # no real training here
        await pilot.press("t")
        await pilot.pause()
        asked = app.screen
        assert isinstance(asked, Confirm) and "gate passes" in asked.question.plain
        await pilot.press("n")
        await pilot.pause()
        assert not started and not pr.tuning
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert len(started) == 1 and pr.tuning
        pr.tuning = False


# ---- 3. The palette: an action that can run nowhere says so where the user is -------------------


async def test_the_palettes_cancel_tune_with_no_tune_stays_on_cases(demo_repo: CaseRepo) -> None:
    batch_id = passing_batch(demo_repo)
    merge_by_rule(demo_repo, batch_id)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Pull request: Cancel tune")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, CasesScreen)
        assert "no tune is running" in said(app)


# ---- 4. The gate line names the screen's keys -----------------------------------------------------


async def test_the_gate_line_names_keys_not_cli_commands(demo_repo: CaseRepo) -> None:
    first, second = passing_batch(demo_repo), batches.create_batch(demo_repo).id
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, second)
        gate = plain(pr.query_one("#pr-gate", Static))
        assert "press t to tune" in gate and "straw" not in gate
        reports.write_report(demo_repo, second, rule_report(demo_repo, second))
        merge_by_rule(demo_repo, first)  # main moves on: the second's report is stale
        await pilot.press("r")
        await settle(pilot)
        gate = plain(pr.query_one("#pr-gate", Static))
        assert "main moved on; press u to update, then t to tune again" in gate, gate


def test_the_watch_refusal_names_the_f_key() -> None:
    report = {"batch": "2026-01-01-abcd",
              "flips": {"watch": {"negative": [{"id": "c-1", "production": "a", "candidate": "b"}]}}}
    refusal = watch_flips_refusal(report, {"max_watch_negative_flips": 0})
    assert refusal and "--promote" in refusal
    assert "pressing f moves them into pending" in in_keys(refusal) and "straw" not in in_keys(refusal)


# ---- 5, 6. Tables fit the terminal ----------------------------------------------------------------


async def test_at_80x24_monitor_shows_every_version_and_the_tables_fit(demo_repo: CaseRepo) -> None:
    rolled_back(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        versions = app.screen.query_one("#versions-table", DataTable)
        assert versions.row_count == 3
        assert versions.scrollable_content_region.height >= 1 + 3  # header and every version
        assert fits(versions)


async def test_at_80_columns_history_shows_whole_columns(demo_repo: CaseRepo) -> None:
    rolled_back(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        history = app.screen.query_one("#history-table", DataTable)
        assert fits(history)
        assert {"date", "kind", "batch", "baseline", "new"} <= {str(k.value) for k in history.columns}


async def test_at_80_columns_batches_shows_the_input_column(demo_repo: CaseRepo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one("#pending-table", DataTable)
        assert fits(table) and table.columns["input"].get_render_width(table) >= 2 + 20  # type: ignore[index]


@pytest.mark.parametrize("width", [120, 200])
async def test_the_cases_columns_fit_the_table(demo_repo: CaseRepo, width: int) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=(width, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#cases-table", DataTable)
        widths = {str(key.value): column.width for key, column in table.columns.items()}
        assert fits(table) and widths["input"] >= 24
        assert widths.get("tags", 10) >= 10  # whole, or left to the detail pane: never a "t"
        if width == 200:
            assert widths["tags"] == 16 and "match" in widths
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert fits(table) and table.columns["input"].width >= 20  # type: ignore[index]


# ---- 7. A rollback reads the same on Monitor and History ------------------------------------------


async def test_monitor_shows_a_rollbacks_batch_as_its_models_not_as_a_merge(demo_repo: CaseRepo) -> None:
    first = rolled_back(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        versions = app.screen.query_one("#versions-table", DataTable)
        newest = [c.plain for c in versions.get_row_at(0)]
        assert newest[2] == "rollback" and newest[3] == f"({first})", newest
        assert [c.plain for c in versions.get_row_at(2)][3] == first  # the merge itself
        assert f"model of batch {first}" in plain(app.screen.query_one("#monitor-head", Static))
        await pilot.press("4")
        await settle(pilot)
        history = app.screen.query_one("#history-table", DataTable)
        row = dict(zip([str(k.value) for k in history.columns], history.get_row_at(0), strict=True))
        assert row["kind"].plain == "rollback" and row["batch"].plain == "-"
        history.move_cursor(row=0)
        await pilot.press("enter")
        await settle(pilot)
        detail = plain(app.screen.query_one("#history-detail", Static))
        assert "why: the other model broke refunds" in detail  # the rollback's reason


# ---- 8. The pull request list says when it shows open ones only -----------------------------------


async def test_the_open_only_filter_says_it_is_on(demo_repo: CaseRepo) -> None:
    batch_id = passing_batch(demo_repo)
    merge_by_rule(demo_repo, batch_id)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        note = app.screen.query_one("#pulls-note", Static)
        assert "open only" not in plain(note)
        await pilot.press("f")
        await pilot.pause()
        assert app.screen.query_one("#pulls-table", DataTable).row_count == 0
        assert "open only, 0 of 1 shown (f: show all)" in plain(note) and "1 merged" in plain(note)
        await pilot.press("f")
        await pilot.pause()
        assert "open only" not in plain(note)
