"""Text from files anyone can commit, made safe to print on a terminal. A case's input, tags or
id (or a commit subject made from them) may hold ESC sequences that retitle the window (ESC]0;…BEL),
clear the screen (ESC[2J) or worse, and C1 controls (U+0080-U+009F) that some terminals obey like
ESC. Every face prints such text through `printable`, which writes each control character as the
escape JSON uses (`\\u001b`), the way `straw show` shows it."""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; \t and \n are kept unless the caller asks otherwise
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ALL_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def printable(text: str, keep_lines: bool = True) -> str:
    """`text` with every control character written as `\\uXXXX` (tab and newline kept when
    `keep_lines`). Plain text is returned as it is, at the cost of one regex scan."""
    pattern = _CONTROLS if keep_lines else _ALL_CONTROLS
    return pattern.sub(_escape, text) if pattern.search(text) else text
