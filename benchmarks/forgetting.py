"""Forgetting benchmark: `python benchmarks/forgetting.py [--seeds 0 1 2] [--dataset demo|banking77|both]`.

The seed's claim, measured over several seeds on the embedded default model (MiniLM classifier):
fine-tuning on new cases alone ("Pharaoh's way") quietly breaks baseline cases, while straw's way
(a batch trained together with the baseline, gated) breaks none.

1. demo: `tuning.demo.run_demo` (100 baseline + 20 new demo cases): baseline cases broken by the
   naive way (one case at a time until it passes) and by straw's way (batch + baseline, gated),
   straw's rounds to gate, seconds of each.
2. banking77 (../shared/data/banking77): a case repository whose baseline is the 150 `baseline`
   cases (bootstrap batch → tune → merge), then batch1, batch2, batch3 in sequence. straw's way:
   import → create_batch → tune_batch → gate → merge. The naive way: from the same production
   model, each group's cases one at a time until each passes, the model carried over from group
   to group. Per seed: the 150 baseline cases broken by each way after all three batches, straw's
   rounds to gate per batch, BWT (Lopez-Paz & Ranzato 2017) over the batches, and accuracy on
   banking77's holdout.jsonl (80 cases) before (production after the baseline) and after.

A broken case is one the production model passed before and the final model fails. Progress goes
to stderr; the Markdown tables go to stdout and to benchmarks/forgetting_results.md (rewritten
after every seed, so an interrupted run keeps what it measured)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BANKING77 = ROOT.parent / "shared" / "data" / "banking77"
RESULTS = Path(__file__).resolve().with_name("forgetting_results.md")
GROUPS = ("batch1_new_intent_card_delivery_estimate", "batch2_new_intent_compromised_card",
          "batch3_hard_paraphrases")
IDENTITY = {"GIT_AUTHOR_NAME": "straw bench", "GIT_AUTHOR_EMAIL": "bench@straw.invalid",
            "GIT_COMMITTER_NAME": "straw bench", "GIT_COMMITTER_EMAIL": "bench@straw.invalid"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def progress_printer(prefix: str):
    from tuning.progress import Phase, RoundDone

    def emit(event: Any) -> None:
        if isinstance(event, Phase) and event.name in {"setup", "baseline", "pharaoh", "straw",
                                                       "loading"}:
            log(f"{prefix} {event.name}: {event.detail}")
        elif isinstance(event, RoundDone):
            log(f"{prefix}   round {event.round}: baseline {event.baseline_pass:.1%}, "
                f"new {event.new_pass:.1%} ({event.seconds:.0f} s)")
    return emit


# --- tables ------------------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, *rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
           for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def med(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def num(value: float | None, fmt: str = "g") -> str:
    return "-" if value is None else format(value, fmt)


# --- demo --------------------------------------------------------------------------------------


@dataclass
class DemoRow:
    seed: int
    naive_broken: int
    straw_broken: int
    baseline_total: int
    straw_rounds: int
    straw_merged: bool
    naive_new: str
    straw_new: str
    naive_trainings: int
    naive_s: float
    straw_s: float


def run_demo_seed(seed: int, max_steps: int) -> DemoRow:
    from repo_store.lockfile import read_lock
    from repo_store.repo import open_case_repo
    from tuning.demo import run_demo

    with tempfile.TemporaryDirectory(prefix="straw-forgetting-demo-") as tmp:
        result = run_demo(Path(tmp) / "demo", seed=seed, max_steps=max_steps,
                          progress=progress_printer(f"demo seed {seed}:"))
        lock = read_lock(open_case_repo(result.root))
    naive, gated = result.naive, result.straw
    return DemoRow(seed, len(naive.broken), len(gated.broken), naive.baseline_total,
                   gated.trainings, bool(lock and lock.get("reason") == "merge"),
                   f"{naive.new_passed}/{naive.new_total}", f"{gated.new_passed}/{gated.new_total}",
                   naive.trainings, naive.seconds, gated.seconds)


def demo_table(rows: list[DemoRow]) -> str:
    header = ["seed", "naive: baseline broken", "straw: baseline broken", "straw rounds to gate",
              "straw merged", "new passing (naive / straw)", "naive single-case fine-tunes",
              "naive s", "straw s"]
    body = [[str(r.seed), f"{r.naive_broken}/{r.baseline_total}",
             f"{r.straw_broken}/{r.baseline_total}", str(r.straw_rounds),
             "yes" if r.straw_merged else "NO (gate failed)", f"{r.naive_new} / {r.straw_new}",
             str(r.naive_trainings), f"{r.naive_s:.0f}", f"{r.straw_s:.0f}"] for r in rows]
    if rows:
        body.append(["**median**", num(med([r.naive_broken for r in rows])),
                     num(med([r.straw_broken for r in rows])),
                     num(med([r.straw_rounds for r in rows])),
                     f"{sum(r.straw_merged for r in rows)}/{len(rows)}", "",
                     num(med([r.naive_trainings for r in rows])),
                     num(med([r.naive_s for r in rows]), ".0f"),
                     num(med([r.straw_s for r in rows]), ".0f")])
    return table(header, body)


# --- banking77 ---------------------------------------------------------------------------------


@dataclass
class BankRow:
    seed: int
    naive_broken: int
    straw_broken: int
    baseline_total: int
    bootstrap_rounds: int
    straw_rounds: list[str] = field(default_factory=list)  # per batch, "✗" when the gate failed
    straw_merged: int = 0
    bwt_naive: float | None = None
    bwt_straw: float | None = None
    bwt_straw_reports: float | None = None  # the reports' own `bwt` field, when filled
    holdout_before: float = 0.0
    holdout_naive: float = 0.0
    holdout_straw: float = 0.0
    old_before: float = 0.0  # holdout accuracy on the baseline's 6 intents only (60 cases)
    old_naive: float = 0.0
    old_straw: float = 0.0
    naive_new_end: str = ""  # the 60 batch cases the final naive model passes
    straw_new_end: str = ""
    naive_s: float = 0.0
    straw_s: float = 0.0


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _import_group(repo: Any, rows: list[dict[str, Any]], group: str, folder: Path) -> list[Any]:
    from repo_store.io_formats import import_file

    chosen = [r for r in rows if r["group"] == group]
    path = folder / f"{group}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen),
                    encoding="utf-8")
    return import_file(repo, path)


def _load_backend(repo: Any, model_hash: str) -> Any:
    from tuning import backends
    from tuning.backends.base import settings_from_config
    from tuning.model_store import ModelStore

    model_s, train_s = settings_from_config(repo.config)
    backend = backends.create(model_s, train_s)
    backend.load(ModelStore(repo.model_store).load(model_hash))
    return backend


def _pass_list(backend: Any, cases: list[Any]) -> list[bool]:
    from tuning.cases_io import passes

    preds = backend.predict([c.input for c in cases])
    return [passes(c, p.text) for c, p in zip(cases, preds, strict=True)]


def _holdout_accuracy(backend: Any, holdout: list[dict[str, Any]],
                      old_labels: set[str]) -> tuple[float, float]:
    """Accuracy on all of holdout.jsonl, and on its cases of the baseline's intents only."""
    from repo_store import matching

    preds = backend.predict([r["input"] for r in holdout])
    ok = [matching.passes("label", r["expected"], p.text) for r, p in zip(holdout, preds, strict=True)]
    old = [hit for r, hit in zip(holdout, ok, strict=True) if r["expected"] in old_labels]
    return sum(ok) / len(ok), sum(old) / len(old)


