"""The progress protocol the CLI and the TUI both consume: `tune_batch(progress=callable)` calls
the callable with one of these small events. A consumer ignores the kinds it does not know."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """A named step outside training: "loading", "validating", "saving", "reporting"."""

    name: str
    detail: str = ""


@dataclass(frozen=True)
class RoundStarted:
    round: int
    max_rounds: int
    steps: int  # optimizer steps this round will take


@dataclass(frozen=True)
class Step:
    step: int  # 1-based, within the round
    total: int
    loss: float | None


@dataclass(frozen=True)
class RoundDone:
    round: int
    loss: float | None
    baseline_pass: float
    new_pass: float
    seconds: float


@dataclass(frozen=True)
class Predicted:
    """Validation or eval progress: `done` of `total` cases predicted (cache hits count at once)."""

    done: int
    total: int


@dataclass(frozen=True)
class Saved:
    hash: str


Event = Phase | RoundStarted | Step | RoundDone | Predicted | Saved
Progress = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default consumer."""
