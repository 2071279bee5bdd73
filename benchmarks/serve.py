"""Serving benchmark: `python benchmarks/serve.py [--seconds 60] [--clients 16] [--monitor-cases 10000]`.

Loopback only, bounded in time. On the embedded MiniLM (a classifier head imprinted from the demo
baseline; serving cost does not depend on how well it was trained) it prints one table:

 1. `straw serve` (a subprocess) under --clients concurrent clients for --seconds: requests/s
    and p50/p95/p99 latency, against two references measured in the same run: a loop calling
    `transformers.pipeline("text-classification")` one input at a time (what a user would write)
    and the engine's own batched predict in process (the limit these cores allow).
    Targets: ≥ 2× the one-at-a-time loop, ≥ 70% of the batched limit.
 2. p99 latency with requests arriving at half of the measured maximum rate (target ≤ 250 ms).
 3. three models.lock commits during a --seconds run (a merge, a rollback, a merge): failed
    requests (target 0) and seconds from each commit to the first answer naming the new hash
    (target ≤ 5 s).
 4. `straw monitor` over HTTP against `straw serve` vs the in-process monitor, on the demo
    baseline and on a baseline of --monitor-cases cases.

The clients run in this process and share the CPU with the server: on a 2-core machine the
figures include their cost."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
IDENTITY = {"GIT_AUTHOR_NAME": "straw bench", "GIT_AUTHOR_EMAIL": "bench@straw.invalid",
            "GIT_COMMITTER_NAME": "straw bench", "GIT_COMMITTER_EMAIL": "bench@straw.invalid"}
os.environ.update(IDENTITY)

if TYPE_CHECKING:
    from tuning.backends.base import Input


def progress(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# -- set-up --------------------------------------------------------------------------------------
def build_repo(folder: Path):
    """The demo repository with three embedded-MiniLM models in its store (heads imprinted from
    different slices of the baseline, so their hashes differ); the first is production."""
    from repo_store import lockfile
    from repo_store.ids import now_iso
    from repo_store.setup import init_case_repo
    from tuning import backends
    from tuning.backends.base import settings_from_config
    from tuning.cases_io import examples_of
    from tuning.model_store import ModelStore

    repo, _ = init_case_repo(folder, demo=True)
    baseline = repo.load_ref("main").split("baseline")
    model_s, train_s = settings_from_config(repo.config)
    store = ModelStore(repo.model_store)
    hashes = []
    for part in (slice(None), slice(0, None, 2), slice(1, None, 2)):
        backend = backends.create(model_s, train_s)
        backend.load(model_s.base)
        examples = examples_of(baseline, backend.name)
        backend.prepare(examples[part])
        hashes.append(store.save(backend, {"base": model_s.base, "created": now_iso(),
                                           "max_length": model_s.max_length}))
    lock = {"model": hashes[0], "backend": "classifier", "base": model_s.base, "batch": None,
            "promoted": now_iso(), "reason": "bootstrap"}
    lockfile.commit_lock(repo, lock, "bench: first production model\n")
    return repo, hashes, [c.input for c in baseline]


def start_server(root: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    straw = Path(sys.executable).parent / "straw"
    proc = subprocess.Popen([str(straw), "serve", "--port", "0", "--repo", str(root), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None  # both piped
    line = proc.stdout.readline()
    if "serving" not in line:
        raise SystemExit(f"straw serve did not start: {line}{proc.stderr.read()}")
    return proc, line.split(" on ", 1)[1].split()[0]


# -- HTTP load -----------------------------------------------------------------------------------
async def closed_loop(url: str, inputs: list[str], clients: int, seconds: float,
                      during=None) -> dict:  # noqa: ANN001
    """`clients` clients, each sending its next request when the last one answered."""
    import httpx

    latencies: list[float] = []
    answers: list[tuple[float, str]] = []  # (time answered, model)
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        async def one_client(k: int) -> None:
            n = k
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    r = await client.post("/v1/completions", json={"prompt": inputs[n % len(inputs)]})
                    if r.status_code != 200:
                        failures.append(f"HTTP {r.status_code}")
                        continue
                    answers.append((time.monotonic(), r.json()["model"]))
                    latencies.append(time.monotonic() - started)
                except httpx.HTTPError as err:
                    failures.append(type(err).__name__)
                n += clients

        tasks = [asyncio.create_task(one_client(k)) for k in range(clients)]
        if during is not None:
            await during()
        await asyncio.gather(*tasks)
    return {"rate": len(latencies) / seconds, "latencies": latencies, "answers": answers,
            "failures": failures}


async def open_loop(url: str, inputs: list[str], rate: float, seconds: float) -> dict:
    """Requests sent at a fixed `rate`, whatever the answers do."""
    import httpx

    latencies: list[float] = []
    failures = 0
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 limits=httpx.Limits(max_connections=256)) as client:
        async def one(n: int) -> None:
            nonlocal failures
            started = time.monotonic()
            r = await client.post("/v1/completions", json={"prompt": inputs[n % len(inputs)]})
            if r.status_code == 200:
                latencies.append(time.monotonic() - started)
            else:
                failures += 1

        tasks = []
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"latencies": latencies, "failures": failures}


# -- references ----------------------------------------------------------------------------------
def pipeline_rate(folder: Path, inputs: list[str], seconds: float) -> float:
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(folder), tokenizer=str(folder), device="cpu")
    classify(inputs[0])
    done, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        classify(inputs[done % len(inputs)])
        done += 1
    return done / (time.monotonic() - start)


def batched_rate(repo, model: str, inputs: list[Input], runs: int = 3) -> tuple[float, int]:  # noqa: ANN001
    """The engine's batched predict, 512 inputs, with the best torch thread count (the limit)."""
    import torch

    from tuning.serve.model import load_model

    backend = load_model(repo.model_store, repo.config, model).backend
    backend.predict(inputs[:8])
    work = (inputs * max(1, 512 // len(inputs)))[:512]
    default = torch.get_num_threads()
    best = (0.0, default)
    for threads in sorted({1, default}):
        torch.set_num_threads(threads)
        rates = []
        for _ in range(runs):
            start = time.monotonic()
            backend.predict(work)
            rates.append(len(work) / (time.monotonic() - start))
        best = max(best, (statistics.median(rates), threads))
    torch.set_num_threads(default)
    return best


# -- monitor -------------------------------------------------------------------------------------
def grow_baseline(repo, size: int) -> None:  # noqa: ANN001
    """Commit `size` baseline cases on main (plumbing; the monitor only reads them)."""
    from repo_store import gitio

    cases = repo.load_ref("main").split("baseline")
    files = {}
    for n in range(size - len(cases)):
        c = cases[n % len(cases)]
        case_id = f"c-20261203-{n:08x}"
        files[f"cases/baseline/{case_id}.json"] = (json.dumps(
            {"id": case_id, "input": f"{c.input} (#{n})", "expected": c.expected, "match": c.match,
             "tags": [], "source": "bench", "created": "2026-12-03T00:00:00Z",
             "author": "straw bench <bench@straw.invalid>", "meta": {}}, indent=2) + "\n").encode()
    head = gitio.rev(repo.git, "refs/heads/main")
    gitio.commit_to_branch(repo.git, "main", files, f"bench: {size} baseline cases\n", start=head)


def time_monitor(root: Path, url: str | None, clients: int) -> tuple[float, str]:
    from repo_store.repo import open_case_repo
    from tuning.endpoint import EndpointSettings
    from tuning.monitor import run_monitor

    repo = open_case_repo(root)
    endpoint = EndpointSettings(url, concurrency=clients, timeout_s=60) if url else None
    start = time.monotonic()
    result = run_monitor(repo, threshold=0.0, rollback=False, endpoint=endpoint)
    return time.monotonic() - start, f"{result.passed}/{result.total} {result.action}"


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each HTTP run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--monitor-cases", type=int, default=10_000)
    args = parser.parse_args()

    from repo_store import lockfile
    from repo_store.ids import now_iso
    from tuning.model_store import ModelStore

    rows: list[tuple[str, str, str, str]] = []  # (measure, figure, target, met)
    with tempfile.TemporaryDirectory(prefix="straw-bench-serve-") as tmp:
        progress("building the demo repository and three models")
        repo, hashes, inputs = build_repo(Path(tmp) / "repo")
        folder = ModelStore(repo.model_store).load(hashes[0])

        progress(f"reference: pipeline one input at a time ({args.seconds / 3:.0f} s)")
        one_at_a_time = pipeline_rate(folder, inputs, args.seconds / 3)
        progress("reference: batched predict in process")
        batched, batched_threads = batched_rate(repo, hashes[0], inputs)

        proc, url = start_server(repo.root)
        try:
            asyncio.run(closed_loop(url, inputs, args.clients, 3))  # warm-up
            progress(f"straw serve: {args.clients} clients for {args.seconds:.0f} s")
            load = asyncio.run(closed_loop(url, inputs, args.clients, args.seconds))
            lat = load["latencies"]
            rate = load["rate"]
            rows += [
                ("pipeline one at a time (inputs/s)", f"{one_at_a_time:.1f}", "reference", ""),
                (f"engine batched predict in process, {batched_threads} thread(s) (inputs/s)",
                 f"{batched:.1f}", "reference", ""),
                (f"straw serve, {args.clients} clients (requests/s)", f"{rate:.1f}",
                 f"≥ {2 * one_at_a_time:.1f} (2×) and ≥ {0.7 * batched:.1f} (70%)",
                 "yes" if rate >= 2 * one_at_a_time and rate >= 0.7 * batched else "NO"),
                ("  vs one at a time / vs batched", f"{rate / one_at_a_time:.2f}× / {rate / batched:.0%}",
                 "≥ 2× / ≥ 70%", ""),
                ("  latency p50 / p95 / p99 (ms)",
                 " / ".join(f"{1000 * percentile(lat, q):.0f}" for q in (50, 95, 99)), "", ""),
                ("  failed requests", str(len(load["failures"])), "0",
                 "yes" if not load["failures"] else "NO"),
            ]
            progress(f"half of the maximum rate ({rate / 2:.0f}/s) for {args.seconds:.0f} s")
            half = asyncio.run(open_loop(url, inputs, rate / 2, args.seconds))
            p99 = 1000 * percentile(half["latencies"], 99)
            rows.append((f"p99 at {rate / 2:.0f} requests/s (ms)", f"{p99:.0f}", "≤ 250",
                         "yes" if p99 <= 250 and not half["failures"] else "NO"))

            progress(f"three swaps during a {args.seconds:.0f} s run")
            commits: list[tuple[float, str]] = []

            async def swaps() -> None:
                gap = args.seconds / 4
                for n, target in enumerate((hashes[1], hashes[0], hashes[2])):
                    await asyncio.sleep(gap)
                    if n == 1:
                        lockfile.rollback_to(repo, lockfile.lock_history(repo)[1].lock, "bench rollback")
                    else:
                        current = lockfile.read_lock(repo)
                        assert current is not None  # build_repo committed the first lock
                        lock = {**current, "model": target, "promoted": now_iso(), "reason": "merge"}
                        lockfile.commit_lock(repo, lock, f"bench: promote {target[:19]}\n")
                    commits.append((time.monotonic(), target))

            swap = asyncio.run(closed_loop(url, inputs, args.clients, args.seconds, swaps))
            delays = []
            for at, target in commits:
                first = min((t for t, m in swap["answers"] if m == target and t >= at), default=None)
                delays.append(None if first is None else first - at)
            shown = ", ".join("never" if d is None else f"{d:.2f}" for d in delays)
            rows += [
                ("swaps: failed requests", str(len(swap["failures"])), "0",
                 "yes" if not swap["failures"] else "NO"),
                ("swaps: commit → first answer naming it (s)", shown, "≤ 5",
                 "yes" if all(d is not None and d <= 5 for d in delays) else "NO"),
            ]

            for label, size in (("demo baseline", None), (f"{args.monitor_cases} cases", args.monitor_cases)):
                if size:
                    progress(f"growing the baseline to {size} cases")
                    lockfile.rollback_to(repo, lockfile.lock_history(repo)[-1].lock, "bench: back to A")
                    grow_baseline(repo, size)
                    time.sleep(1)  # the server follows main
                progress(f"monitor on the {label}: in process, then over HTTP")
                local_s, local_r = time_monitor(repo.root, None, args.clients)
                http_s, http_r = time_monitor(repo.root, url, args.clients)
                rows.append((f"monitor, {label}: in process / over HTTP (s)",
                             f"{local_s:.1f} / {http_s:.1f}", f"({local_r} / {http_r})", ""))
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    widths = [max(len(r[i]) for r in rows + [("measure", "figure", "target", "met")]) for i in range(4)]
    for row in [("measure", "figure", "target", "met"), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    load1, load5, _ = os.getloadavg()
    print(f"\n{os.cpu_count()} CPUs, load average {load1:.2f} / {load5:.2f} (1 / 5 min) at the end; "
          f"--seconds {args.seconds:g} --clients {args.clients} --monitor-cases {args.monitor_cases}")


if __name__ == "__main__":
    main()
