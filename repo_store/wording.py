"""Counted nouns for messages both faces print ("1 case", "2 cases")."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count noun`, with `many` (default noun + "s") unless count is 1."""
    return f"{count} {noun}" if count == 1 else f"{count} {many or noun + 's'}"