def _bwt(then: list[float], now: list[float]) -> float:
    """Lopez-Paz & Ranzato's BWT from per-batch pass rates right after each batch and at the end."""
    return round(sum(n - t for t, n in zip(then, now, strict=True)) / len(then), 6)


def _naive_group(backend: Any, baseline: list[Any], seen: list[Any], group: list[Any],
                 max_steps: int, label: str) -> int:
    """Pharaoh's way on one group, as `tuning.demo.pharaohs_way` does it, on a model carried over
    from the previous group: each case alone, fine-tuned until it passes (at most max_steps)."""
    from tuning.backends.base import Example, TrainHooks
    from tuning.cases_io import examples_of, passes, target_of

    backend.prepare(examples_of(baseline + seen + group, backend.name))  # room for new labels
    seed = backend.train_settings.seed
    trainings = 0
    for index, case in enumerate(group, 1):
        example = [Example(case.input, target_of(case, backend.name))]
        steps = 0
        while steps < max_steps:
            steps += 1
            trainings += 1
            backend.train(example, 1, TrainHooks(), seed=seed + steps)
            if passes(case, backend.predict([case.input])[0].text):
                break
        if index % 5 == 0:
            log(f"{label} naive: {index}/{len(group)} cases ({trainings} fine-tunes)")
    return trainings


