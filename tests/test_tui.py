"""The TUI driven by Textual's Pilot on real case repositories (straw init --demo in temp dirs):
every screen and its actions, through the same `make_app` factory `straw tui` uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_helpers import model_report, rule_report, stored_tiny_model
from textual.widgets import DataTable, Input, Label, Select, Static, TextArea
from tui_helpers import open_pull, plain, settle

from repo_store import batches, curation, gitio, lockfile, reports
from tui import make_app
from tui.bidi import visual
from tui.dialogs.case_form import CaseForm
from tui.dialogs.confirm import Confirm
from tui.dialogs.reason import AskText
from tui.dialogs.text_view import TextView
from tui.index import CaseIndex
from tui.screens.batches import BatchesScreen
from tui.screens.cases import CasesScreen
from tui.screens.help import HelpScreen
from tui.screens.pull import PullScreen
from tui.widgets.case_table import CaseTable

SIZE = (120, 40)
MARKUP = "[bold]not bold[/] [link=https://x.invalid]click[/link] [red]"
HEBREW = "שלום, החשבון שלי ננעל"


@pytest.fixture
def repo(demo_repo):
    return demo_repo


# ---- Cases --------------------------------------------------------------------------------------


async def test_markup_like_and_hebrew_text_render_literally(repo) -> None:
    case = curation.add_case(repo, input=f"{MARKUP} {HEBREW}", expected="account", tags=["[x]"])
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        await pilot.press("slash", *"not bold")
        await pilot.pause()
        table = screen.query_one("#cases-table", DataTable)
        assert table.row_count == 1
        await pilot.press("enter")  # back to the table
        detail = plain(screen.query_one("#case-detail", Static))
        assert "[bold]not bold[/]" in detail and "[link=https://x.invalid]" in detail
        assert visual(HEBREW) in detail  # shown in display order
        assert case.id in detail
        app.save_screenshot(str(Path(repo.root) / "shot.svg"))  # renders without a markup error


async def test_search_and_tag_filter_and_split_tabs(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        table = screen.query_one("#cases-table", DataTable)
        pending = len(repo.load().split("pending"))
        assert table.row_count == pending
        await pilot.press("s")  # → baseline: 100 cases, paged in 60 at a time
        await pilot.pause()
        baseline = len(repo.load().split("baseline"))
        assert screen.split == "baseline" and table.row_count == screen.PAGE < baseline
        assert f"{baseline} matching" in plain(screen.query_one("#cases-note", Static))
        await pilot.press("pagedown", "pagedown")  # the cursor near the end pages the rest in
        await pilot.pause()
        assert table.row_count == baseline
        tag = screen.index.tags()[0]
        screen.query_one("#tag-filter", Select).value = tag
        await pilot.pause()
        shown = [screen.index.get(str(k.value)) for k in table.rows]
        assert all(case is not None and tag in case.tags for case in shown)
        await pilot.press("escape")
        await pilot.pause()
        assert screen.tag is None
        await pilot.press("slash", *"zzzz-nothing")
        await pilot.pause()
        assert table.row_count == 0
        assert "0 matching" in plain(screen.query_one("#cases-note", Static))


async def test_add_with_bad_input_shows_inline_error_and_keeps_the_draft(repo) -> None:
    before = {c.id for c in repo.load().cases}
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, CaseForm)
        form.query_one("#f-input", TextArea).text = "my parcel never arrived " + HEBREW
        form.query_one("#f-match", Select).value = "json"
        form.query_one("#f-expected", Input).value = "{not json"
        form.query_one("#f-tags", Input).value = "shipping"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # still open
        error = form.query_one("#err-expected", Label)
        assert "not valid JSON" in plain(error) and error.has_class("shown")
        # a schema error from the library lands at its field too, in words: a label too long
        form.query_one("#f-match", Select).value = "label"
        form.query_one("#f-expected", Input).value = "shipping" * 20
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        said = plain(form.query_one("#err-expected", Label))
        assert "expected is too long" in said and "$." not in said
        assert form.query_one("#f-input", TextArea).text.startswith("my parcel never arrived")
        form.query_one("#f-expected", Input).value = "shipping"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CasesScreen)
    added = {c.id: c for c in repo.load().cases if c.id not in before}
    (case,) = added.values()
    assert case.expected == "shipping" and case.tags == ["shipping"] and case.split == "pending"


async def test_escape_on_a_changed_form_asks_before_discarding(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        form.query_one("#f-input", TextArea).text = "draft text"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is form and form.query_one("#f-input", TextArea).text == "draft text"


async def test_edit_then_delete_with_confirmation_and_undo(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        first = screen.current_case()
        assert first is not None and first.split == "pending"
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#f-source", Input).value = "ticket ZD-1"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert curation.get_case(repo, first.id).data["source"] == "ticket ZD-1"
        screen.query_one("#cases-table", DataTable).move_cursor(row=0)
        target = screen.current_case()
        assert target is not None
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("n")  # no: nothing happens
        await settle(pilot)
        assert (repo.root / target.path).exists()
        await pilot.press("d", "y")
        await settle(pilot)
        assert not (repo.root / target.path).exists()
        assert screen.index.get(target.id) is None
        await pilot.press("u")
        await settle(pilot)
        assert (repo.root / target.path).exists()
        assert screen.index.get(target.id) is not None


async def test_baseline_cases_cannot_be_edited_from_the_table(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, CasesScreen)  # no confirmation: refused with a message


# ---- Batches, pull requests, history, monitor --------------------------------------------------


async def test_create_a_batch_from_the_oldest_pending_cases(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BatchesScreen)
        assert "a batch holds 10–20 cases" in plain(screen.query_one("#batch-status", Static))
        await pilot.press("space")
        await pilot.pause()
        assert len(screen.selected) == 1
        await pilot.press("c")  # 1 case: below min_size → inline refusal
        await settle(pilot)
        assert "at least 10" in plain(screen.query_one("#batch-status", Static))  # see test_tui_forms
        await pilot.press("o")
        assert len(screen.selected) == 20
        await pilot.press("c")
        await settle(pilot)
    (batch,) = batches.open_batches(repo)
    assert len(batch.cases) == 20


def make_batch(repo, passing: bool = True) -> str:
    batch = batches.create_batch(repo)
    if passing:
        reports.write_report(repo, batch.id, rule_report(repo, batch.id))
    return batch.id


async def test_pull_request_review_and_merge_then_history_and_monitor(repo, tiny_classifier) -> None:
    # the merge reruns the report's model: a real one (random weights), at thresholds 0 on main
    from repo_store.config_set import set_value
    from repo_store.repo import open_case_repo

    for key in ("gate.baseline_threshold", "gate.new_threshold"):
        set_value(repo, key, "0.0")
    repo = open_case_repo(repo.root)
    model, predict_all = stored_tiny_model(repo, tiny_classifier)
    batch_id = batches.create_batch(repo).id
    reports.write_report(repo, batch_id, model_report(repo, batch_id, model, predict_all))
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#pulls-table", DataTable)
        assert table.row_count == 1
        await pilot.press("enter")
        await settle(pilot)
        pr = app.screen
        assert isinstance(pr, PullScreen)
        assert "passes" in plain(pr.query_one("#pr-gate", Static))
        diff = plain(pr.query_one("#pr-diff", Static))
        assert "20 added" in diff
        assert pr.query_one("#pr-report", DataTable).row_count > 20
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, TextView) and batch_id in app.screen.body.plain
        await pilot.press("escape")
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(pilot)
        assert batches.is_merged(repo, batch_id)
        assert "merged" in plain(pr.query_one("#pr-head", Static))
        actions = {b.binding.action for b in pr.active_bindings.values()}
        shown = {a for a in actions if pr.check_action(a, ())}
        assert shown.isdisjoint({"merge", "tune", "update", "reject"}), "a merged batch is closed"
        await pilot.press("escape", "4")
        await settle(pilot)
        history = app.screen.query_one("#history-table", DataTable)
        assert history.row_count >= 2  # bootstrap + this merge
        await pilot.press("enter")
        await settle(pilot)
        detail = plain(app.screen.query_one("#history-detail", Static))
        assert batch_id in detail and "report: baseline" in detail
        await pilot.press("5")
        await settle(pilot)
        head = plain(app.screen.query_one("#monitor-head", Static))
        assert "production: sha256:" in head
        assert lockfile.read_lock(repo) is not None


async def test_merge_is_refused_while_the_gate_fails_and_reject_closes_it(repo) -> None:
    batch_id = make_batch(repo, passing=False)
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        pr = await open_pull(pilot, batch_id)
        assert "no report" in plain(pr.query_one("#pr-gate", Static))
        await pilot.press("m")
        await pilot.pause()
        assert app.screen is pr and not batches.is_merged(repo, batch_id)
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("j")
        await pilot.pause()
        assert isinstance(app.screen, AskText)
        await pilot.press(*"duplicates", "enter")  # the reason is optional, as with `straw reject`
        await settle(pilot)
    assert gitio.rev(repo.git, f"refs/heads/batch/{batch_id}") is None
    assert gitio.rev(repo.git, f"refs/tags/batch-rejected/{batch_id}")


async def test_monitor_without_a_production_model_says_so(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        assert "no production model yet" in plain(app.screen.query_one("#monitor-head", Static))


async def test_help_and_command_palette_list_every_screen_action(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        from tui.commands import StrawCommands

        provider = StrawCommands(app.screen)
        names = [name for name, _, _ in provider._commands()]
        for expected in ("Add", "Batches: Create batch", "Go to Pull requests", "Monitor: Roll back",
                         "History: Case log"):
            assert expected in names
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to History", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "HistoryScreen"


def test_index_filters_on_every_word_casefolded(repo) -> None:
    index = CaseIndex(repo.load().cases)
    some = index.cases[0]
    word = some.text.split()[0]
    assert some in index.filter("all", word.upper())
    assert index.filter("pending", "", None) == [c for c in index.cases if c.split == "pending"]


def test_index_narrowing_a_query_matches_a_fresh_search(repo) -> None:
    cases = repo.load().cases
    typed = CaseIndex(list(cases))
    queries = ["c", "ca", "car", "card", "card ", "card a", "card ar", "car", "", "a", "ac", "ac c"]
    for split in ("all", "baseline"):
        for query in queries:  # typing on, deleting back, starting over: each must equal a fresh index
            fresh = CaseIndex(list(cases)).filter(split, query)
            assert typed.filter(split, query) == fresh, (split, query)
    assert typed.filter("all", "card") != typed.filter("all", "")  # the queries do narrow


async def test_a_cases_history_from_the_cases_and_the_history_screens(repo) -> None:
    case = repo.load().split("pending")[0]
    curation.edit_case(repo, case.id, {"tags": ["history-test"]})
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one(CaseTable).select_id(case.id)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, TextView) and app.screen.title_text == f"History of case {case.id}"
        assert len(app.screen.body.plain.splitlines()) == 2  # added, then edited
        await pilot.press("escape", "4")  # → History: asks for an id
        await settle(pilot)
        await pilot.press("c", *case.id, "enter")
        await settle(pilot)
        assert isinstance(app.screen, TextView) and len(app.screen.body.plain.splitlines()) == 2


async def test_a_keystroke_that_changes_no_match_keeps_the_cursor(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CaseTable)
        await pilot.press("down", "down", "down")
        chosen = table.current_id()
        await pilot.press("slash", "space")  # a space: the same words, the same cases
        await pilot.pause()
        assert table.current_id() == chosen and table.cursor_row == 3
        await pilot.press("z", "z", "z")
        await pilot.pause()
        assert table.row_count == 0


async def test_a_reload_unfreezes_what_the_last_load_froze(repo) -> None:
    """Objects alive at a freeze that later become cyclic garbage (a closed dialog's widgets)
    wait for the next load, which unfreezes and collects them."""
    import asyncio
    import gc
    import weakref

    class Node:
        pass

    gc.unfreeze()  # an earlier test's frozen objects would make the count below say nothing
    cycle = Node()  # made before the app starts: alive at its first freeze, however early that is
    cycle.me = cycle  # type: ignore[attr-defined]
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        await settle(pilot)
        for _ in range(100):  # the freeze follows the painted load by SETTLE_AFTER_S (later under load)
            await asyncio.sleep(screen.SETTLE_AFTER_S)
            if gc.get_freeze_count() > 0:
                break
        assert gc.get_freeze_count() > 0
        gone = weakref.ref(cycle)
        del cycle  # now cyclic garbage, but frozen: the collector skips it
        gc.collect()
        assert gone() is not None
        await pilot.press("r")
        await settle(pilot)
        for _ in range(100):
            await asyncio.sleep(screen.SETTLE_AFTER_S)
            if gone() is None:
                break
        assert gone() is None
    gc.unfreeze()


async def test_select_a_case_beyond_the_first_page(repo) -> None:
    app = make_app(repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("s")
        await pilot.pause()
        table = screen.query_one("#cases-table", CaseTable)
        last = table.matches[-1]
        assert table.row_count < len(table.matches)
        assert table.select_id(last.id) and table.current_id() == last.id
        await pilot.pause()
        assert last.id in plain(screen.query_one("#case-detail", Static))
        await pilot.press("s", "s")  # all: 140 cases; ctrl+end goes to the very last one
        await pilot.pause()
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.row_count == len(table.matches) and table.current_id() == table.matches[-1].id


def test_bidi_reorders_only_right_to_left_runs() -> None:
    assert visual("hello world") == "hello world"
    assert visual("שלום") == "םולש"
    assert visual("order 123 שלום") == "order 123 םולש"
