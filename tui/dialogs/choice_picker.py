"""Pick one of a list of words (a known label): type to narrow, Enter picks, Esc closes."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.dialogs.picker_base import PickerBase
from tui.text import cell
from tui.widgets.footer import StrawFooter


class ChoicePicker(PickerBase):
    BINDINGS = [Binding("enter", "pick", "Pick", tooltip="Take the highlighted one", priority=True)]

    def __init__(self, title: str, choices: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="choice-picker"):
            yield Static(Text(self.title_text, style="bold"), classes="question")
            yield Input(placeholder="type to narrow", id="choice-search")
            yield OptionList(id="choice-options")
        yield StrawFooter()

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    @on(Input.Changed, "#choice-search")
    def _typed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, needle: str) -> None:
        words = needle.casefold().split()
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(Option(cell(c, 60), id=c) for c in self.choices
                            if all(w in c.casefold() for w in words))
        if options.option_count:
            options.highlighted = 0

    def action_pick(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
