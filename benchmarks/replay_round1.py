"""How many baseline cases round 1 of an adaptive-replay tune breaks, under variants (issue 15).
`python benchmarks/replay_round1.py SIZE BOOTSTRAP_EPOCHS VARIANT[,VARIANT…]`

A baseline of SIZE banking77 cases (the 150 of cases.jsonl, then scale_baseline.jsonl rows), the
embedded MiniLM trained on it for BOOTSTRAP_EPOCHS epochs (kept in a temp folder between runs),
the cases it fails dropped; then per variant, from that model: grow the head for the new intent
(batch1_new_intent_card_delivery_estimate), validate, choose round 1's replay, train one round,
validate, and count the baseline cases now failing. A variant is `old` or `strat` (the random
share uniform, as before, or stratified by label) joined with `+key=value` [train] settings,
e.g. `strat+learning_rate=3e-05`, `strat+refit_head=0`. One seed; calls the engine directly
(no repository)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = next((p / "shared" / "data" / "banking77" for p in ROOT.parents
             if (p / "shared" / "data" / "banking77" / "cases.jsonl").is_file()),
            ROOT.parent / "shared" / "data" / "banking77")


def rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def main() -> None:
    import tuning.training as training
    from repo_store.cases import Case
    from tuning import replay
    from tuning.backends.base import ModelSettings, TrainSettings
    from tuning.backends.classifier import ClassifierBackend
    from tuning.cases_io import examples_of, passes

    size, epochs, variants = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")

    def case(i: int, row: dict[str, Any], split: str = "baseline") -> Case:
        return Case({"id": f"c{i}", "input": row["input"], "expected": row["expected"],
                     "match": "label"}, split)

    base = [r for r in rows("cases.jsonl") if r["group"] == "baseline"]
    base += rows("scale_baseline.jsonl")[:size - len(base)]
    batch = [r for r in rows("cases.jsonl")
             if r["group"] == "batch1_new_intent_card_delivery_estimate"]
    baseline = [case(i, r) for i, r in enumerate(base)]
    new = [case(100_000 + i, r, "pending") for i, r in enumerate(batch)]
    folder = Path(tempfile.gettempdir()) / f"straw-replay-round1-{size}-{epochs}"
    if not (folder / "config.json").is_file():
        boot = ClassifierBackend(ModelSettings(), TrainSettings())
        boot.load("embedded")
        examples = examples_of(baseline, "classifier")
        boot.prepare(examples)
        started = time.monotonic()
        boot.train(examples, epochs, seed=0)
        print(f"bootstrap: {time.monotonic() - started:.0f} s", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        boot.save(folder)
    check = ClassifierBackend(ModelSettings(), TrainSettings())
    check.load(folder)
    first = check.validate([c.input for c in baseline], [c.expected for c in baseline])
    baseline = [c for c, p in zip(baseline, first.predictions, strict=True) if passes(c, p.text)]
    print(f"bootstrap passes {len(baseline)}/{len(base)}; validation "
          f"{len(base) / first.seconds:.0f} cases/s", flush=True)
    for variant in variants:
        mode, *pairs = variant.split("+")
        overrides: dict[str, Any] = {k: float(v) if ("." in v or "e" in v) else int(v)
                                     for k, v in (p.split("=", 1) for p in pairs)}  # any setting
        settings = TrainSettings(**overrides)
        uniform = mode == "old"  # drop the strata argument: the random share as before
        training.choose_replay = ((lambda *a, **k: replay.choose_replay(*a[:6])) if uniform
                                  else replay.choose_replay)
        backend = ClassifierBackend(ModelSettings(), settings)
        backend.load(folder)
        data = training.TrainingSet(baseline, new)
        backend.prepare(examples_of(baseline + new, "classifier"))
        start = training.validate(backend, data, "classifier")
        choice = training.next_replay(data, settings, start, 1)
        examples = training.round_examples(data, choice.indices, settings, "classifier")
        started = time.monotonic()
        backend.train(examples, settings.epochs_per_round, seed=settings.seed)
        seconds = time.monotonic() - started
        after = training.validate(backend, data, "classifier")
        refit = None
        if settings.refit_head:
            after, refit = training.refit_head(backend, data, settings, after)
        ok = [passes(c, p.text) for c, p in zip(data.cases, after.predictions, strict=True)]
        nb = len(baseline)
        labels = {baseline[i].expected for i in choice.indices}
        print(f"{variant}: replay {len(choice.indices)} {choice.reasons}, labels "
              f"{len(labels)}/{len({c.expected for c in baseline})}, {len(examples)} examples, "
              f"train {seconds:.0f} s; refit {refit}; baseline broken {nb - sum(ok[:nb])} "
              f"({(nb - sum(ok[:nb])) / nb:.1%}), new {sum(ok[nb:])}/{len(new)}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
