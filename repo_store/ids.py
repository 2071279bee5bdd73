"""Case and batch ids: safe file names that two clones never generate twice (random suffix from
`secrets`, date prefix so that a listing reads in order)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

SAFE_ID = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_case_id() -> str:
    # 64 random bits: 100,000 cases imported on one day collide with odds of about 3 in 10^10
    # (32 bits collided in ~5% of 20,000-line imports)
    return f"c-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(8)}"


def new_batch_id() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d}-{secrets.token_hex(2)}"


def is_safe_id(value: str) -> bool:
    return bool(SAFE_ID.match(value))


def unsafe_id_reason(value: str) -> str:
    if not value:
        return "id is empty"
    if len(value) > 100:
        return f"id is {len(value)} characters long (at most 100)"
    if "/" in value or "\\" in value:
        return f"id {value!r} contains a path separator"
    if ".." in value:
        return f"id {value!r} contains '..'"
    return f"id {value!r} is not a safe file name (letters, digits, '.', '_', '-'; no leading '.')"
