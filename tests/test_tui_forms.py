"""Forms and dialogs a new user meets first (issue 16): Esc closes the add/edit form from any of
its fields, a too-small batch names the control on screen, form errors read as words."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Static

from repo_store import batches
from tui import make_app
from tui.dialogs.case_form import CaseForm
from tui.dialogs.confirm import Confirm
from tui.screens.cases import CasesScreen

SIZE = (120, 40)


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def plain(widget: Static) -> str:
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))


@pytest.mark.parametrize("field", ["f-input", "f-match", "f-expected", "f-tags", "f-source", "f-notes"])
async def test_escape_in_any_field_closes_an_unchanged_form(demo_repo, field: str) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")  # edit the first pending case
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CaseForm)
        form.query_one(f"#{field}").focus()
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CasesScreen)


async def test_escape_in_a_typed_input_asks_then_closes(demo_repo) -> None:
    before = {c.id for c in demo_repo.load().cases}
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"my card", "tab", "tab", *"card")  # typed into input, then expected
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, CasesScreen)
    assert {c.id for c in demo_repo.load().cases} == before


async def test_a_too_small_batch_names_the_checkbox_and_the_checkbox_allows_it(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        await pilot.press("space", "c")
        await settle(pilot)
        status = plain(screen.query_one("#batch-status", Static))
        assert "at least 10" in status and "allow fewer than min_size" in status
        assert "--allow-small" not in status
        assert batches.open_batches(demo_repo) == []
        await pilot.press("a")
        assert screen.query_one("#allow-small", Checkbox).value
        await pilot.press("c")
        await settle(pilot)
    (batch,) = batches.open_batches(demo_repo)
    assert len(batch.cases) == 1
