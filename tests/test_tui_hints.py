"""Hints that must say what is true: a merged pull request's Tune tab and the palette's "Pull
request: Tune" say it cannot be tuned (no "press t"); the add form's expected placeholder follows
the match rule; the Pull requests list keeps its gate column readable at 120 columns."""

from __future__ import annotations

from report_helpers import merge_by_rule, rule_report
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, ProgressBar, Select, Static, TabbedContent
from tui_helpers import open_pull, plain, settle

from repo_store import batches, reports
from tui import make_app
from tui.dialogs.case_form import CaseForm

SIZE = (120, 40)


def merged_batch(repo) -> str:  # noqa: ANN001
    batch = batches.create_batch(repo)
    reports.write_report(repo, batch.id, rule_report(repo, batch.id))
    merge_by_rule(repo, batch.id)
    return batch.id


async def test_a_merged_pull_request_says_it_cannot_be_tuned(demo_repo) -> None:
    batch_id = merged_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_pull(pilot, batch_id)
        status = plain(screen.query_one("#tune-status", Static))
        assert "press t" not in status and "merged: it cannot be tuned" in status
        assert not screen.query_one(ProgressBar).display  # no empty 0 % bar for a tune that cannot run
        assert "press t" not in plain(screen.query_one("#pr-flips-summary", Static))
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Pull request: Tune")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and not screen.tuning
        assert screen.query_one(TabbedContent).active == "tab-tune"  # where the line says why
        said = [n.message for n in app._notifications]
        assert any("merged: it cannot be tuned" in m for m in said), said


async def test_the_palette_tune_opens_a_merged_pull_request_and_says_why(demo_repo) -> None:
    merged_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Pull request: Tune")
        await pilot.pause(0.3)
        await pilot.press("enter")
        for _ in range(20):
            await settle(pilot)
            if any("cannot be tuned" in n.message for n in app._notifications):
                break
        assert any("merged: it cannot be tuned" in n.message for n in app._notifications)


async def test_the_expected_placeholder_follows_the_match_rule(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CaseForm)
        expected = form.query_one("#f-expected", Input)
        assert form.query_one("#f-match", Select).value == "label"
        assert "one_of" not in expected.placeholder and "label" in expected.placeholder
        form.query_one("#f-match", Select).value = "one_of"
        await pilot.pause()
        assert "a | b | c" in expected.placeholder
        form.query_one("#f-match", Select).value = "regex"
        await pilot.pause()
        assert "regular expression" in expected.placeholder


async def test_at_120_columns_the_pull_requests_gate_column_is_readable(demo_repo) -> None:
    batch_id = merged_batch(demo_repo)
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#pulls-table", DataTable)
        columns = list(table.columns.values())
        assert str(columns[-1].label) == "gate"
        before = sum(c.get_render_width(table) for c in columns[:-1])
        assert table.region.width - before >= 30  # the header and 30 cells of the reason show
        assert table.get_row(batch_id)[-1].plain == "merged into main"
        await pilot.resize_terminal(200, 40)
        await settle(pilot)
        gate = list(table.columns.values())[-1]
        assert gate.width > 60 and table.row_count == 1  # the room goes to the gate; rows kept
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        columns = list(table.columns.values())
        shown = sum(c.get_render_width(table) for c in columns)
        assert shown <= table.scrollable_content_region.width  # none cut at the edge at 80x24
        assert str(columns[-1].label) == "gate" and columns[-1].width >= 24
