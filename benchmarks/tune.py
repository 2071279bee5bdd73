"""Tune benchmark: `python benchmarks/tune.py [--runs 3] [--skip-banking77]`.

Prints a table:
 1. the demo batch (100 baseline + 20 new) on the embedded MiniLM: seconds to gate, rounds, peak
    RSS, against a bare `Trainer.train()` of the same epochs on the same examples (same run);
 2. validation throughput (cases/s): the engine's batched predict against
    `transformers.pipeline("text-classification", batch_size=32)` on the same model and cases,
    and validation's share of the tune's wall time;
 3. ../shared/data/banking77: bootstrap on its 150 baseline cases, then each 20-case batch in
    turn (tune, then merge when the gate passes).

Every part runs in its own subprocess (clean peak RSS, no shared warm caches), one at a time.
Seconds are wall time after imports (a CLI run adds ~3.5 s of torch + transformers import)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BANKING77 = ROOT.parent / "shared" / "data" / "banking77" / "cases.jsonl"
IDENTITY = {"GIT_AUTHOR_NAME": "straw bench", "GIT_AUTHOR_EMAIL": "bench@straw.invalid",
            "GIT_COMMITTER_NAME": "straw bench", "GIT_COMMITTER_EMAIL": "bench@straw.invalid"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo_repo(folder: Path):
    from repo_store import batches
    from repo_store.setup import init_case_repo

    repo, _ = init_case_repo(folder, demo=True)
    return repo, batches.create_batch(repo).id


def part_tune(folder: Path) -> dict:
    # the same transformers modules part_bare imports before its clock starts (transformers
    # loads them lazily: importing Trainer inside the timed tune cost 4.8 s of "tuning")
    from transformers import (  # noqa: F401
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    import tuning.backends.classifier  # noqa: F401
    from tuning.progress import Phase, RoundDone
    from tuning.tune import tune_batch

    repo, batch_id = demo_repo(folder)
    validating = {"since": 0.0, "total": 0.0}

    def track(event) -> None:
        if isinstance(event, Phase) and event.name == "validating":
            validating["since"] = time.monotonic()
        elif isinstance(event, RoundDone):
            validating["total"] += time.monotonic() - validating["since"]

    started = time.monotonic()
    report = tune_batch(repo, batch_id, progress=track)
    seconds = time.monotonic() - started
    return {"seconds": seconds, "rounds": len(report["rounds"]), "passed":
            report["summary"]["passed"], "epochs": len(report["rounds"]) *
            report["hyperparameters"]["epochs_per_round"], "validation_s": validating["total"],
            "rss_mb": peak_rss_mb(), "model": report["model"]["hash"], "repo": str(repo.root),
            "batch": batch_id}


def part_bare(folder: Path, epochs: int) -> dict:
    """The same examples and Trainer arguments, no validation, saving or reporting."""
    import tempfile as tf

    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from repo_store import batch_status, batches
    from repo_store.repo import open_case_repo
    from tuning.backends.base import settings_from_config
    from tuning.backends.classifier import embedded_model_dir
    from tuning.backends.hf_common import optimizer_name
    from tuning.cases_io import examples_of

    repo = open_case_repo(folder)
    batch_id = batch_status.list_batches(repo)[0].id
    baseline, new = batches.split_cases(repo, batch_id)
    model_s, train_s = settings_from_config(repo.config)
    data = examples_of(baseline, "classifier") + examples_of(new, "classifier",
                                                             train_s.new_case_weight)
    started = time.monotonic()
    labels = sorted({e.target for e in data})
    tok = AutoTokenizer.from_pretrained(embedded_model_dir(), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        embedded_model_dir(), num_labels=len(labels), local_files_only=True)
    enc = tok([e.input for e in data], truncation=True, max_length=model_s.max_length)
    rows = [{k: enc[k][i] for k in enc} | {"labels": labels.index(e.target)}
            for i, e in enumerate(data)]
    with tf.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, num_train_epochs=epochs,
            per_device_train_batch_size=train_s.batch_size, learning_rate=train_s.learning_rate,
            weight_decay=train_s.weight_decay, lr_scheduler_type=train_s.lr_scheduler,
            optim=optimizer_name(), seed=train_s.seed, save_strategy="no", report_to=[],
            disable_tqdm=True, use_cpu=True, remove_unused_columns=False, logging_steps=1)
        Trainer(model=model, args=args, train_dataset=rows,
                data_collator=DataCollatorWithPadding(tok)).train()
    return {"seconds": time.monotonic() - started, "rss_mb": peak_rss_mb()}


def part_throughput(folder: Path, model_hash: str, batch_id: str) -> dict:
    from transformers import pipeline

    from repo_store.repo import open_case_repo
    from tuning.backends.base import Input, settings_from_config
    from tuning.backends.classifier import PREDICT_MAX_ROWS, ClassifierBackend
    from tuning.model_store import ModelStore

    repo = open_case_repo(folder)
    cases = repo.load_ref(f"batch/{batch_id}").cases
    texts: list[Input] = [c.text for c in cases]  # plain text, as `predict` takes any Input
    model_dir = ModelStore(repo.model_store).load(model_hash)
    backend = ClassifierBackend(*settings_from_config(repo.config))
    backend.load(model_dir)
    pipes = {size: pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir),
                            device=-1, batch_size=size) for size in (32, PREDICT_MAX_ROWS)}

    def rate(run) -> float:
        run()  # warm-up
        best = float("inf")
        for _ in range(3):
            t = time.monotonic()
            run()
            best = min(best, time.monotonic() - t)
        return len(texts) / best

    ours = rate(lambda: backend.predict(texts))
    theirs = {size: rate(lambda pipe=pipe: pipe(texts, truncation=True, max_length=128))
              for size, pipe in pipes.items()}
    return {"cases": len(texts), "engine": ours, "pipeline": theirs[32],
            "pipeline_wide": theirs[PREDICT_MAX_ROWS]}


def part_banking77(folder: Path) -> dict:
    from repo_store import batches, curation, gate
    from repo_store.setup import init_case_repo
    from tuning.recheck import merge_checked
    from tuning.tune import tune_batch

    repo, _ = init_case_repo(folder)
    rows = [json.loads(line) for line in BANKING77.read_text().splitlines() if line.strip()]
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    results = []
    for name, items in groups.items():
        records = [curation.new_case_data(repo, input=r["input"], expected=r["expected"],
                                          source=r["source"]) for r in items]
        curation.add_cases(repo, records, f"banking77 {name}")
        if name == "baseline":
            batch = batches.create_batch(repo, all_pending=True)
        else:
            batch = batches.create_batch(repo, allow_small=True)
        started = time.monotonic()
        report = tune_batch(repo, batch.id)
        seconds = time.monotonic() - started
        s = report["summary"]
        merged = False
        if gate.check_gate(repo, batch.id).passed:
            merge_checked(repo, batch.id)  # reruns the stored model, then merges
            merged = True
        else:
            batches.reject_batch(repo, batch.id, "benchmark: gate failed")
        results.append({"group": name, "seconds": seconds, "rounds": len(report["rounds"]),
                        "baseline": f"{s['baseline']['passed']}/{s['baseline']['total']}",
                        "new": f"{s['new']['passed']}/{s['new']['total']}",
                        "merged": merged, "rss_mb": peak_rss_mb()})
    return {"batches": results}


def run_part(*args: str) -> dict:
    env = {**os.environ, **{k: v for k, v in IDENTITY.items() if k not in os.environ}}
    proc = subprocess.run([sys.executable, __file__, "--part", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    if proc.returncode:
        sys.exit(f"part {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_run(results: list[dict]) -> dict:
    """The run with the median seconds (its other figures come with it), plus every run's."""
    ordered = sorted(results, key=lambda r: r["seconds"])
    return {**ordered[len(ordered) // 2], "all_seconds": [round(r["seconds"], 1) for r in results]}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--part":
        part, rest = sys.argv[2], sys.argv[3:]
        folder = Path(rest[0])
        result = {"tune": lambda: part_tune(folder),
                  "bare": lambda: part_bare(folder, int(rest[1])),
                  "throughput": lambda: part_throughput(folder, rest[1], rest[2]),
                  "banking77": lambda: part_banking77(folder)}[part]()
        print(json.dumps(result))
        return
    skip_banking = "--skip-banking77" in sys.argv
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    with tempfile.TemporaryDirectory(prefix="straw-bench-") as tmp:
        tunes, bares = [], []
        for n in range(runs):  # interleaved, each in a fresh process and demo repository
            tunes.append(run_part("tune", str(Path(tmp) / f"demo{n}")))
            bares.append(run_part("bare", tunes[-1]["repo"], str(tunes[-1]["epochs"])))
        tune, bare = median_run(tunes), median_run(bares)
        thr = run_part("throughput", tune["repo"], tune["model"], tune["batch"])
        bank = None
        if not skip_banking and BANKING77.is_file():
            bank = run_part("banking77", str(Path(tmp) / "banking77"))
    cores = os.cpu_count()
    print(f"straw tune benchmark — {cores} CPU cores, torch threads default, median of {runs} "
          f"runs (tune {tune['all_seconds']} s, bare {bare['all_seconds']} s)")
    print()
    print("| measure | straw tune | bare Trainer.train() | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| demo batch (100 + 20), seconds to gate | {tune['seconds']:.1f} s "
          f"({tune['rounds']} round{'s' if tune['rounds'] != 1 else ''}, {tune['epochs']} epochs, "
          f"{'passed' if tune['passed'] else 'FAILED'}) | {bare['seconds']:.1f} s "
          f"({tune['epochs']} epochs) | {tune['seconds'] / bare['seconds']:.2f}× "
          f"| ≤ 30 s, ≤ 1.15× |")
    print(f"| peak RSS | {tune['rss_mb']:.0f} MB | {bare['rss_mb']:.0f} MB | "
          f"{tune['rss_mb'] / bare['rss_mb']:.2f}× | |")
    print(f"| validation share of tune wall time | {tune['validation_s']:.2f} s "
          f"({tune['validation_s'] / tune['seconds']:.1%}) | | | ≤ 15% |")
    print()
    # the engine batches by a budget of padded tokens (up to 256 rows of short inputs); the
    # pipeline pads each fixed-size batch: both of its sizes are shown
    print("| validation throughput | engine predict (token-budget batches) | pipeline(batch_size=32) "
          "| ratio | pipeline(batch_size=256) | ratio | target |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {thr['cases']} demo cases | {thr['engine']:.0f} cases/s | {thr['pipeline']:.0f} "
          f"cases/s | {thr['engine'] / thr['pipeline']:.2f}× | {thr['pipeline_wide']:.0f} cases/s "
          f"| {thr['engine'] / thr['pipeline_wide']:.2f}× | ≥ 1.0× (aim 1.3×) |")
    if bank:
        print()
        print("| banking77 batch | seconds | rounds | baseline | new | merged | peak RSS |")
        print("|---|---|---|---|---|---|---|")
        for row in bank["batches"]:
            print(f"| {row['group']} | {row['seconds']:.1f} | {row['rounds']} | {row['baseline']} "
                  f"| {row['new']} | {'yes' if row['merged'] else 'no'} | {row['rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
