"""Ask for one line of text (a rejection reason, a case id)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.widgets.footer import StrawFooter


class AskText(ModalScreen[str | None]):
    BINDINGS = [
        Binding("enter", "submit", "OK", tooltip="Use what you typed"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without doing anything"),
    ]

    def __init__(self, question: str, placeholder: str = "", required: bool = False) -> None:
        super().__init__()
        self.question, self.placeholder, self.required = question, placeholder, required

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question", markup=False)
            yield Input(placeholder=self.placeholder, id="answer")
            yield Label("", id="answer-error", classes="field-error")
            with Horizontal(classes="buttons"):
                yield Button("OK (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield StrawFooter()

    def _submit(self) -> None:
        value = self.query_one("#answer", Input).value.strip()
        if self.required and not value:
            self.query_one("#answer-error", Label).update("required")
            return
        self.dismiss(value)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def action_submit(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
