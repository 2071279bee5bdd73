"""What the two pickers (a case, a word) share: a list the arrow keys move through, a click or
Enter picks, Esc closes with None."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList


class PickerBase(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without picking"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
    ]

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            now = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(options.option_count - 1, now + step))

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
