"""Parsing the large JSON straw reads back: reports of one row per case, ~1 MB at 10,000 cases.
orjson (a well-kept Rust-backed library) parses them in half the time of the json module; json
stays the fallback for what orjson refuses but Python's json writes (NaN, Infinity)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(raw: bytes) -> Any:
    """Parse UTF-8 JSON bytes. Raises ValueError (json.JSONDecodeError or UnicodeDecodeError)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8"))
