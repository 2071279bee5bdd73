"""The first production model of a repository whose baseline came in through a bootstrap commit
(`straw init --demo`): train the base model on main's baseline with the same round loop as a
batch tune (tuning.training), store the best round's model, and commit it to models.lock (reason
"bootstrap"). Later models come from batch tunes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from repo_store import lockfile
from repo_store.ids import now_iso
from repo_store.repo import CaseRepo
from tuning import backends
from tuning.backends.base import settings_from_config
from tuning.cases_io import PredictionCache, input_key, passes
from tuning.errors import BootstrapFailed
from tuning.model_store import ModelStore
from tuning.progress import Phase, Progress, Saved, ignore
from tuning.training import TrainingSet, check_cancel
from tuning.tune import outcome_fields, run_rounds, tune_report
from tuning.tune_data import bootstrap_data


@dataclass
class Bootstrap:
    lock: dict[str, Any]  # the models.lock committed on main
    report: dict[str, Any]  # kind "bootstrap": rounds, cases, stubborn cases (not committed)


def train_baseline(repo: CaseRepo, *, progress: Progress | None = None,
                   cancel: threading.Event | None = None,
                   promote_failing: bool = False) -> Bootstrap:
    """Refuses when a production model exists already, and (unless `promote_failing`: the demo's
    imperfect starting model, a benchmark that drops the unlearnable cases) when the model fails
    a case: BootstrapFailed then carries the cases it could not learn."""
    emit = progress or ignore
    started = time.monotonic()
    data = bootstrap_data(repo)
    model_s, train_s = settings_from_config(repo.verdict_config)
    backend = backends.create(model_s, train_s)
    emit(Phase("loading", model_s.base))
    backend.load(model_s.base)
    training = TrainingSet(data.baseline, [], data.watch)
    gate = {**repo.verdict_config["gate"], "baseline_threshold": 1.0}  # the contract holds
    outcome = run_rounds(backend, training, train_s, gate, progress=emit, cancel=cancel)
    check_cancel(cancel)
    data.check_unchanged(repo)
    fields = outcome_fields(outcome, training, train_s, backend)
    if not outcome.passed and not promote_failing:
        passed = sum(passes(c, p.text)
                     for c, p in zip(training.cases, outcome.predictions, strict=True))
        raise BootstrapFailed(
            f"the model passes {passed}/{len(training.cases)} baseline cases after "
            f"{len(outcome.rounds)} rounds: not promoted, models.lock unchanged", fields["stubborn"])
    emit(Phase("saving"))
    store = ModelStore(repo.model_store)
    model_hash = store.save(backend, {"base": model_s.base, "batch": None, "created": now_iso(),
                                      "started_from": "base", "max_length": model_s.max_length})
    emit(Saved(model_hash))
    preds = outcome.predictions
    PredictionCache(store, model_hash).put(
        {input_key(c, model_s.max_length): p for c, p in zip(training.cases, preds, strict=True)})
    report = tune_report(data, fields, started,
                         kind="bootstrap", model={"hash": model_hash, "base": model_s.base,
                                                  "backend": backend.name, "started_from": "base"},
                         gate=gate, max_length=model_s.max_length, preds=preds,
                         training=training)
    passed, total = report["summary"]["baseline"]["passed"], len(data.baseline)
    lock = {"model": model_hash, "backend": backend.name, "base": model_s.base, "batch": None,
            "promoted": now_iso(), "reason": "bootstrap",
            "baseline": {"passed": passed, "total": total}}
    lockfile.commit_lock(repo, lock, (
        f"Train the first production model on the baseline\n\n"
        f"{model_hash[:19]} passes {passed}/{total} baseline cases.\n\n"
        f"Straw-Bootstrap: model\nStraw-Model: {model_hash}\n"
        f"Straw-Baseline: {passed}/{total}\n"))
    return Bootstrap(lock, report)
