"""Match rules: does a model's output satisfy a case? Part of the case's contract, so it lives
beside the cases; the engine and the reports call `passes`."""

from __future__ import annotations

import json
import re
from typing import Any

RULES = ("exact", "label", "contains", "regex", "json", "one_of")


def _norm(text: str) -> str:
    return text.strip()


def passes(match: str, expected: Any, predicted: str | None) -> bool:
    if predicted is None:
        return False
    if match == "label":
        return _norm(predicted).casefold() == str(expected).strip().casefold()
    if match == "exact":
        return _norm(predicted) == _norm(str(expected))
    if match == "contains":
        return str(expected) in predicted
    if match == "regex":
        try:
            return re.search(str(expected), predicted) is not None
        except re.error:
            return False
    if match == "one_of":
        return _norm(predicted) in {_norm(str(e)) for e in expected}
    if match == "json":
        try:
            got = json.loads(predicted)
        except (json.JSONDecodeError, TypeError):
            return False
        want = json.loads(expected) if isinstance(expected, str) else expected
        return got == want
    raise ValueError(f"unknown match rule {match!r} (known: {', '.join(RULES)})")


def label_of(expected: Any) -> str:
    """The class name a classifier must predict for a case (label/exact rules)."""
    return str(expected).strip()
