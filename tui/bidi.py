"""Right-to-left text for terminals that draw cells left to right (most do, and Textual always
places characters in logical order). `visual()` reorders one line for display with a reduced
Unicode bidi algorithm: strong RTL/LTR runs, neutrals resolved from their neighbours, digits kept
left-to-right, brackets mirrored inside RTL runs. The stored text is never changed."""

from __future__ import annotations

import re
import unicodedata

RTL_CHARS = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
MIRROR = str.maketrans("()[]{}<>«»", ")(][}{><»«")


def has_rtl(text: str) -> bool:
    return RTL_CHARS.search(text) is not None


def _strength(char: str) -> str:
    kind = unicodedata.bidirectional(char)
    if kind in ("R", "AL"):
        return "R"
    if kind in ("L",):
        return "L"
    if kind in ("EN", "AN"):
        return "N#"  # numbers: left-to-right inside, placed like a neutral run
    return "N"


def visual(line: str) -> str:
    """The line in display order. Lines without RTL characters come back unchanged."""
    if not has_rtl(line):
        return line
    kinds = [_strength(c) for c in line]
    first = next((k for k in kinds if k in ("R", "L")), "L")
    base = 1 if first == "R" else 0
    levels: list[int] = []
    for index, kind in enumerate(kinds):
        if kind == "R":
            levels.append(1)
        elif kind == "L":
            levels.append(2 if base else 0)
        else:
            before = next((k for k in reversed(kinds[:index]) if k in ("R", "L")), None)
            after = next((k for k in kinds[index + 1:] if k in ("R", "L")), None)
            if kind == "N#":  # digits read left to right: one level above an RTL context
                around = "R" if "R" in (before, after) or base else "L"
                levels.append(2 if around == "R" else 0)
            elif before == after and before is not None:
                levels.append(1 if before == "R" else (2 if base else 0))
            else:
                levels.append(base)
    chars = list(line)
    for index, level in enumerate(levels):
        if level % 2:
            chars[index] = chars[index].translate(MIRROR)
    top = max(levels)
    lowest_odd = 1
    for level in range(top, lowest_odd - 1, -1):
        index = 0
        while index < len(chars):
            if levels[index] >= level:
                end = index
                while end < len(chars) and levels[end] >= level:
                    end += 1
                chars[index:end] = chars[index:end][::-1]
                levels[index:end] = levels[index:end][::-1]
                index = end
            else:
                index += 1
    return "".join(chars)
