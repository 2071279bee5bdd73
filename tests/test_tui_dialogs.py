"""What a new user's walkthrough of the add/edit form, the reject dialog and help found (Pilot on
real repositories): a broken chat list is refused with the parser's reason, every field's error
shows at once and goes when the field is fixed, errors wrap and name the JSON path, keys typed
right after Tab land in the next field, the reject dialog says why it refuses, the dialogs fit
80 columns, and help lists the screen's own keys first, all of them."""

from __future__ import annotations

import io

from rich.console import Console
from textual import events
from textual.app import App
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static, TextArea
from tui_helpers import open_pull, plain, settle

from repo_store import batches, gitio
from repo_store.repo import open_case_repo
from tui import make_app
from tui.dialogs.case_form import CaseForm
from tui.dialogs.reason import AskText
from tui.screens.cases import CasesScreen
from tui.screens.help import HelpScreen

SIZE = (120, 40)


def burst(app: App, *keys: str) -> None:
    """Post key events the way the driver does when they arrive in one read (tmux send-keys, a
    fast typist): all at once, without waiting for one to be handled before the next."""
    names = {" ": "space", "\t": "tab"}
    chars = {"tab": "\t", "space": " "}
    for key in keys:
        name = names.get(key, key)
        event = events.Key(name, chars.get(name, key if len(key) == 1 else None))
        event.set_sender(app)
        assert app._driver is not None
        app._driver.send_message(event)


async def open_form(pilot) -> CaseForm:  # noqa: ANN001
    await settle(pilot)
    await pilot.press("a")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, CaseForm)
    return form


def error(form: CaseForm, name: str) -> str:
    label = form.query_one(f"#err-{name}", Label)
    return plain(label) if label.has_class("shown") else ""


async def test_a_broken_chat_list_is_refused_and_bracketed_text_says_it_stays_text(demo_repo) -> None:
    before = {c.id for c in demo_repo.load().cases}
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-input", TextArea).text = '[{"role": "user", "content": "hi"'
        form.query_one("#f-expected", Input).value = "billing"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        said = error(form, "input")
        assert "looks like chat messages (a JSON list), but this is not valid JSON" in said
        assert "Expecting ',' delimiter at line 1 column 34" in said
        assert {c.id for c in demo_repo.load().cases} == before  # nothing saved
        form.query_one("#f-input", TextArea).text = "[urgent] card declined twice"
        await pilot.pause()
        assert error(form, "input") == ""  # fixed: the error went as the field changed
        assert "saved as plain text" in plain(form.query_one("#input-reading", Label))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CasesScreen)
    (added,) = [c for c in demo_repo.load().cases if c.id not in before]
    assert added.input == "[urgent] card declined twice"


async def test_a_pretty_printed_chat_list_is_a_chat(demo_repo) -> None:
    before = {c.id for c in demo_repo.load().cases}
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-input", TextArea).text = '[\n {"role": "user", "content": "hi"}\n]'
        form.query_one("#f-expected", Input).value = "billing"
        await pilot.pause()
        assert "saved as chat messages (1)" in plain(form.query_one("#input-reading", Label))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CasesScreen)
    (added,) = [c for c in demo_repo.load().cases if c.id not in before]
    assert added.input == [{"role": "user", "content": "hi"}]


