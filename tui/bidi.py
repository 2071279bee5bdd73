"""Right-to-left text for terminals that draw cells left to right (most do, and Textual always
places characters in logical order). python-bidi does the Unicode bidi algorithm; its fast
(Rust) `get_display` does not mirror brackets, so a line that holds a mirrored character goes
through python-bidi's reference implementation, which does (`(מחר)` must not read `)מחר(`).
A line is cut only after it is reordered, on the side where its reading direction ends: a
right-to-left line keeps its right end, where its first word is. The stored text never changes."""

from __future__ import annotations

import re

from bidi import get_base_level, get_display
from bidi.algorithm import MIRRORED
from bidi.algorithm import get_display as get_display_mirrored

RTL_CHARS = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
MIRRORABLE = frozenset(MIRRORED)


def has_rtl(text: str) -> bool:
    return RTL_CHARS.search(text) is not None


def is_rtl(line: str) -> bool:
    """The line reads right to left (its first strong character is RTL)."""
    return has_rtl(line) and get_base_level(line) == 1


def visual(line: str) -> str:
    """The line in display order. Lines without RTL characters come back unchanged."""
    if not has_rtl(line):
        return line
    if MIRRORABLE.isdisjoint(line):
        return get_display(line)
    return get_display_mirrored(line)


def fit(line: str, width: int) -> str:
    """The line in display order, at most `width` cells: a left-to-right line keeps its start
    on the left, a right-to-left one on the right, with `…` where the cut is."""
    shown = visual(line)
    if len(shown) <= width:
        return shown
    if is_rtl(line):
        return "…" + shown[len(shown) - width + 1:]
    return shown[: width - 1] + "…"
