"""Show a long text (a PR body, a case's history) with a copy key."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.text import paragraph
from tui.widgets.footer import StrawFooter


class TextView(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "close", "Close", tooltip="Back to where you were"),
        Binding("y", "copy", "Copy", tooltip="Copy the text to the clipboard"),
    ]

    def __init__(self, title: str, text: str | Text) -> None:
        super().__init__()
        self.title_text = title
        self.copy_text = text if isinstance(text, str) else text.plain  # copied as stored
        self.body = text if isinstance(text, Text) else paragraph(text)  # wrapped, then in display order

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Static(Text(self.title_text, style="bold"), classes="question")
            yield Static(self.body, id="text-body")
        yield StrawFooter()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.copy_text)
        self.notify("copied to the clipboard")

    def action_close(self) -> None:
        self.dismiss(None)
