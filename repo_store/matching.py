"""Match rules: does a model's output satisfy a case? Part of the case's contract, so it lives
beside the cases; the engine and the reports call `passes`.

`regex` rules run on the `regex` package (a well-kept superset of `re`) because it takes a
`timeout`: a committed pattern such as `^(a|a)*$` backtracks exponentially and would hang a
tune on `re`. A match that runs out of time fails the case and is logged; a pattern that does
not compile is refused when the case is written or validated (`pattern_issue`)."""

from __future__ import annotations

import functools
import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import regex

logger = logging.getLogger(__name__)
MATCH_TIMEOUT_S = 1.0  # per prediction; a sane pattern takes microseconds

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
        return _regex_search(str(expected), predicted)
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


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> regex.Pattern[str] | None:
    import regex  # ~18 ms: only where a regex rule is matched or checked

    try:
        return regex.compile(pattern)
    except (regex.error, ValueError, OverflowError, RecursionError):
        return None


def _regex_search(pattern: str, predicted: str) -> bool:
    compiled = _compiled(pattern)
    if compiled is None:
        return False
    try:
        return compiled.search(predicted, timeout=MATCH_TIMEOUT_S) is not None
    except TimeoutError:
        logger.warning("regex %r gave up after %.1f s on a %d-character prediction: counted as a "
                       "failure", pattern[:60], MATCH_TIMEOUT_S, len(predicted))
        return False


def pattern_issue(pattern: Any) -> str | None:
    """Why `pattern` cannot be a regex rule's expected value, or None when it compiles."""
    if not isinstance(pattern, str):
        return None  # the schema names the type
    import regex

    try:
        regex.compile(pattern)
    except regex.error as err:
        return f"not a valid regular expression: {err}"
    except (ValueError, OverflowError, RecursionError) as err:
        return f"not a valid regular expression: {str(err)[:100]}"
    return None
