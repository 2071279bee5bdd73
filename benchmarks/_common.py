"""Shared benchmark helpers: median-of-N wall-clock timing and a plain-text table.

A benchmark is a list of `Row`s: an operation timed against a reference that does the same file
work with plain tools, in the same run, and a target. `run_rows` times each pair (interleaved, so
that drift hits both sides alike) and `print_table` prints

    operation | straw (s) | git reference (s) | ratio | target
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Row:
    name: str
    straw: Callable[[], object]
    reference: Callable[[], object] | None
    target_s: float | None = None  # absolute target for straw, in seconds
    target_ratio: float | None = 2.0  # straw / reference at most
    note: str = ""


@dataclass
class Result:
    row: Row
    straw_s: float
    reference_s: float | None
    straw_runs: list[float] = field(default_factory=list)
    reference_runs: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.reference_s is None or self.reference_s <= 0:
            return None
        return self.straw_s / self.reference_s

    @property
    def target(self) -> str:
        parts = []
        if self.row.target_s is not None:
            parts.append(f"≤ {self.row.target_s:g} s")
        if self.row.target_ratio is not None and self.row.reference is not None:
            parts.append(f"≤ {self.row.target_ratio:g}×")
        return ", ".join(parts) or "-"

    @property
    def met(self) -> bool:
        ok = self.row.target_s is None or self.straw_s <= self.row.target_s
        if self.row.target_ratio is not None and self.ratio is not None:
            ok = ok and self.ratio <= self.row.target_ratio
        return ok


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], runs: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    samples = [timed(fn) for _ in range(runs)]
    return statistics.median(samples), samples


def run_rows(rows: Sequence[Row], runs: int = 5, warmup: int = 1,
             progress: Callable[[str], None] | None = None) -> list[Result]:
    results = []
    for row in rows:
        if progress:
            progress(f"timing {row.name} ({runs} runs)…")
        for _ in range(warmup):
            row.straw()
            if row.reference:
                row.reference()
        straw_runs: list[float] = []
        reference_runs: list[float] = []
        for _ in range(runs):  # interleaved
            straw_runs.append(timed(row.straw))
            if row.reference:
                reference_runs.append(timed(row.reference))
        results.append(Result(
            row, statistics.median(straw_runs),
            statistics.median(reference_runs) if reference_runs else None,
            straw_runs, reference_runs,
        ))
    return results


def format_table(results: Sequence[Result]) -> str:
    header = ["operation", "straw (s)", "git reference (s)", "ratio", "target", "met"]
    lines = [header]
    for r in results:
        lines.append([
            r.row.name,
            f"{r.straw_s:.3f}",
            "-" if r.reference_s is None else f"{r.reference_s:.3f}",
            "-" if r.ratio is None else f"{r.ratio:.2f}×",
            r.target,
            "yes" if r.met else "NO",
        ])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
           for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def print_table(results: Sequence[Result]) -> None:
    print(format_table(results))
