"""Ask for one line of text (a rejection reason, a case id). With `act`, the dialog runs the
library call itself (in a thread worker) and stays open with the refusal shown under the field,
e.g. a batch rejected from another terminal meanwhile; it dismisses with what `act` returned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from repo_store.errors import StrawError
from tui.widgets.footer import StrawFooter


class AskText(ModalScreen[str | None]):
    DEFAULT_CSS = """
    AskText .dialog { max-width: 100%; }
    AskText #answer-error { width: 100%; }
    """
    BINDINGS = [
        Binding("enter", "submit", "OK", tooltip="Use what you typed"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without doing anything"),
    ]

    @dataclass
    class Done(Message):
        result: str

    @dataclass
    class Refused(Message):
        reason: str

    def __init__(self, question: str, placeholder: str = "", required: bool = False,
                 act: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.question, self.placeholder, self.required = question, placeholder, required
        self.act = act
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question", markup=False)
            yield Input(placeholder=self.placeholder, id="answer")
            yield Label("", id="answer-error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("OK (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield StrawFooter()

    def _say(self, text: str) -> None:
        label = self.query_one("#answer-error", Label)
        label.update(Text(text))
        label.set_class(bool(text), "shown")  # .field-error is hidden until shown

    def _submit(self) -> None:
        if self.busy:
            return
        value = self.query_one("#answer", Input).value.strip()
        if self.required and not value:
            self._say("type something first (esc cancels)")
            return
        if self.act is None:
            self.dismiss(value)
            return
        self.busy = True
        self._say("working…")
        self._run(value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ask-text")
    def _run(self, value: str) -> None:
        assert self.act is not None
        try:
            done = self.act(value)
        except StrawError as err:
            self.post_message(self.Refused(str(err)))
        except Exception as err:  # a bug: said here too, so the dialog is not stuck on "working…"
            self.post_message(self.Refused(f"straw failed: {err!r}"))
            raise
        else:
            self.post_message(self.Done(done))

    @on(Done)
    def _done(self, event: Done) -> None:
        self.dismiss(event.result)

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.busy = False
        self._say(f"{event.reason} · esc closes")

    @on(Input.Changed, "#answer")
    def _typed(self) -> None:
        if not self.busy:
            self._say("")

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def action_submit(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        if self.busy:  # `act` is running and cannot be called back: closing would hide its result
            self._say("working… (it cannot be stopped now)")
            return
        self.dismiss(None)