def run_banking_seed(seed: int, max_steps: int) -> BankRow:
    from repo_store import batches, forgetting, gate, lockfile
    from repo_store import config as repo_config
    from repo_store.gitio import commit_paths
    from repo_store.repo import MAIN, open_case_repo
    from repo_store.setup import init_case_repo
    from tuning.recheck import merge_checked
    from tuning.tune import tune_batch

    label = f"banking77 seed {seed}:"
    emit = progress_printer(label)
    rows = _jsonl(BANKING77 / "cases.jsonl")
    holdout = _jsonl(BANKING77 / "holdout.jsonl")
    with tempfile.TemporaryDirectory(prefix="straw-forgetting-b77-") as tmp:
        folder = Path(tmp)
        repo, _ = init_case_repo(folder / "repo")
        repo_config.write(repo.root, {"train": {"seed": seed}})
        commit_paths(repo.root, ["straw.toml"], "benchmark: settings")
        repo = open_case_repo(repo.root)

        log(f"{label} bootstrap on the 150 baseline cases")
        _import_group(repo, rows, "baseline", folder)
        boot = batches.create_batch(repo, all_pending=True, title="banking77 baseline")
        report = tune_batch(repo, boot.id, progress=emit)
        verdict = gate.check_gate(repo, boot.id)
        if not verdict.passed:
            raise SystemExit(f"{label} the bootstrap batch fails its gate: {verdict.reason}")
        merge_checked(repo, boot.id)  # reruns the stored model, then merges
        boot_rounds = len(report["rounds"])
        lock = lockfile.read_lock(repo)
        assert lock is not None  # merged just above
        production = lock["model"]
        baseline = repo.load_ref(MAIN).split("baseline")
        naive = _load_backend(repo, production)
        before = _pass_list(naive, baseline)
        old_labels = {r["expected"] for r in rows if r["group"] == "baseline"}
        holdout_before, old_before = _holdout_accuracy(naive, holdout, old_labels)
        log(f"{label} production {production[:19]}: baseline {sum(before)}/{len(before)}, "
            f"holdout {holdout_before:.1%}")

        row = BankRow(seed, 0, 0, len(baseline), boot_rounds, holdout_before=holdout_before,
                      old_before=old_before)
        seen: list[Any] = []
        naive_then = [sum(before) / len(before)]  # the bootstrap "batch": the baseline itself
        groups: list[list[Any]] = []
        report_bwts: list[float] = []
        for group in GROUPS:
            new = _import_group(repo, rows, group, folder)
            groups.append(new)
            short = group.split("_", 1)[0]
            log(f"{label} {short}: naive way, {len(new)} cases one at a time")
            t0 = time.monotonic()
            _naive_group(naive, baseline, seen, new, max_steps, f"{label} {short}")
            row.naive_s += time.monotonic() - t0
            after = _pass_list(naive, new)
            naive_then.append(sum(after) / len(after))
            log(f"{label} {short}: naive passes {sum(after)}/{len(after)} of its own cases")
            seen += new

            log(f"{label} {short}: straw's way, batch → tune → gate → merge")
            t0 = time.monotonic()
            batch = batches.create_batch(repo, [c.id for c in new], title=f"banking77 {short}",
                                         allow_small=True)
            report = tune_batch(repo, batch.id, progress=emit)
            verdict = gate.check_gate(repo, batch.id)
            if verdict.passed:
                merge_checked(repo, batch.id)  # reruns the stored model, then merges
                row.straw_merged += 1
                row.straw_rounds.append(str(len(report["rounds"])))
            else:
                batches.reject_batch(repo, batch.id, "benchmark: gate failed")
                row.straw_rounds.append(f"{len(report['rounds'])}✗")
                log(f"{label} {short}: gate failed: {verdict.reason}")
            if report.get("bwt") is not None:
                report_bwts.append(report["bwt"])
            row.straw_s += time.monotonic() - t0

        lock = lockfile.read_lock(repo)
        assert lock is not None  # the bootstrap batch was merged
        final = lock["model"]
        straw = _load_backend(repo, final)
        everything = baseline + [c for g in groups for c in g]
        straw_pass = _pass_list(straw, everything)
        naive_pass = _pass_list(naive, everything)
        n_base = len(baseline)
        row.straw_broken = sum(b and not s for b, s in zip(before, straw_pass[:n_base], strict=True))
        row.naive_broken = sum(b and not s for b, s in zip(before, naive_pass[:n_base], strict=True))
        row.straw_new_end = f"{sum(straw_pass[n_base:])}/{len(everything) - n_base}"
        row.naive_new_end = f"{sum(naive_pass[n_base:])}/{len(everything) - n_base}"
        row.bwt_straw = forgetting.bwt(repo, {c.id: p for c, p in zip(everything, straw_pass,
                                                                      strict=True)})
        row.bwt_straw_reports = report_bwts[-1] if report_bwts else None
        naive_now, start = [sum(naive_pass[:n_base]) / n_base], n_base
        for g in groups:
            naive_now.append(sum(naive_pass[start:start + len(g)]) / len(g))
            start += len(g)
        row.bwt_naive = _bwt(naive_then, naive_now)
        row.holdout_straw, row.old_straw = _holdout_accuracy(straw, holdout, old_labels)
        row.holdout_naive, row.old_naive = _holdout_accuracy(naive, holdout, old_labels)
    log(f"{label} done: broken naive {row.naive_broken}, straw {row.straw_broken}; holdout "
        f"{row.holdout_before:.1%} → naive {row.holdout_naive:.1%}, straw {row.holdout_straw:.1%}")
    return row


