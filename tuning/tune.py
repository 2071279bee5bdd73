"""`tune_batch`: train on baseline + batch until both pass (tuning.training), store the best
round's model, commit the report on the batch branch. Nothing is written before the end: a
cancelled or crashed tune leaves the branch and the model store as they were (the store may gain
a complete, unreferenced model at most)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any

from repo_store import flips, reports
from repo_store.forgetting import bwt
from repo_store.ids import now_iso
from repo_store.repo import CaseRepo
from tuning import backends, bias_correction, interpolation
from tuning.backends import dist
from tuning.backends.base import Backend, ModelSettings, Prediction, TrainSettings, settings_from_config
from tuning.cases_io import (
    PredictionCache,
    examples_of,
    in_content_order,
    input_key,
    passes,
    predict_cases,
)
from tuning.model_store import ModelStore
from tuning.progress import Phase, Progress, Saved, ignore
from tuning.report import build_report, case_rows, gate_passes
from tuning.stubborn import stubborn_cases
from tuning.training import Outcome, TrainingSet, check_cancel, train_until_pass, validate
from tuning.tune_data import TuneData, batch_data


@contextlib.contextmanager
def cancel_on_signals(cancel: threading.Event) -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set `cancel` (training stops after the current step); a second signal
    raises KeyboardInterrupt at once. Main thread only; restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield cancel
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def load_stored(store: ModelStore, model_hash: str, model_s: ModelSettings,
                train_s: TrainSettings) -> Backend:
    """A stored model with the backend it was trained with."""
    meta = store.meta(model_hash)
    settings = type(model_s)(**{**asdict(model_s), "backend": meta.get("backend", model_s.backend)})
    backend = backends.create(settings, train_s)
    backend.load(store.load(model_hash))
    return backend


def tune_batch(repo: CaseRepo, batch_id: str, *, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> dict[str, Any]:
    emit = progress or ignore
    started = time.monotonic()
    repo.require_committed_config()  # it trains and judges with main's committed settings
    data = batch_data(repo, batch_id)
    assert data.batch is not None
    model_s, train_s = settings_from_config(repo.verdict_config)
    store = ModelStore(repo.model_store)
    lock = data.lock
    previous = lock["model"] if lock else None
    warnings: list[str] = []
    if previous:
        store.load(previous)  # raises MissingModel naming the hash: blame needs it
    backend = backends.create(model_s, train_s)
    name = backend.name
    from_previous = bool(previous) and model_s.start_from != "base" and not data.batch.bootstrap
    if from_previous and lock and lock.get("backend") != name:
        warnings.append(f"production model {previous} is a {lock.get('backend')} model; "
                        f"tuning the {name} backend from the base model instead")
        from_previous = False
    check_cancel(cancel)
    emit(Phase("loading", str(previous) if from_previous else model_s.base))
    backend.load(store.load(previous) if from_previous and previous else model_s.base)
    # the production weights, before the head grows: interpolation blends back towards them
    old_snapshot = (backend.snapshot() if from_previous and train_s.interpolate
                    and interpolation.supports(backend) else None)
    # the production model's labels: bias correction lowers those the batch adds
    production_labels = (list(backend.describe().get("labels") or []) if from_previous
                         and train_s.bias_correction and bias_correction.supports(backend)
                         else None)
    if from_previous and train_s.distill > 0 and hasattr(backend, "set_teacher"):
        emit(Phase("validating", "production model outputs to distil from"))
        backend.set_teacher([c.input for c in data.baseline + data.new])
    base_name = (lock or {}).get("base", model_s.base) if from_previous else model_s.base
    max_length = model_s.max_length

    previous_preds: list[Prediction] | None = None
    if previous:
        emit(Phase("validating", f"previous model {previous[:19]}"))
        loader: Backend | Any = backend if from_previous else (
            lambda: load_stored(store, previous, model_s, train_s))
        # baseline and watch: blame and the flips are both against the production model
        previous_preds, _ = predict_cases(data.baseline + data.watch, max_length,
                                          PredictionCache(store, previous) if dist.is_main() else None,
                                          loader)

    training = TrainingSet(data.baseline, data.new, data.watch)
    outcome = run_rounds(backend, training, train_s, repo.verdict_config["gate"], progress=emit,
                         cancel=cancel)
    # production's validation (run_rounds makes one for adaptive replay): θ(0)'s features
    start = outcome.start if old_snapshot is not None else None
    outcome = replace(outcome, start=None)  # not kept past its one use
    check_cancel(cancel)
    chosen: interpolation.Choice | None = None
    corrected: bias_correction.Correction | None = None
    watch_pass = ([passes(c, p.text) for c, p in
                   zip(data.watch, previous_preds[len(data.baseline):], strict=True)]
                  if previous_preds is not None else [])  # which watch cases production got right

    def gate(b: int, bt: int, n: int, nt: int) -> bool:
        return gate_passes(b, bt, n, nt, repo.verdict_config["gate"])

    if old_snapshot is not None and outcome.passed and previous_preds is not None:
        emit(Phase("interpolating", f"λ in {', '.join(map(str, interpolation.GRID))}"))
        chosen = interpolation.interpolate(backend, old_snapshot, training, outcome.validation,
                                           gate, watch_pass, train_s, start)
        outcome = replace(outcome, validation=chosen.validation)
        check_cancel(cancel)
    if production_labels is not None and outcome.passed and previous_preds is not None:
        emit(Phase("correcting", "the output bias of the labels this batch adds"))
        corrected = bias_correction.correct(backend, training, outcome.validation,
                                            production_labels, gate, watch_pass)
        if corrected is not None:
            outcome = replace(outcome, validation=corrected.validation)
    data.check_unchanged(repo)

    # Under torchrun / accelerate every rank trains; only rank 0 writes the model, the cache and
    # the report. The barrier raises if a rank died, so nothing is written then.
    dist.barrier()
    emit(Phase("saving"))
    preds = outcome.predictions
    model_hash = store.save(backend, {
        "base": base_name, "batch": data.batch.id, "created": now_iso(),
        "started_from": previous if from_previous else "base", "max_length": max_length,
    }) if dist.is_main() else None
    if model_hash:
        emit(Saved(model_hash))
        PredictionCache(store, model_hash).put(
            {input_key(c, max_length): p for c, p in zip(training.cases, preds, strict=True)})

    blame: list[str] = []
    if previous_preds is not None:
        nb = len(data.baseline)
        blame = [c.id for c, was, now in zip(data.baseline, previous_preds[:nb], preds[:nb],
                                             strict=True)
                 if passes(c, was.text) and not passes(c, now.text)]
    fields = outcome_fields(outcome, training, train_s, backend)
    if chosen is not None:
        fields["interpolation"] = chosen.record()
    if corrected is not None:
        fields["bias_correction"] = corrected.record()
    if previous and previous_preds is not None:
        watched = data.baseline + data.watch
        fields["flips"] = flips.flips(previous, case_rows(watched, [c.split for c in watched],
                                                          previous_preds),
                                      case_rows(training.cases, training.splits, preds))
    report = tune_report(data, fields, started,
                         kind="tune", model={
                             "hash": model_hash, "base": base_name, "backend": name,
                             "started_from": previous if from_previous and previous else "base"},
                         gate=repo.verdict_config["gate"], max_length=max_length, preds=preds,
                         training=training, previous=previous, blame=blame, warnings=warnings,
                         bwt_value=bwt(repo, {c.id: passes(c, p.text)
                                              for c, p in zip(training.cases, preds, strict=True)}))
    check_cancel(cancel)
    emit(Phase("reporting"))
    if dist.is_main():
        reports.write_report(repo, data.batch.id, report)
    return report


def run_rounds(backend: Backend, training: TrainingSet, train_s: TrainSettings,
               gate: dict[str, Any], *, progress: Progress, cancel: threading.Event | None,
               ) -> Outcome:
    """Prepare the model for every target, validate the start when the replay is adaptive, then
    train until the gate passes."""
    # every target checked before any training; watch cases never shape the model (no imprint)
    backend.prepare(examples_of(in_content_order(training.baseline, backend.name)
                                + in_content_order(training.new, backend.name), backend.name))
    start = None
    if train_s.replay == "adaptive" and len(training.baseline) > train_s.replay_size:
        progress(Phase("validating", f"{len(training.cases)} cases (choosing the replay)"))
        start = validate(backend, training, backend.name)
    return train_until_pass(backend, training, train_s,
                            lambda b, bt, n, nt: gate_passes(b, bt, n, nt, gate),
                            start=start, progress=progress, cancel=cancel)


def outcome_fields(outcome: Outcome, training: TrainingSet, train_s: TrainSettings,
                   backend: Backend) -> dict[str, Any]:
    """Report fields from the round loop: rounds, the best round, and the stubborn cases when
    the run ended short of passing."""
    stubborn: list[dict[str, Any]] = []
    if not outcome.passed:
        ok = [passes(c, p.text) for c, p in zip(training.cases, outcome.predictions, strict=True)]
        stubborn = stubborn_cases(training.cases, training.splits, outcome.predictions, ok,
                                  outcome.validation.embeddings)
    return {"rounds": outcome.rounds, "best_round": outcome.best_round,
            "hyperparameters": {**asdict(train_s), "max_length": backend.model_settings.max_length,
                                "optimizer": getattr(backend, "optim", "")},
            "seed": train_s.seed, "stubborn": stubborn}


def tune_report(data: TuneData, fields: dict[str, Any], started: float, *, kind: str,
                model: dict[str, Any], gate: dict[str, Any], max_length: int,
                preds: list[Prediction], training: TrainingSet, previous: str | None = None,
                blame: list[str] | None = None, warnings: list[str] | None = None,
                bwt_value: float | None = None) -> dict[str, Any]:
    extra = {k: v for k, v in fields.items() if k not in ("rounds", "best_round")}
    return build_report(kind=kind, batch=data.batch.id if data.batch else None, model=model,
                        cases=training.cases, splits=training.splits, preds=preds, gate=gate,
                        cases_tree=data.cases_tree, main_baseline_tree=data.main_baseline_tree,
                        max_length=max_length, started=started, rounds=fields["rounds"],
                        best_round=fields["best_round"], previous_model=previous, blame=blame,
                        bwt=bwt_value, warnings=warnings, extra=extra)
