"""Pick a case by searching for it (id, input, expected, tags…) instead of typing its id:
type to filter, up/down to choose, Enter to pick. An id typed in full that the list does not
hold (a case removed long ago) is taken as typed."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from repo_store.cases import Case
from tui.dialogs.picker_base import PickerBase
from tui.index import CaseIndex
from tui.text import cell
from tui.widgets.footer import StrawFooter


class CasePicker(PickerBase):
    SHOWN = 200  # options listed at a time; typing narrows the rest
    BINDINGS = [Binding("enter", "pick", "Pick", tooltip="Show the highlighted case's history",
                        priority=True)]

    def __init__(self, title: str, cases: list[Case]) -> None:
        super().__init__()
        self.title_text = title
        self.index = CaseIndex(list(cases))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="case-picker"):
            yield Static(Text(self.title_text, style="bold"), classes="question")
            yield Input(placeholder="type words of the id, input, expected or tags", id="picker-search")
            yield OptionList(id="picker-options")
            yield Static("", id="picker-note", classes="note")
        yield StrawFooter()

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#picker-search", Input).focus()

    @on(Input.Changed, "#picker-search")
    def _typed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, needle: str) -> None:
        found = self.index.filter("all", needle)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            Option(Text.assemble(cell(c.id, 20, "bold"), "  ", cell(c.split, 8), "  ", cell(c.expected, 16),
                                 "  ", cell(c.text, 44)), id=c.id)
            for c in found[: self.SHOWN])
        if found:
            options.highlighted = 0
        more = f" (first {self.SHOWN} shown: type to narrow)" if len(found) > self.SHOWN else ""
        self.query_one("#picker-note", Static).update(Text(f"{len(found)} matching{more}"))

    def action_pick(self) -> None:
        options = self.query_one(OptionList)
        typed = self.query_one("#picker-search", Input).value.strip()
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
        elif typed:
            self.dismiss(typed)  # not in the list: the history says whether there is such a case