async def test_every_fields_error_shows_at_once_and_goes_when_the_field_is_fixed(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert error(form, "input") == "input cannot be empty"
        assert error(form, "expected") == "give the output the model must produce"
        await pilot.press("h")  # the input has the focus: its error is checked again
        await pilot.pause()
        assert error(form, "input") == ""
        assert error(form, "expected") == "give the output the model must produce"
        form.query_one("#f-expected", Input).value = "billing"
        await pilot.pause()
        assert error(form, "expected") == ""


async def test_errors_wrap_at_80_columns_and_name_the_json_path(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        form.query_one("#f-input", TextArea).text = '[{"role":"wizard","content":5}]'
        form.query_one("#f-match", Select).value = "json"
        form.query_one("#f-expected", Input).value = '{"a": 1,'
        await pilot.press("ctrl+s")
        await settle(pilot)
        said = error(form, "input")
        assert "chat message 1: content must be text, not 5" in said
        assert "chat message 1: must be one of system, user, assistant" in said
        label = form.query_one("#err-expected", Label)
        assert plain(label) == ("not valid JSON for the json rule: Expecting property name enclosed "
                                "in double quotes at line 1 column 9")
        fields = form.query_one("#case-fields", VerticalScroll)
        assert label.size.width <= fields.size.width and label.size.height >= 2  # wrapped, whole


async def test_keys_typed_right_after_tab_land_in_the_next_field(demo_repo) -> None:
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        burst(app, *"x y z", "tab", "tab", *"billing", "tab", *"watch")
        await settle(pilot)
        assert form.query_one("#f-input", TextArea).text == "x y z"
        assert form.query_one("#f-expected", Input).value == "billing"
        assert form.query_one("#f-tags", Input).value == "watch"
        burst(app, "shift+tab", *"_x")  # back to expected (focus selects its text: typing replaces it)
        await settle(pilot)
        assert form.query_one("#f-expected", Input).value == "_x"
        assert form.query_one("#f-tags", Input).value == "watch"


async def test_the_pull_requests_reject_takes_an_empty_reason_as_the_cli_does(demo_repo) -> None:
    batch_id = batches.create_batch(demo_repo).id
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await open_pull(pilot, batch_id)
        await pilot.press("j")
        await pilot.pause()
        assert isinstance(app.screen, AskText)
        await pilot.press("space", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, AskText)
    tag = f"refs/tags/batch-rejected/{batch_id}"
    assert gitio.rev(demo_repo.git, tag)
    assert "no reason given" in gitio.run(demo_repo.git, "tag", "-l", "--format=%(contents)",
                                           f"batch-rejected/{batch_id}")


async def test_the_pull_requests_reject_of_a_batch_rejected_elsewhere_says_so_inline(demo_repo) -> None:
    batch_id = batches.create_batch(demo_repo).id
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await open_pull(pilot, batch_id)
        await pilot.press("j")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AskText)
        batches.reject_batch(open_case_repo(demo_repo.root), batch_id, "from another terminal")
        await pilot.press(*"dup", "enter")
        await settle(pilot)
        assert app.screen is dialog
        said = plain(dialog.query_one("#answer-error", Label))
        assert f"batch {batch_id} was rejected" in said and "esc closes" in said


async def test_a_required_answer_says_why_it_refuses_an_empty_one(demo_repo) -> None:
    app = make_app(demo_repo.root)
    answers: list[str | None] = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(AskText("Why?", required=True), answers.append)
        await pilot.pause()
        dialog = app.screen
        await pilot.press("space", "space", "enter")
        await pilot.pause()
        assert app.screen is dialog and answers == []
        label = dialog.query_one("#answer-error", Label)
        assert label.has_class("shown") and "type something first" in plain(label)
        await pilot.press("x")  # typing clears it
        await pilot.pause()
        assert not label.has_class("shown")


async def test_reject_of_a_batch_rejected_elsewhere_is_refused_in_the_dialog(demo_repo) -> None:
    batch_id = batches.create_batch(demo_repo).id
    answers: list[str | None] = []

    def reject(reason: str) -> str:
        return batches.reject_batch(open_case_repo(demo_repo.root), batch_id, reason)

    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(AskText("Reject?", act=reject), answers.append)
        await pilot.pause()
        dialog = app.screen
        batches.reject_batch(open_case_repo(demo_repo.root), batch_id, "from another terminal")
        await pilot.press(*"dup", "enter")
        await settle(pilot)
        assert app.screen is dialog and answers == []
        said = plain(dialog.query_one("#answer-error", Label))
        assert f"batch {batch_id} was rejected" in said and "esc closes" in said
        await pilot.press("escape")
        await pilot.pause()
    assert answers == [None]


async def test_an_empty_reason_is_accepted_when_not_required(demo_repo) -> None:
    batch_id = batches.create_batch(demo_repo).id
    answers: list[str | None] = []

    def reject(reason: str) -> str:
        return batches.reject_batch(open_case_repo(demo_repo.root), batch_id, reason)

    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(AskText("Reject?", act=reject), answers.append)
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
    assert answers == [f"batch-rejected/{batch_id}"]


async def test_help_and_the_form_fit_80_columns_and_keep_their_width_when_wider(demo_repo) -> None:
    for width, height in ((80, 24), (120, 40), (200, 50)):
        app = make_app(demo_repo.root)
        async with app.run_test(size=(width, height)) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            dialog = app.screen.query_one(".dialog", VerticalScroll)
            assert dialog.region.x >= 0 and dialog.region.right <= width
            assert dialog.region.width == min(100, width)
            await pilot.press("escape")
            form = await open_form(pilot)
            box = form.query_one("#case-form", Vertical)
            assert box.region.x >= 0 and box.region.right <= width
            for button in form.query(Button):  # in view without scrolling
                assert form.region.contains_region(button.region), (width, button.id)


async def test_help_lists_the_screens_own_keys_first_all_of_them(demo_repo) -> None:
    batch_id = batches.create_batch(demo_repo).id  # no report: the gate fails, merge not now
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await open_pull(pilot, batch_id)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=100, file=io.StringIO(), record=True)
        for static in app.screen.query(Static):
            console.print(static.content)
        rows = [line.split() for line in console.export_text().splitlines()]
        keys = [row[0] for row in rows if row]
        text = "\n".join(" ".join(row) for row in rows)
        assert keys.index("esc") < keys.index("t") < keys.index("x") < keys.index("m") < keys.index("f")
        assert "Merge (not now) Merge into main (only when the gate passes; asks first)" in text
        assert "Cancel tune (not now)" in text and "Promote flips (not now)" in text
        assert "q, ^q Quit" in text and "^p Commands" in text
        assert keys.index("f") < keys.index("q,") < keys.index("tab")  # generic navigation last


async def test_a_dialog_at_work_is_not_closed_from_under_its_action(demo_repo) -> None:
    import threading

    release, answers = threading.Event(), list[str | None]()

    def slow(reason: str) -> str:
        release.wait(5)
        return f"done: {reason}"

    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(AskText("Why?", act=slow), answers.append)
        await pilot.pause()
        dialog = app.screen
        await pilot.press(*"dup", "enter")
        await pilot.pause()
        await pilot.press("escape")  # closing now would hide what the action did
        await pilot.pause()
        assert app.screen is dialog
        assert "cannot be stopped now" in plain(dialog.query_one("#answer-error", Label))
        release.set()
        await settle(pilot)
    assert answers == ["done: dup"]
