"""A tune that scales (issue 15): does a batch tune cost about the same at 10,000 baseline cases as
at 150? `python benchmarks/scale_tune.py [--sizes 150,1000,9696] [--all-budget-min 20]`

Data: ../shared/data/banking77 (real, CC BY 4.0). For each size the baseline is the 150 baseline
cases of cases.jsonl plus the first N-150 rows of scale_baseline.jsonl. Per size, in its own
subprocess (clean peak RSS):
 1. bootstrap the first production model on the baseline (`straw tune --baseline`'s code),
    recording rounds, seconds, peak RSS and the cases it could not learn; those are dropped, as a
    user would after reviewing them;
 2. the same 20-case batch (batch1_new_intent_card_delivery_estimate, a new intent) tuned from
    that model with `replay = "adaptive"` and with `replay = "all"` (the same batch, re-tuned after
    a settings change on main).
Printed per size and mode: seconds to gate, rounds, replay size, validation cases/s, baseline
cases broken (baseline cases the production model passed and the tuned model fails; must be 0),
and accuracy on test.jsonl (never used to choose anything).

Where a `replay = "all"` tune would run past --all-budget-min, it is stopped (after its first 30
steps when round 1 alone would overrun, else after round 1) and the table shows round 1's
measured or extrapolated seconds × the rounds the adaptive tune needed, marked "extrapolated".
--bootstrap-rounds / --bootstrap-epochs shorten the bootstrap above 1,000 cases (the table says
so; the tunes always run with the default schedule)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# ../shared/data/banking77 beside the checkout (or beside a folder above it, for worktrees)
DATA = next((p / "shared" / "data" / "banking77" for p in ROOT.parents
             if (p / "shared" / "data" / "banking77" / "cases.jsonl").is_file()),
            ROOT.parent / "shared" / "data" / "banking77")
BATCH_GROUP = "batch1_new_intent_card_delivery_estimate"
IDENTITY = {"GIT_AUTHOR_NAME": "straw bench", "GIT_AUTHOR_EMAIL": "bench@straw.invalid",
            "GIT_COMMITTER_NAME": "straw bench", "GIT_COMMITTER_EMAIL": "bench@straw.invalid"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def case_data(case_id: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": case_id, "input": row["input"], "expected": row["expected"], "match": "label",
            "source": row["source"], "created": "2026-12-01T00:00:00Z",
            "author": "straw bench <bench@straw.invalid>"}


def write_cases(root: Path, split: str, items: list[tuple[str, dict[str, Any]]]) -> list[str]:
    from repo_store.cases import case_path, serialize

    paths = []
    for case_id, row in items:
        path = case_path(split, case_id)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(serialize(case_data(case_id, row)))
        paths.append(path)
    return paths


def set_train(root: Path, **train: Any) -> None:
    from repo_store import config

    config.write(root, {"train": train})
    git(root, "add", "straw.toml")
    staged = subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=root)
    if staged.returncode:  # the settings may already say so
        git(root, "commit", "-q", "--no-verify", "-m", f"bench: [train] {train}")


def test_accuracy(repo: Any, model_hash: str | None) -> float | None:
    if not model_hash:
        return None
    from tuning.backends.base import settings_from_config
    from tuning.backends.classifier import ClassifierBackend
    from tuning.model_store import ModelStore

    test = rows("test.jsonl")
    backend = ClassifierBackend(*settings_from_config(repo.config))
    backend.load(ModelStore(repo.model_store).load(model_hash))
    preds = backend.predict([r["input"] for r in test])
    return sum(p.text == r["expected"] for p, r in zip(preds, test, strict=True)) / len(test)


class Watch:
    """Progress consumer: round times, validation rate, and a cancel when a budget would be
    overrun after round 1."""

    def __init__(self, label: str, budget_s: float | None = None) -> None:
        self.label, self.budget_s = label, budget_s
        self.started = time.monotonic()
        self.cancel = threading.Event()
        self.round_s: list[float] = []
        self.stopped_after: float | None = None  # round 1's seconds, measured or extrapolated
        self.round_started = 0.0
        self.partial = ""

    def __call__(self, event: Any) -> None:
        from tuning.progress import Phase, RoundDone, RoundStarted, Step

        if isinstance(event, RoundStarted):
            self.round_started = time.monotonic()
        elif isinstance(event, Step) and self.budget_s and event.step >= 30 and not self.cancel.is_set():
            spent = time.monotonic() - self.round_started
            projected = spent / event.step * event.total
            if projected > self.budget_s:  # time the first steps, extrapolate the round's training
                self.stopped_after = projected
                self.partial = f"{event.step} of {event.total} steps timed"
                log(f"{self.label}: {self.partial} in {spent:.0f}s; round 1 projected "
                    f"{projected:.0f}s > budget: stopping")
                self.cancel.set()
        elif isinstance(event, RoundDone):
            self.round_s.append(event.seconds)
            log(f"{self.label} round {event.round}: baseline {event.baseline_pass:.1%} new "
                f"{event.new_pass:.1%} {event.seconds:.0f}s")
            elapsed = time.monotonic() - self.started
            if self.budget_s and event.round == 1 and elapsed + event.seconds > self.budget_s:
                self.stopped_after = event.seconds
                self.partial = "round 1 timed"
                self.cancel.set()
        elif isinstance(event, Phase) and event.name in ("validating", "loading", "saving"):
            log(f"{self.label} {event.name} {event.detail}")


def part_size(folder: Path, size: int, all_budget_s: float, bootstrap_rounds: int | None,
              bootstrap_epochs: float | None = None) -> dict:
    import tuning.backends.classifier  # noqa: F401  (imports outside the clocks)
    from repo_store import batches, lockfile
    from repo_store.repo import open_case_repo
    from repo_store.setup import init_case_repo
    from tuning.bootstrap import train_baseline
    from tuning.errors import Cancelled
    from tuning.tune import tune_batch

    base_rows = [r for r in rows("cases.jsonl") if r["group"] == "baseline"]
    base_rows += rows("scale_baseline.jsonl")[: max(0, size - len(base_rows))]
    batch_rows = [r for r in rows("cases.jsonl") if r["group"] == BATCH_GROUP]
    repo, _ = init_case_repo(folder)
    root = repo.root
    paths = write_cases(root, "baseline", [(f"b-{i:05d}", r) for i, r in enumerate(base_rows)])
    git(root, "add", "cases")
    git(root, "commit", "-q", "--no-verify", "-m",
        f"Bootstrap the baseline ({len(paths)} cases)\n\nStraw-Bootstrap: bench\n"
        f"Straw-Baseline-Cases: {len(paths)}")
    capped = {k: v for k, v in (("max_iterations", bootstrap_rounds),
                                ("epochs_per_round", bootstrap_epochs)) if v}
    if capped:
        set_train(root, **capped)
    repo = open_case_repo(root)
    watch = Watch(f"{size} bootstrap")
    started = time.monotonic()
    boot = train_baseline(repo, progress=watch, promote_failing=True)  # drops them below
    boot_s = time.monotonic() - started
    boot_rss = peak_rss_mb()
    stubborn = [s["id"] for s in boot.report["stubborn"]]
    result: dict[str, Any] = {
        "size": len(base_rows), "bootstrap": {
            "seconds": round(boot_s, 1), "rounds": len(boot.report["rounds"]),
            "rss_mb": round(boot_rss), "stubborn": len(stubborn),
            "stubborn_examples": boot.report["stubborn"][:3],
            "cases_per_s": [r["validation_cases_per_s"] for r in boot.report["rounds"]],
            "head_refit": [r.get("head_refit") for r in boot.report["rounds"]],
            "capped": capped}}
    if stubborn:  # dropped after review, as a user would
        git(root, "rm", "-q", "--", *[f"cases/baseline/{i}.json" for i in stubborn])
        git(root, "commit", "-q", "--no-verify", "-m", f"drop {len(stubborn)} unlearnable cases")
    if capped:  # the tunes run with the defaults
        set_train(root, max_iterations=5, epochs_per_round=3)
    paths = write_cases(root, "pending", [(f"n-{i:03d}", r) for i, r in enumerate(batch_rows)])
    git(root, "add", "cases")
    git(root, "commit", "-q", "--no-verify", "-m", "the batch's cases")
    repo = open_case_repo(root)
    batch = batches.create_batch(repo)
    production = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    result["production_test_accuracy"] = test_accuracy(repo, production)
    result["tunes"] = {}
    for mode in ("adaptive", "all"):
        set_train(root, replay=mode)
        repo = open_case_repo(root)
        watch = Watch(f"{size} {mode}", all_budget_s if mode == "all" else None)
        started = time.monotonic()
        try:
            report = tune_batch(repo, batch.id, progress=watch, cancel=watch.cancel)
        except Cancelled:
            adaptive_rounds = result["tunes"]["adaptive"]["rounds"]
            result["tunes"][mode] = {
                "extrapolated": True, "round1_s": watch.stopped_after, "how": watch.partial,
                "seconds": round((watch.stopped_after or 0) * adaptive_rounds, 1),
                "rounds": adaptive_rounds, "rss_mb": round(peak_rss_mb())}
            continue
        seconds = time.monotonic() - started
        s = report["summary"]
        result["tunes"][mode] = {
            "extrapolated": False, "seconds": round(seconds, 1), "rounds": len(report["rounds"]),
            "passed": s["passed"], "replay": [r["replay"] for r in report["rounds"]],
            "head_refit": [r.get("head_refit") for r in report["rounds"]],
            "cases_per_s": statistics.median(r["validation_cases_per_s"] for r in report["rounds"]),
            "broken": len(report["blame"]),
            "baseline": f"{s['baseline']['passed']}/{s['baseline']['total']}",
            "new": f"{s['new']['passed']}/{s['new']['total']}",
            "test_accuracy": test_accuracy(repo, report["model"]["hash"]),
            "rss_mb": round(peak_rss_mb())}
    return result


def run_part(folder: Path, size: int, all_budget_s: float, bootstrap_rounds: int | None,
             bootstrap_epochs: float | None) -> dict:
    env = {**os.environ, **{k: v for k, v in IDENTITY.items() if k not in os.environ}}
    args = [sys.executable, __file__, "--part", str(folder), str(size), str(all_budget_s),
            str(bootstrap_rounds or 0), str(bootstrap_epochs or 0)]
    proc = subprocess.run(args, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    if proc.returncode:
        sys.exit(f"size {size} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[dict]) -> None:
    print("| baseline | replay | seconds to gate | rounds | replay size (max) | validation cases/s "
          "| baseline broken | test accuracy |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        for mode in ("adaptive", "all"):
            t = r["tunes"][mode]
            if t["extrapolated"]:
                print(f"| {r['size']:,} | {mode} | ~{t['seconds']:.0f} (extrapolated: round 1 "
                      f"~{t['round1_s']:.0f} s training ({t['how']}) × {t['rounds']} rounds, "
                      f"validation not counted) | - | {r['size']:,} | - | - | - |")
                continue
            replay = max(x["size"] for x in t["replay"])
            print(f"| {r['size']:,} | {mode} | {t['seconds']:.0f} | {t['rounds']} | {replay:,} "
                  f"| {t['cases_per_s']:.0f} | {t['broken']} | {fmt(t['test_accuracy'], '.1%')} |")
    print()
    print("| baseline | bootstrap seconds | rounds | peak RSS | not learned (dropped) | "
          "production test accuracy |")
    print("|---|---|---|---|---|---|")
    for r in results:
        b = r["bootstrap"]
        capped = f" (capped: {b['capped']})" if b["capped"] else ""
        print(f"| {r['size']:,} | {b['seconds']:.0f} | {b['rounds']}{capped} | {b['rss_mb']} MB "
              f"| {b['stubborn']} | {fmt(r['production_test_accuracy'], '.1%')} |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--part":
        folder, size_arg, budget, rounds, epochs = sys.argv[2:7]
        print(json.dumps(part_size(Path(folder), int(size_arg), float(budget), int(rounds) or None,
                                   float(epochs) or None)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="150,1000,9696")
    parser.add_argument("--all-budget-min", type=float, default=20.0)
    parser.add_argument("--bootstrap-rounds", type=int, default=0,
                        help="cap the bootstrap's rounds for sizes above 1,000 (0: no cap)")
    parser.add_argument("--bootstrap-epochs", type=float, default=0,
                        help="epochs per bootstrap round for sizes above 1,000 (0: the default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="straw-scale-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            big = size > 1000
            results.append(run_part(Path(tmp) / str(size), size, args.all_budget_min * 60,
                                    args.bootstrap_rounds if big else 0,
                                    args.bootstrap_epochs if big else 0))
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
    print(f"\nscale_tune: {os.cpu_count()} CPU cores, load average at the end "
          f"{os.getloadavg()[0]:.1f}\n")
    print_table(results)


if __name__ == "__main__":
    main()
