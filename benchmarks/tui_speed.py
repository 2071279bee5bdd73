"""TUI speed with 10,000 cases, through Textual's `run_test` (headless, 120x40):

- launch → the first painted Cases screen with its rows,
- filter as you type: one keystroke in the search box → the painted frame with the new rows,
- open a pull request with a 20-case diff → the painted frame with gate, report and diff.

"Painted" is timed by a frame clock: `App._display`, the one place a finished frame goes to the
terminal, records the time and turns the frame into terminal bytes as a real driver would (the
headless driver would skip that work). Pilot's own waits are not the latency: `pilot.press`
sleeps at least 2 × 20 ms for idleness after each key (a bare Textual app with one Input
measures ~63 ms per press that way), so we time key → frame instead of the press round trip.

Median of RUNS runs (min in brackets), with a reference in the same run: an empty repository for
launch and filter, the demo repository (100 baseline cases) for the pull request.
Usage: .venv/bin/python benchmarks/tui_speed.py [--runs N] [--cases N]"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

for key, value in {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                   "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}.items():
    os.environ.setdefault(key, value)

from textual._compositor import CompositorUpdate  # noqa: E402
from textual.widgets import Input  # noqa: E402

from repo_store import batches, curation  # noqa: E402
from repo_store.setup import init_case_repo  # noqa: E402
from tui import make_app  # noqa: E402
from tui.app import StrawApp  # noqa: E402
from tui.screens.cases import CasesScreen  # noqa: E402
from tui.screens.pull import PullScreen  # noqa: E402

SIZE = (120, 40)
SETTLE = "one-off pause after the first paint (heap settle)"
TYPED = "topic 4"


def build(root: Path, pending: int, demo: bool) -> Path:
    repo, _ = init_case_repo(root, demo=demo)
    if pending:
        records = [curation.new_case_data(
            repo, input=f"customer message {i} about topic {i % 97}: order {i * 7919 % 100000}",
            expected=f"label{i % 7}", tags=[f"t{i % 5}"], case_id=f"c-bench-{i:05d}",
            created=f"2026-01-01T00:{i // 600 % 60:02d}:{i % 60:02d}Z") for i in range(pending)]
        curation.add_cases(repo, records, f"{pending} benchmark cases")
    return repo.root


class FrameClock:
    """Times every frame the app sends to the terminal, with a snapshot of `probe()` taken then."""

    def __init__(self, app: StrawApp, probe: Any) -> None:
        self.frames: list[tuple[float, Any]] = []
        self.bytes = 0
        shown = app._display

        def display(screen: Any, renderable: Any) -> None:
            shown(screen, renderable)
            if renderable is None:
                return
            if isinstance(renderable, CompositorUpdate):  # what a real driver writes
                self.bytes += len(renderable.render_segments(app.console))
            self.frames.append((time.perf_counter(), probe()))

        app._display = display  # type: ignore[method-assign]

    async def first(self, after: float, ready: Any = bool) -> float:
        """Time of the first frame after `after` whose probe satisfies `ready`."""
        while True:
            for at, seen in self.frames:
                if at > after and ready(seen):
                    return at
            await asyncio.sleep(0.001)


async def launch(path: Path, ours: list[float], settled: list[float]) -> tuple[float, list[float]]:
    """Seconds to the first painted Cases screen with rows; seconds from each key of TYPED to its frame."""
    started = time.perf_counter()
    app = make_app(path)
    filtered = {"at": 0.0}
    clock = FrameClock(app, lambda: (getattr(app.screen, "loaded", False), filtered["at"]))
    settle = app.settle_heap

    def timed_settle() -> None:
        t0 = time.perf_counter()
        settle()
        settled.append(time.perf_counter() - t0)

    app.settle_heap = timed_settle  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        first_paint = await clock.first(started, lambda seen: seen[0]) - started
        screen = app.screen
        assert isinstance(screen, CasesScreen)
        refilter = screen.refilter

        def timed_refilter() -> None:
            refilter()
            filtered["at"] = time.perf_counter()

        screen.refilter = timed_refilter  # type: ignore[method-assign]
        await pilot.pause()  # a person reads the screen before typing: let start-up work finish
        await pilot.press("slash")
        await pilot.pause()
        keys: list[float] = []
        for char in TYPED:
            sent = time.perf_counter()
            await pilot.press("space" if char == " " else char)
            keys.append(await clock.first(sent, lambda seen, sent=sent: seen[1] > sent) - sent)
            ours.append(screen.last_filter_ms / 1000)
        assert screen.query_one("#search", Input).value == TYPED
    return first_paint, keys


async def open_pull(path: Path, batch_id: str) -> float:
    app = make_app(path)
    clock = FrameClock(app, lambda: isinstance(app.screen, PullScreen) and app.screen.info is not None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        started = time.perf_counter()
        app.push_screen(PullScreen(batch_id))
        return await clock.first(started) - started


def cell(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.0f} ms ({min(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        big = build(Path(tmp) / "big", args.cases, demo=True)
        empty = build(Path(tmp) / "empty", 0, demo=False)
        demo = build(Path(tmp) / "demo", 0, demo=True)
        from repo_store.repo import open_case_repo

        big_batch = batches.create_batch(open_case_repo(big)).id
        demo_batch = batches.create_batch(open_case_repo(demo)).id
        print(f"built repositories in {time.perf_counter() - t0:.1f}s; {args.runs} runs each")
        rows: dict[str, tuple[list[float], list[float]]] = {
            "launch → first painted Cases": ([], []), "keystroke → painted filtered rows": ([], []),
            "  of which filter + table refill": ([], []),
            SETTLE: ([], []),
            "open PR with a 20-case diff → painted": ([], [])}
        for _ in range(args.runs):
            for column, path in ((0, big), (1, empty)):
                gc.collect()  # each run starts clean, not collecting the previous app's 10,000 cases
                paint, keys = asyncio.run(launch(path, rows["  of which filter + table refill"][column],
                                                 rows[SETTLE][column]))
                rows["launch → first painted Cases"][column].append(paint)
                rows["keystroke → painted filtered rows"][column].extend(keys)
            for column, (path, batch_id) in ((0, (big, big_batch)), (1, (demo, demo_batch))):
                gc.collect()
                rows["open PR with a 20-case diff → painted"][column].append(
                    asyncio.run(open_pull(path, batch_id)))
    print(f"\n| measure (median, min) | {args.cases:,} cases | reference | target |")
    print("|---|---|---|---|")
    targets = ["≤ 1000 ms", "≤ 100 ms", "", "", "≤ 300 ms"]
    for (name, (big_values, ref_values)), target in zip(rows.items(), targets, strict=True):
        print(f"| {name} | {cell(big_values)} | {cell(ref_values)} | {target} |")
    print("\nreference: an empty repository (launch, filter); the demo repository, 100 baseline cases (PR)")


if __name__ == "__main__":
    main()
