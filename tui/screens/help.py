"""`?`: every key of the screen below, with what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.widgets.footer import StrawFooter


def bindings_table(screen: Screen) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", expand=True)
    table.add_column("key", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("what it does")
    seen = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.action in seen or not binding.description:
            continue
        seen.add(binding.action)
        shown = binding.key_display or screen.app.get_key_display(binding)
        table.add_row(Text(shown), Text(binding.description), Text(binding.tooltip or ""))
    table.add_row(Text("ctrl+p"), Text("Commands"), Text("The command palette: every action by name"))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", tooltip="Back")]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            title = getattr(self.below, "HELP_TITLE", type(self.below).__name__)
            yield Static(Text(f"Help — {title}", style="bold"), classes="question")
            intro = getattr(self.below, "HELP", "")
            if intro:
                yield Static(Text(intro))
            yield Static(bindings_table(self.below))
        yield StrawFooter()

    def action_close(self) -> None:
        self.dismiss(None)