def bank_table(rows: list[BankRow]) -> str:
    header = ["seed", "naive: baseline broken", "straw: baseline broken",
              "straw rounds to gate (bootstrap; b1/b2/b3)", "BWT naive", "BWT straw",
              "holdout before", "holdout after naive", "holdout after straw",
              "old-intent holdout before / naive / straw",
              "batch cases passing at end (naive / straw)", "naive s", "straw s"]
    body = [[str(r.seed), f"{r.naive_broken}/{r.baseline_total}",
             f"{r.straw_broken}/{r.baseline_total}",
             f"{r.bootstrap_rounds}; {'/'.join(r.straw_rounds)}", num(r.bwt_naive, "+.3f"),
             num(r.bwt_straw, "+.3f"), f"{r.holdout_before:.1%}", f"{r.holdout_naive:.1%}",
             f"{r.holdout_straw:.1%}",
             f"{r.old_before:.1%} / {r.old_naive:.1%} / {r.old_straw:.1%}",
             f"{r.naive_new_end} / {r.straw_new_end}",
             f"{r.naive_s:.0f}", f"{r.straw_s:.0f}"] for r in rows]
    if rows:
        pct = [(lambda v: "-" if v is None else f"{v:.1%}")(med(vals)) for vals in (
            [r.holdout_before for r in rows], [r.holdout_naive for r in rows],
            [r.holdout_straw for r in rows])]
        body.append(["**median**", num(med([r.naive_broken for r in rows])),
                     num(med([r.straw_broken for r in rows])), "",
                     num(med([r.bwt_naive for r in rows]), "+.3f"),
                     num(med([r.bwt_straw for r in rows]), "+.3f"), *pct,
                     " / ".join(f"{med(v):.1%}" for v in ([r.old_before for r in rows],
                                                          [r.old_naive for r in rows],
                                                          [r.old_straw for r in rows])), "",
                     num(med([r.naive_s for r in rows]), ".0f"),
                     num(med([r.straw_s for r in rows]), ".0f")])
    return table(header, body)


