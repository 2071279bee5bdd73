"""Bad input in the TUI, driven by Textual's Pilot on real repositories: the case form gets the
library's refusal of a regex that does not compile, and terminal escapes in case text, tags and
ids are shown escaped, never sent to the terminal."""

from __future__ import annotations

from test_tui import SIZE, plain, settle
from textual.widgets import DataTable, Input, Label, Select, Static, TextArea

from repo_store import curation
from tui import make_app
from tui.dialogs.case_form import CaseForm
from tui.screens.cases import CasesScreen
from tui.text import block, cell

ESCAPES = "title \x1b]0;owned\x07 clear \x1b[2J c1 \x9b31m nul \x00 end"


async def test_case_form_shows_the_librarys_refusal_of_a_bad_regex(demo_repo) -> None:
    before = {c.id for c in demo_repo.load().cases}
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CaseForm)
        form.query_one("#f-input", TextArea).text = "order 12 shipped"
        form.query_one("#f-match", Select).value = "regex"
        form.query_one("#f-expected", Input).value = "order (\\d+"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # refused, the draft still open
        error = plain(form.query_one("#err-expected", Label))
        assert "not a valid regular expression: missing )" in error
        form.query_one("#f-expected", Input).value = r"order \d+"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CasesScreen)
    (added,) = [c for c in demo_repo.load().cases if c.id not in before]
    assert added.match == "regex" and added.expected == r"order \d+"


def test_the_one_text_helper_escapes_controls() -> None:
    for shown in (cell(ESCAPES, 200).plain, block(ESCAPES).plain):
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in shown)
        assert "\\u001b]0;owned\\u0007" in shown and "\\u009b31m" in shown and "\\u0000" in shown


async def test_escapes_in_case_text_and_tags_show_escaped_in_the_tui(demo_repo) -> None:
    case = curation.add_case(demo_repo, input=ESCAPES, expected="benign", tags=["t\x1b[31m"])
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("slash", *"owned")
        await pilot.pause()
        table = screen.query_one("#cases-table", DataTable)
        assert table.row_count == 1
        row = " ".join(getattr(v, "plain", str(v)) for v in table.get_row_at(0))
        assert "\\u001b" in row and "\x1b" not in row
        await pilot.press("enter")
        await settle(pilot)
        detail = plain(screen.query_one("#case-detail", Static))
        assert case.id in detail and "\\u001b[2J" in detail and "t\\u001b[31m" in detail
        assert not any(ord(ch) < 32 and ch != "\n" or 0x7F <= ord(ch) <= 0x9F for ch in detail)
