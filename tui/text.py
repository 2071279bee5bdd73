"""Case values become `rich.text.Text` here, never markup: `[bold]`, `[/]` and `[link=…]` in a
case show literally; control characters (ESC sequences, C0, C1) show escaped. Lines holding
right-to-left script are put in display order (see bidi)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.containers import Lines
from rich.text import Text

from repo_store.safe_text import printable
from tui.bidi import fit, has_rtl, visual

if TYPE_CHECKING:
    from rich.console import Console, JustifyMethod, OverflowMethod


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
    """Multi-line text, each line in display order, for composing into other text: a line
    longer than its widget wraps after reordering (see BidiText for text shown on its own)."""
    return Text("\n".join(visual(line) for line in as_string(value).splitlines() or [""]), style=style)


class BidiText(Text):
    """Text kept in logical order that is wrapped at the width it is drawn in first and put in
    display order line by line after. Reordering first and letting the widget wrap puts the end
    of a right-to-left sentence on its first line. Textual draws a plain `Text` through its own
    wrapping (Content); `visualize` hands this one to Rich, whose wrap is the one below."""

    def visualize(self) -> Text:
        return self  # a Rich renderable, not a Textual Visual: Textual draws it with Rich

    def wrap(self, console: Console, width: int, *, justify: JustifyMethod | None = None,
             overflow: OverflowMethod | None = None, tab_size: int = 8,
             no_wrap: bool | None = None) -> Lines:
        lines = super().wrap(console, width, justify=justify, overflow=overflow, tab_size=tab_size,
                             no_wrap=no_wrap)
        return Lines(in_display_order(line) for line in lines)


def paragraph(value: Any, style: str = "") -> BidiText:
    """Multi-line text shown on its own (not composed into other text): wrapped, then each
    line in display order."""
    return BidiText(as_string(value), style=style)


def in_display_order(line: Text) -> Text:
    """One wrapped line reordered; a style span is kept where its characters did not move (a
    field name before a right-to-left value), dropped where they did."""
    if not has_rtl(line.plain):
        line.rstrip()  # as Textual's own wrapping leaves it
        return line
    logical = line.plain.rstrip()  # the space a line broke at would lead the reordered line
    shown = visual(logical)
    out = Text(shown, style=line.style, end=line.end, no_wrap=True)
    for span in line.spans:
        if span.end <= len(logical) and logical[span.start:span.end] == shown[span.start:span.end]:
            out.spans.append(span)
    return out


def labelled(pairs: list[tuple[str, Any]]) -> BidiText:
    """`field: value` lines with the field names styled and the values literal, in logical order
    (BidiText wraps, then reorders)."""
    out = BidiText()
    for name, value in pairs:
        out.append(f"{name}: ", style="bold")
        out.append(as_string(value))
        out.append("\n")
    return out


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
