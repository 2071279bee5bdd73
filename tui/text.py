"""Case values become `rich.text.Text` here, never markup: `[bold]`, `[/]` and `[link=…]` in a
case show literally; control characters (ESC sequences, C0, C1) show escaped. Lines holding
right-to-left script are put in display order (see bidi)."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from repo_store.safe_text import printable
from tui.bidi import fit, visual


def as_string(value: Any) -> str:
    """Any case value as display text, terminal controls escaped (ESC, C0, C1: see safe_text)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return printable("\n".join(f"{m.get('role')}: {m.get('content', '')}" for m in value))
    return printable(json.dumps(value, ensure_ascii=False))


def one_line(value: Any, width: int = 80) -> str:
    line = " ".join(as_string(value).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def cell(value: Any, width: int = 80, style: str = "") -> Text:
    """A table cell: one line in display order, then shortened (a right-to-left line keeps its
    first word, on the right), never parsed as markup."""
    return Text(fit(one_line(value, 4 * width), width), style=style, no_wrap=True, overflow="ellipsis")


def block(value: Any, style: str = "") -> Text:
    """Multi-line text, each line in display order."""
    return Text("\n".join(visual(line) for line in as_string(value).splitlines() or [""]), style=style)


def labelled(pairs: list[tuple[str, Any]]) -> Text:
    """`field: value` lines with the field names styled and the values literal."""
    out = Text()
    for name, value in pairs:
        out.append(f"{name}: ", style="bold")
        out.append_text(block(value))
        out.append("\n")
    return out


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
