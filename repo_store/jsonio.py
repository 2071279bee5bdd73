"""Parsing the JSON straw reads back.

`loads`: reports of one row per case, ~1 MB at 10,000 cases. orjson (a well-kept Rust-backed
library) parses them in half the time of the json module; json stays the fallback for what orjson
refuses but Python's json writes (NaN, Infinity).

`strict_loads`: files anyone can commit (case files, imported lines). One hostile file must
become one validation error for that file, never an exception that takes the whole repository
down: a lone surrogate (unprintable, unwritable as UTF-8), a 5,000-digit integer (Python refuses
to convert it), a 100,000-deep array (RecursionError), NaN (not JSON) and duplicate keys (which
value wins depends on the reader) are all refused with a one-line reason."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # nesting of arrays/objects: a case needs 4; deeper would strain every consumer
MAX_DIGITS = 100  # of an integer literal: a float's range needs 309, nobody's case needs more
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BadJSON(ValueError):
    """A document straw refuses; `str()` is the one-line reason."""


def loads(raw: bytes) -> Any:
    """Parse UTF-8 JSON bytes. Raises ValueError (json.JSONDecodeError or UnicodeDecodeError)."""
    import orjson  # only where reports are read: the everyday commands never pay for it

    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8"))


def _refuse_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON value")


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise BadJSON(f"an integer of {digits:,} digits (at most {MAX_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadJSON(f"number {text[:20]}{'…' if len(text) > 20 else ''} is out of range")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadJSON(f"duplicate key {key!r}")
            seen.add(key)
    return out


def _depth_and_text(value: Any) -> None:
    """Nesting depth (iterative: the point is to survive what recursion would not) and strings
    that cannot be written as UTF-8 (lone surrogates)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = list(item.keys()) + list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise BadJSON(f"nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def strict_loads(raw: bytes | str) -> Any:
    """Parse a JSON document straw did not write. Raises BadJSON with a one-line reason."""
    try:
        text = raw if isinstance(raw, str) else raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadJSON(f"not UTF-8 text (byte {err.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_refuse_constant,
                           parse_int=_int, parse_float=_float)
    except json.JSONDecodeError as err:
        raise BadJSON(f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except RecursionError:
        raise BadJSON(f"nested more than {MAX_DEPTH} levels deep") from None
    if "[" in text or "{" in text:
        _depth_and_text(value)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise BadJSON("a string holds a lone surrogate (\\ud800-\\udfff): not writable as UTF-8")
    return value
