"""TUI speed with 10,000 cases, through Textual's `run_test` (headless, 120x40):

- launch → first painted Cases screen (rows in the table),
- filter as you type: one keystroke in the search box until the table is updated,
- open a pull request with a 20-case diff (gate, report, diff on screen).

Median of RUNS runs (min in brackets), with a reference in the same run: an empty repository for
launch and filter, the demo repository (100 baseline cases) for the pull request.
Usage: .venv/bin/python benchmarks/tui_speed.py [--runs N]"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

for key, value in {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                   "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}.items():
    os.environ.setdefault(key, value)

from repo_store import batches, curation  # noqa: E402
from repo_store.setup import init_case_repo  # noqa: E402
from tui import make_app  # noqa: E402
from tui.screens.pull import PullScreen  # noqa: E402

SIZE = (120, 40)
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


async def launch(path: Path, work: list[float]) -> tuple[float, list[float]]:
    """Seconds to the first painted Cases screen with rows; seconds per keystroke of TYPED."""
    started = time.perf_counter()
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        while not getattr(screen, "loaded", False):
            await asyncio.sleep(0.002)
        await pilot.pause()  # the frame with the rows
        first_paint = time.perf_counter() - started
        await pilot.press("slash")
        keys: list[float] = []
        for char in TYPED:
            t0 = time.perf_counter()
            await pilot.press("space" if char == " " else char)
            await pilot.pause()
            keys.append(time.perf_counter() - t0)
            work.append(screen.last_filter_ms / 1000)
    return first_paint, keys


async def open_pull(path: Path, batch_id: str) -> float:
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        started = time.perf_counter()
        screen = PullScreen(batch_id)
        app.push_screen(screen)
        while screen.info is None:
            await asyncio.sleep(0.002)
        await pilot.pause()
        return time.perf_counter() - started


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
            "launch → first painted Cases": ([], []), "filter, per keystroke": ([], []),
            "  of which filter + table refill": ([], []),
                "open PR with a 20-case diff": ([], [])}
        for _ in range(args.runs):
            for column, path in ((0, big), (1, empty)):
                paint, keys = asyncio.run(launch(path, rows["  of which filter + table refill"][column]))
                rows["launch → first painted Cases"][column].append(paint)
                rows["filter, per keystroke"][column].extend(keys)
            rows["open PR with a 20-case diff"][0].append(asyncio.run(open_pull(big, big_batch)))
            rows["open PR with a 20-case diff"][1].append(asyncio.run(open_pull(demo, demo_batch)))
    print(f"\n| measure (median, min) | {args.cases:,} cases | reference | target |")
    print("|---|---|---|---|")
    targets = ["≤ 1000 ms", "≤ 100 ms", "", "≤ 300 ms"]
    for (name, (big_values, ref_values)), target in zip(rows.items(), targets, strict=True):
        print(f"| {name} | {cell(big_values)} | {cell(ref_values)} | {target} |")
    print("\nreference: an empty repository (launch, filter); the demo repository, 100 baseline cases (PR)")


if __name__ == "__main__":
    main()