# --- main --------------------------------------------------------------------------------------


def render(args: argparse.Namespace, demo: list[DemoRow], bank: list[BankRow],
           started: float, done: bool) -> str:
    parts = [f"# Forgetting benchmark\n\n`python benchmarks/forgetting.py --seeds "
             f"{' '.join(map(str, args.seeds))} --dataset {args.dataset}` — embedded MiniLM "
             f"classifier, {os.cpu_count()} CPU cores (shared; seconds are noisy), naive way at "
             f"most {args.max_steps} single-case steps per case, "
             f"{time.monotonic() - started:.0f} s in all"
             f"{'' if done else ' so far (PARTIAL: still running or interrupted)'}.\n\n"
             "A broken case: one the production model passed before and the final model fails."]
    if args.dataset in ("demo", "both"):
        parts.append("## demo cases (100 baseline + 20 new)\n\n" + demo_table(demo))
    if args.dataset in ("banking77", "both"):
        parts.append("## banking77 (150 baseline, then batch1 / batch2 / batch3 of 20 in "
                     "sequence)\n\nRounds: straw's tune rounds until the gate passed (✗: gate "
                     "failed, batch rejected). BWT: mean over the bootstrap batch and the three "
                     "batches of (final pass rate − pass rate right after that batch); straw's "
                     "from `repo_store.forgetting.bwt` over the merged batches. Holdout: "
                     "accuracy on holdout.jsonl (80 cases), before = the production model after "
                     "the baseline. 20 of the 80 holdout cases belong to the two intents that "
                     "batch1 and batch2 introduce, so \"before\" is at most 75%; the old-intent column "
                     "scores the 60 holdout cases of the baseline's 6 intents alone.\n\n" + bank_table(bank))
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dataset", choices=("demo", "banking77", "both"), default="both")
    parser.add_argument("--max-steps", type=int, default=20,
                        help="single-case fine-tune steps per case in the naive way")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    for key, value in IDENTITY.items():
        os.environ.setdefault(key, value)
    if args.dataset != "demo" and not (BANKING77 / "cases.jsonl").is_file():
        sys.exit(f"banking77 data missing: {BANKING77}")
    started = time.monotonic()
    demo: list[DemoRow] = []
    bank: list[BankRow] = []
    for seed in args.seeds:
        if args.dataset in ("demo", "both"):
            log(f"demo seed {seed}: start")
            demo.append(run_demo_seed(seed, args.max_steps))
            args.output.write_text(render(args, demo, bank, started, False), encoding="utf-8")
        if args.dataset in ("banking77", "both"):
            log(f"banking77 seed {seed}: start")
            bank.append(run_banking_seed(seed, args.max_steps))
            args.output.write_text(render(args, demo, bank, started, False), encoding="utf-8")
    text = render(args, demo, bank, started, True)
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
