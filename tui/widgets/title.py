"""The top line of every screen: where you are, and the number key of every other screen
(lazygit numbers its panels the same way), so the footer need not list them. Narrow terminals
get shorter names rather than a cut-off line."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.modes import SCREENS_IN_ORDER

SHORT = {"Pull requests": "PRs"}


def title_text(current: str, detail: str = "", short: bool = False) -> Text:
    out = Text.assemble(("straw · ", "bold"), (detail or current, "bold"), "  ")
    for number, (_, title, _) in enumerate(SCREENS_IN_ORDER, start=1):
        here = title == current
        out.append(f" {number} ", style="reverse bold" if here else "bold")
        out.append(f"{SHORT.get(title, title) if short else title} ", style="bold" if here else "dim")
    return out


class ScreenTitle(Static):
    def __init__(self, current: str, detail: str = "") -> None:
        super().__init__(classes="screen-title")
        self.current, self.detail = current, detail

    def render(self) -> Text:
        width = self.content_size.width or self.app.size.width
        for short, detail in ((False, self.detail), (True, self.detail), (True, "")):
            text = title_text(self.current, detail, short)
            if text.cell_len <= width:
                return text
        return text
