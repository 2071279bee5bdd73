"""Forms and dialogs a new user meets first (issue 16): Esc closes the add/edit form from any of
its fields, a too-small batch names the control on screen, form errors read as words."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input, Label, OptionList, Static
from tui_helpers import plain, settle

from repo_store import batches, schemas
from tui import make_app
from tui.dialogs.case_form import CaseForm
from tui.dialogs.choice_picker import ChoicePicker
from tui.dialogs.confirm import Confirm
from tui.dialogs.form_words import in_words
from tui.screens.cases import CasesScreen

SIZE = (120, 40)


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


async def test_form_errors_read_as_words_and_a_label_is_trimmed(demo_repo) -> None:
    before = {c.id for c in demo_repo.load().cases}
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        await pilot.press(*"how do I top up", "tab", "tab")
        await pilot.press("ctrl+s")  # no expected yet
        await settle(pilot)
        assert app.screen is form
        assert "give the output the model must produce" in plain(form.query_one("#err-expected", Label))
        await pilot.press(*"off_topic ", "ctrl+s")  # the trailing space of issue 16
        await settle(pilot)
        assert isinstance(app.screen, CasesScreen)
    (added,) = [c for c in demo_repo.load().cases if c.id not in before]
    assert added.expected == "off_topic" and added.match == "label"


def test_schema_messages_in_words() -> None:
    doc = {"id": "c-1", "input": [{"role": "bob", "content": "hi"}, {"role": "user"}],
           "expected": "a" * 200, "match": "label", "created": "2026-01-01T00:00:00Z", "author": "a"}
    said = {i.pointer: in_words(i.pointer.split(".")[1].split("[")[0], i)
            for i in schemas.schema_issues("case", doc, "p")}
    assert said["$.expected"].startswith("expected is too long")
    assert said["$.input[0].role"] == "chat message 1: must be one of system, user, assistant"
    assert said["$.input[1]"] == "chat message 2: content is required"
    doc = {**doc, "input": "x", "expected": "off_topic "}
    (issue,) = schemas.schema_issues("case", doc, "p")
    assert in_words("expected", issue) == "a label is one line with no space at its start or end"


async def test_known_labels_are_offered_and_picked(demo_repo) -> None:
    labels = sorted({c.expected for c in demo_repo.load().cases if c.match == "label"})
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert f"{len(labels)} known labels" in plain(form.query_one("#labels-hint", Label))
        await pilot.press(*"my card was charged twice", "tab", "tab", *"zzz")
        await pilot.pause()
        assert "'zzz' is a new label" in plain(form.query_one("#labels-hint", Label))
        await pilot.press("ctrl+l")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ChoicePicker)
        assert picker.query_one(OptionList).option_count == len(labels)
        await pilot.press(*labels[1][:6])
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form
        assert form.query_one("#f-expected", Input).value in labels
        assert form.query_one("#f-expected", Input).value.startswith(labels[1][:6])
