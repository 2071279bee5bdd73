"""Right-to-left text (issue 16): python-bidi reorders, brackets mirror, numbers read right, a
line is cut after reordering so a Hebrew input keeps its first word; forms and the case log
show display order too. And History's case log: a picker, and "no such case" for a wrong id."""

from __future__ import annotations

from textual.widgets import Label, OptionList
from tui_helpers import plain, settle

from repo_store import curation
from tui import make_app
from tui.bidi import fit, visual
from tui.dialogs.case_picker import CasePicker
from tui.dialogs.text_view import TextView
from tui.widgets.case_table import CaseTable

SIZE = (120, 40)
FIRST = "שלום"
LONG_HEBREW = FIRST + " " + " ".join(["החשבון שלי ננעל אחרי שלושה ניסיונות"] * 4)


def test_bidi_reorders_mirrors_and_keeps_numbers() -> None:
    assert visual("hello (world) 12:30") == "hello (world) 12:30"
    assert visual(FIRST) == FIRST[::-1]
    assert visual("order 123 " + FIRST) == "order 123 " + FIRST[::-1]
    shown = visual("הפגישה ב-12:30 (מחר)")
    assert "12:30" in shown and "30:12" not in shown
    assert shown.startswith("(" + "מחר"[::-1] + ")")  # mirrored: it reads (מחר), not )מחר(


def test_a_right_to_left_line_is_cut_on_its_left_keeping_its_first_word() -> None:
    shown = fit(LONG_HEBREW, 30)
    assert len(shown) == 30
    assert shown.startswith("…") and shown.endswith(FIRST[::-1])
    assert fit("hello " + FIRST + " and more words here", 12) == "hello " + FIRST[::-1] + " …"


async def test_the_cases_table_keeps_a_hebrew_inputs_first_word(demo_repo) -> None:
    case = curation.add_case(demo_repo, input=LONG_HEBREW, expected="account_locked")
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CaseTable)
        assert table.select_id(case.id)
        shown = table.get_cell(case.id, "input").plain
        assert shown.endswith(FIRST[::-1]) and shown.startswith("…")
        # and the column ends inside the table: the first word is on screen, not beyond its edge
        columns = list(table.columns.values())
        right_edge = sum(c.get_render_width(table) for c in columns[:4])
        assert right_edge <= table.scrollable_content_region.width


async def test_the_form_and_the_case_log_show_display_order(demo_repo) -> None:
    case = curation.add_case(demo_repo, input=f"{FIRST} ב-12:30", expected="greeting")
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one(CaseTable).select_id(case.id)
        await pilot.press("e")
        await pilot.pause()
        preview = app.screen.query_one("#shown-input", Label)
        assert preview.has_class("shown")
        assert visual(f"{FIRST} ב-12:30") in plain(preview) and "12:30" in plain(preview)
        assert not app.screen.query_one("#shown-expected", Label).has_class("shown")  # latin: no preview
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("l")
        await settle(pilot)
        view = app.screen
        assert isinstance(view, TextView)
        drawn = "\n".join(line.plain for line in view.body.wrap(app.console, SIZE[0]))  # as Rich draws it
        assert FIRST[::-1] in drawn and FIRST not in drawn
        assert FIRST in view.copy_text  # copied as stored


async def test_history_picks_a_case_from_a_list_and_says_no_such_case(demo_repo) -> None:
    case = curation.add_case(demo_repo, input="a parcel lost in the warehouse fire", expected="shipping")
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, CasePicker)
        assert picker.query_one(OptionList).option_count > 100  # every case, no id to type
        await pilot.press(*"warehouse fire")
        await pilot.pause()
        assert picker.query_one(OptionList).option_count == 1
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TextView) and app.screen.title_text == f"History of case {case.id}"
        await pilot.press("escape", "c")
        await settle(pilot)
        await pilot.press(*"c-20990101-deadbeef", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, TextView)
        messages = [n.message for n in app._notifications]
        assert "no such case: c-20990101-deadbeef" in messages
        assert not any("no commits" in m for m in messages)


LONG = ("אני צריך עזרה דחופה עם החשבון שלי כי הכרטיס נחסם אתמול בערב ואני לא מצליח לשלם בשום "
        "מקום בבקשה תעזרו לי")


def test_a_wrapped_right_to_left_paragraph_is_wrapped_first_and_reordered_after() -> None:
    from rich.console import Console

    from tui.text import labelled

    shown = labelled([("input", LONG)]).wrap(Console(width=40), 40)
    lines = [line.plain for line in shown if line.plain]  # labelled ends each field with "\n"
    assert len(lines) >= 3 and all(len(line) <= 40 for line in lines)
    words = LONG.split()
    # read right to left, the first line starts the sentence and the last ends it
    assert lines[0].startswith("input: ") and visual(" ".join(words[:3])) in lines[0]
    assert visual(" ".join(words[-2:])) in lines[-1]
    assert not any(line.startswith(" ") for line in lines)  # the break's space is not moved
    assert shown[0].spans and shown[0].spans[0].style == "bold"  # the field name keeps its style


async def test_the_case_detail_shows_a_long_hebrew_input_in_reading_order(demo_repo) -> None:
    case = curation.add_case(demo_repo, input=LONG, expected="account")
    app = make_app(demo_repo.root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"עזרה")
        await settle(pilot)
        await pilot.press("enter")
        widget = app.screen.query_one("#case-detail")
        drawn = [strip.text.strip("│ ") for strip in widget.render_lines(widget.outer_size.region)]
        assert any(case.id in line for line in drawn), drawn
        at = next(i for i, line in enumerate(drawn) if line.startswith("input: "))
        assert visual("אני צריך עזרה") in drawn[at]  # before: the sentence's end came first
        assert visual("תעזרו לי") in drawn[at + 1] + drawn[at + 2] + drawn[at + 3]
