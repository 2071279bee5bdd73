"""Add or edit a pending case. Before saving, the form checks the draft with the library's own
schema (so every field's fault shows at once); saving runs the library call in a thread worker.
A fault is an `Issue` whose JSON pointer (`$.expected`, `$.tags[1]`) picks the field that shows
the message; a shown message is checked again whenever its field changes. The form stays open
with the user's text until a save succeeds or the user discards the draft (after a confirmation)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from repo_store import curation, jsonio, matching, schemas
from repo_store.cases import Case
from repo_store.errors import Issue, StrawError, ValidationFailed
from tui.bidi import has_rtl
from tui.dialogs.choice_picker import ChoicePicker
from tui.dialogs.form_words import in_words
from tui.text import block
from tui.widgets.footer import StrawFooter

MATCH_RULES = ["label", "exact", "contains", "regex", "json", "one_of"]
PLACEHOLDERS = {  # the expected field's, as the selected rule reads it (parse_expected)
    "label": "expected label, e.g. billing",
    "exact": "the exact answer expected",
    "contains": "text the answer must contain",
    "regex": "regular expression the answer must match",
    "json": 'expected JSON, e.g. {"intent": "refund"}',
    "one_of": "any one of: a | b | c",
}
FIELDS = ("input", "expected", "match", "tags", "source", "notes")
PREVIEWED = ("input", "expected", "tags", "source", "notes")  # free text that may be right-to-left
POINTER = re.compile(r"^\$\.?([A-Za-z_]+)?")
# `[` then `{`: the start of chat messages (a JSON list of {role, content}); other text, even one
# starting with `[` ("[urgent] card declined"), is plain text, as `straw add --input` keeps it
CHAT = re.compile(r"^\s*\[\s*\{")
# what the schema needs besides the form's fields, for checking a new case before it has them
DRAFT = {"id": "draft", "created": "2000-01-01T00:00:00Z", "author": "you"}

Saver = Callable[[dict[str, Any]], Case]


def field_of(issue: Issue) -> str:
    """The form field an issue belongs to (`general` when it names none of them)."""
    match = POINTER.match(issue.pointer)
    name = match.group(1) if match else None
    if name in FIELDS:
        return name
    quoted = re.match(r"^'(\w+)' is a required property", issue.message)
    if quoted and quoted.group(1) in FIELDS:
        return quoted.group(1)
    return "general"


def format_expected(match: str, value: Any) -> str:
    if match == "one_of" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " | ".join(value)
    if isinstance(value, str) and match != "json":
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_input(text: str, was_chat: bool) -> Any:
    """Chat messages when the text starts as a JSON list of objects (or the case was a chat),
    parsed as `straw import` parses them; any other text as it is. Raises ValueError."""
    if not (was_chat or CHAT.match(text)):
        return text
    try:
        return jsonio.strict_loads(text)
    except jsonio.BadJSON as err:
        reason = str(err).removeprefix("malformed JSON: ")
        said = ("looks like chat messages (a JSON list)" if CHAT.match(text)
                else "this case's input is chat messages: give them as a JSON list")
        raise ValueError(f"{said}, but this is not valid JSON: {reason}") from None


def input_reading(text: str, was_chat: bool) -> str:
    """How a text starting with `[` will be saved, said under the field so that it is never a
    surprise; empty for other text (and for chat text that does not parse: the error says it)."""
    if not text.lstrip().startswith("["):
        return ""
    try:
        value = parse_input(text, was_chat)
    except ValueError:
        return ""
    if isinstance(value, str):
        return "saved as plain text: chat messages start with [{"
    return f"saved as chat messages ({len(value)})" if isinstance(value, list) else ""


class CaseForm(ModalScreen[Case | None]):
    """Dismisses with the saved case, or None when the user discards the form."""

    DEFAULT_CSS = """
    CaseForm #case-form { max-width: 100%; }  /* 80 columns: the 100-wide dialog fits */
    CaseForm #case-fields { height: 1fr; }  /* the fields scroll, the buttons stay in view */
    CaseForm Label { width: 100%; }  /* long errors and hints wrap instead of being cut */
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Validate and commit the case", priority=True),
        Binding("escape", "discard", "Close", tooltip="Close the form (asks first if you changed it)"),
        Binding("ctrl+l", "pick_label", "Pick label", tooltip="Pick the expected label from those cases use",
                priority=True),
        # Tab moves focus while the app dispatches keys: as the app's own (non-priority) binding
        # it runs only after the focused field handled the key, by which time keys typed right
        # after it (tmux, a paste-speed typist) are queued to the old field ("billingwatch").
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    @dataclass
    class Saved(Message):
        case: Case

    @dataclass
    class Failed(Message):
        issues: list[Issue]
        message: str

    def __init__(self, save: Saver, case: Case | None = None, labels: list[str] | None = None,
                 split: str = "pending") -> None:
        super().__init__()
        self.split = split  # where the case lives (pending or watch): named in the title
        self.save_with = save
        self.case = case
        self.labels = labels or []  # the labels cases use now, offered for `expected`
        self.saving = False
        self._initial: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        case = self.case
        data = case.data if case else {}
        match = data.get("match", "label")
        title = f"Edit {self.split} case {case.id}" if case else f"Add a {self.split} case"
        with Vertical(classes="dialog wide", id="case-form"):
            yield Static(Text(title, style="bold"), classes="question")
            yield from self._fields_of(data, match)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary")
                yield Button("Close (esc)", id="close")
        yield StrawFooter()

    def _fields_of(self, data: dict[str, Any], match: str) -> ComposeResult:
        with VerticalScroll(id="case-fields"):
            yield Label("", id="err-general", classes="field-error")
            yield Label("Input (text, or chat messages as a JSON list)")
            raw_input = data.get("input", "")
            shown_input = (raw_input if isinstance(raw_input, str)
                           else json.dumps(raw_input, ensure_ascii=False, indent=1))
            yield TextArea(shown_input, id="f-input", soft_wrap=True, show_line_numbers=False)
            yield Label("", id="input-reading", classes="note")
            yield Label("", id="shown-input", classes="bidi-preview")
            yield Label("", id="err-input", classes="field-error")
            with Horizontal(classes="row"):
                yield Select([(m, m) for m in MATCH_RULES], value=match, allow_blank=False, id="f-match")
                yield Input(format_expected(match, data["expected"]) if "expected" in data else "",
                            placeholder=PLACEHOLDERS.get(match, "expected"), id="f-expected",
                            suggester=SuggestFromList(self.labels, case_sensitive=False))
            yield Label("", id="shown-expected", classes="bidi-preview")
            yield Label("", id="labels-hint", classes="note")
            yield Label("", id="err-match", classes="field-error")
            yield Label("", id="err-expected", classes="field-error")
            yield Input(", ".join(data.get("tags", [])), placeholder="tags, comma separated", id="f-tags")
            yield Label("", id="shown-tags", classes="bidi-preview")
            yield Label("", id="err-tags", classes="field-error")
            yield Input(data.get("source", ""), placeholder="source: who reported it, ticket", id="f-source")
            yield Label("", id="shown-source", classes="bidi-preview")
            yield Label("", id="err-source", classes="field-error")
            yield Label("Notes")
            yield TextArea(data.get("notes", ""), id="f-notes", soft_wrap=True)
            yield Label("", id="shown-notes", classes="bidi-preview")
            yield Label("", id="err-notes", classes="field-error")

    def on_mount(self) -> None:
        self._initial = self.draft()
        for name in PREVIEWED:
            self._preview(name)
        self._label_hint()
        self._input_reading()
        self.query_one("#f-input", TextArea).focus()

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _text_changed(self, event: Input.Changed | TextArea.Changed) -> None:
        name = (event.control.id or "").removeprefix("f-")
        if name in PREVIEWED:
            self._preview(name)
        if name == "expected":
            self._label_hint()
        if name == "input":
            self._input_reading()
        self._recheck(name)

    @on(Select.Changed, "#f-match")
    def _rule_changed(self, event: Select.Changed) -> None:
        self.query_one("#f-expected", Input).placeholder = PLACEHOLDERS.get(str(event.value), "expected")
        self._label_hint()
        self._recheck("match", "expected")

    def _was_chat(self) -> bool:
        return bool(self.case and not isinstance(self.case.input, str))

    def _input_reading(self) -> None:
        reading = input_reading(self.query_one("#f-input", TextArea).text, self._was_chat())
        label = self.query_one("#input-reading", Label)
        label.update(reading)
        label.display = bool(reading)

    def _label_hint(self) -> None:
        """Under `expected` for the label rule: how to pick a known label, or that this one is new."""
        hint = self.query_one("#labels-hint", Label)
        if self.query_one("#f-match", Select).value != "label" or not self.labels:
            hint.update("")
            return
        typed = self.query_one("#f-expected", Input).value.strip()
        if typed and typed not in self.labels:
            hint.update(Text.assemble((f"'{typed}' is a new label", "yellow"), ": no case uses it yet · "
                                      f"ctrl+l picks one of {len(self.labels)} known"))
        else:
            hint.update(f"{len(self.labels)} known labels: ctrl+l picks one, → takes the suggestion")

    def action_pick_label(self) -> None:
        def picked(label: str | None) -> None:
            if label:
                self.query_one("#f-match", Select).value = "label"
                field = self.query_one("#f-expected", Input)
                field.value = label
                field.focus()

        self.app.push_screen(ChoicePicker("Pick the expected label", self.labels), picked)

    def _preview(self, name: str) -> None:
        """Fields edit in logical order (the cursor needs it); right-to-left text is shown once
        more below its field the way the tables show it."""
        field = self.query_one(f"#f-{name}")
        text = field.text if isinstance(field, TextArea) else field.value  # type: ignore[attr-defined]
        label = self.query_one(f"#shown-{name}", Label)
        rtl = has_rtl(text)
        label.update(Text.assemble(("reads: ", "dim"), block(text)) if rtl else Text(""))
        label.set_class(rtl, "shown")

    def draft(self) -> dict[str, Any]:
        """The form's raw text, field by field (what must survive a failed save)."""
        return {
            "input": self.query_one("#f-input", TextArea).text,
            "expected": self.query_one("#f-expected", Input).value,
            "match": self.query_one("#f-match", Select).value,
            "tags": self.query_one("#f-tags", Input).value,
            "source": self.query_one("#f-source", Input).value,
            "notes": self.query_one("#f-notes", TextArea).text,
        }

    def _check(self) -> tuple[dict[str, Any], list[Issue]]:
        """The draft as case fields, and every fault the form can find without saving: its own
        parsing, then the library's schema and regex checks on the fields that parsed."""
        raw = self.draft()
        issues = []
        value: dict[str, Any] = {"match": raw["match"]}
        try:
            value["input"] = parse_input(raw["input"], self._was_chat())
        except ValueError as err:
            issues.append(Issue("form", "$.input", str(err)))
        expected = raw["expected"].strip() if raw["match"] == "label" else raw["expected"]  # a stray space
        if not expected.strip():
            issues.append(Issue("form", "$.expected", "give the output the model must produce"))
        else:
            try:
                value["expected"] = curation.parse_expected(raw["match"], expected)
            except ValueError as err:
                issues.append(Issue("form", "$.expected", str(err)))
        value["tags"] = list(dict.fromkeys(t.strip() for t in raw["tags"].split(",") if t.strip()))
        value["source"] = raw["source"].strip() or None
        value["notes"] = raw["notes"] if raw["notes"].strip() else None
        failed = {field_of(issue) for issue in issues}
        # a field that did not parse gets a stand-in the schema accepts: which faults jsonschema
        # reports for the other fields depends on all of them
        stand_in = {"input": "x", "expected": {"json": 0, "one_of": ["x"]}.get(raw["match"], "x")}
        doc = {**(self.case.data if self.case else DRAFT), **value,
               **{k: v for k, v in stand_in.items() if k in failed}}
        doc = {k: v for k, v in doc.items() if v is not None}
        issues += [i for i in schemas.schema_issues("case", doc, "form") if field_of(i) not in failed]
        if doc["match"] == "regex" and "expected" not in failed:  # as `straw add` checks it
            reason = matching.pattern_issue(doc["expected"])
            issues += [Issue("form", "$.expected", reason)] if reason else []
        return value, issues

    def _show(self, name: str, lines: list[str]) -> None:
        label = self.query_one(f"#err-{name}", Label)
        label.update(Text("\n".join(lines)))
        label.set_class(bool(lines), "shown")

    def _recheck(self, *names: str) -> None:
        """A field's shown error is checked again as the field changes (gone once it is fixed)."""
        shown = [n for n in names if n in FIELDS and self.query_one(f"#err-{n}", Label).has_class("shown")]
        if shown:
            issues = self._check()[1]
            for name in shown:
                self._show(name, [in_words(name, i) for i in issues if field_of(i) == name])

    def show_issues(self, issues: list[Issue], message: str = "") -> None:
        by_field: dict[str, list[str]] = {}
        for issue in issues:
            name = field_of(issue)
            by_field.setdefault(name, []).append(in_words(name, issue))
        if message and not issues:
            by_field.setdefault("general", []).append(message)
        for name in ("general", *FIELDS):
            self._show(name, by_field.get(name, []))
        first = next((n for n in FIELDS if n in by_field), None)
        if first:
            self.query_one(f"#f-{first}").focus()

    def action_save(self) -> None:
        if self.saving:
            return
        fields, issues = self._check()
        if issues:
            self.show_issues(issues)
            return
        self.saving = True
        self.query_one("#err-general", Label).update("saving…")
        self._save(fields)

    @work(thread=True, exclusive=True, exit_on_error=False, group="case-form")
    def _save(self, fields: dict[str, Any]) -> None:
        try:
            case = self.save_with(fields)
        except ValidationFailed as err:
            self.post_message(self.Failed(err.issues, str(err)))
        except StrawError as err:
            self.post_message(self.Failed([], str(err)))
        else:
            self.post_message(self.Saved(case))

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        self.saving = False
        self.dismiss(event.case)

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        self.saving = False
        self.show_issues(event.issues, event.message)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_discard()

    def changed(self) -> bool:
        return self._initial is not None and self.draft() != self._initial

    def action_discard(self) -> None:
        if not self.changed():
            self.dismiss(None)
            return
        from tui.dialogs.confirm import Confirm

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        question = "Discard this draft? What you typed is lost."
        self.app.push_screen(Confirm(question, "Discard", "Keep editing"), answered)
