"""Finding one's way (issue 16): `q` quits, dialogs show their keys, the footer fits at 80, 120
and 140 columns on every screen, the command palette lists every straw action of every screen
and none of the widgets' internals, and at 80x24 the Cases table keeps its input column."""

from __future__ import annotations

import pytest
from report_helpers import model_report, rule_report, stored_tiny_model
from textual.command import CommandPalette
from textual.widgets import DataTable, Input
from textual.widgets._footer import FooterKey
from tui_helpers import settle

from repo_store import batches, reports
from tui import make_app
from tui.commands import StrawCommands
from tui.dialogs.confirm import Confirm
from tui.screens.pull import PullScreen
from tui.widgets.footer import StrawFooter


def passing_batch(repo) -> str:
    batch = batches.create_batch(repo)
    reports.write_report(repo, batch.id, rule_report(repo, batch.id))
    return batch.id


def footer_keys(screen) -> list[FooterKey]:
    return list(screen.query_one(StrawFooter).query(FooterKey))


def assert_footer_fits(screen, width: int) -> None:
    footer = screen.query_one(StrawFooter)
    keys = footer_keys(screen)
    assert keys, type(screen).__name__
    assert footer.max_scroll_x == 0, f"{type(screen).__name__} at {width}: footer overflows"
    for key in keys:
        assert key.region.right <= width, f"{type(screen).__name__} at {width}: {key.description} cut"


@pytest.mark.parametrize("width", [80, 120, 140])
async def test_the_footer_fits_on_every_screen(demo_repo, width: int) -> None:
    batch_id = passing_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(pilot)
        for key in "12345":
            await pilot.press(key)
            await settle(pilot)
            await pilot.pause()
            assert_footer_fits(app.screen, width)
            actions = {k.action for k in footer_keys(app.screen)}
            assert {"app.help", "app.quit_app"} <= actions or {"help", "quit_app"} <= actions, actions
        app.push_screen(PullScreen(batch_id))
        await settle(pilot)
        await pilot.pause()
        assert_footer_fits(app.screen, width)
        await pilot.press("m")  # the merge question: a dialog that shows its keys
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.pause()
        assert_footer_fits(app.screen, width)
        assert {"y", "n"} <= {k.key for k in footer_keys(app.screen)}


async def test_q_quits(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0 and app._exit  # exiting, nothing asked


async def test_q_in_the_search_box_types_a_q(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "q")
        await pilot.pause()
        assert app.return_code is None
        assert app.screen.query_one("#search", Input).value == "q"


async def test_the_palette_lists_every_straw_action_and_no_widget_internals(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        names = [name for name, _, _ in StrawCommands(app.screen)._commands()]
        for expected in ("Add", "Search", "Go to Monitor", "Batches: Create batch", "Batches: Allow small",
                         "Pull requests: Open", "Pull request: Tune", "Pull request: Merge",
                         "Pull request: Reject", "Monitor: Roll back", "History: Case log", "Help", "Quit"):
            assert expected in names
        internals = [n for n in names if "Cursor" in n or "Page" in n or n.startswith(("Scroll", "Select"))]
        assert internals == []


async def test_merge_from_the_palette_on_the_cases_screen(demo_repo, tiny_classifier) -> None:
    # the merge reruns the report's model: a real one (random weights), at thresholds 0 on main
    from repo_store.config_set import set_value
    from repo_store.repo import open_case_repo

    for key in ("gate.baseline_threshold", "gate.new_threshold"):
        set_value(demo_repo, key, "0.0")
    demo_repo = open_case_repo(demo_repo.root)
    model, predict_all = stored_tiny_model(demo_repo, tiny_classifier)
    batch_id = batches.create_batch(demo_repo).id
    reports.write_report(demo_repo, batch_id, model_report(demo_repo, batch_id, model, predict_all))
    app = make_app(demo_repo.root)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"merge")
        await pilot.pause(0.3)
        await pilot.press("enter")
        for _ in range(40):
            await settle(pilot)
            if isinstance(app.screen, Confirm):
                break
        assert isinstance(app.screen, Confirm)
        assert isinstance(app.screen_stack[-2], PullScreen) and app.screen_stack[-2].batch_id == batch_id
        await pilot.press("y")
        await settle(pilot)
    assert batches.is_merged(demo_repo, batch_id)


async def test_at_80x24_the_cases_table_keeps_its_input_column(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#cases-table", DataTable)
        detail = app.screen.query_one("#case-detail")
        before = sum(c.get_render_width(table) for c in list(table.columns.values())[:3])
        assert table.region.width - before >= 20  # at least 20 columns of the input show
        assert detail.region.y > table.region.y  # the detail went below, not beside
        assert table.row_count > 0


async def test_q_with_an_unsaved_form_asks_first(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        await pilot.press(*"a draft q")  # in a text field q is text
        assert app.screen is form
        await pilot.press("ctrl+q")  # quits from anywhere
        await pilot.pause()
        assert isinstance(app.screen, Confirm) and "not saved" in app.screen.question.plain
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is form and not app._exit
