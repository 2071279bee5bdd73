"""`tune_batch`: train on baseline + batch, validate every case after each round, stop when both
splits pass (or at `max_iterations`), store the best round's model, commit the report on the
batch branch. Nothing is written before the end: a cancelled or crashed tune leaves the branch
and the model store as they were (the store may gain a complete, unreferenced model at most)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from repo_store import batches, checks, gitio, lockfile, reports
from repo_store.cases import Case
from repo_store.errors import NoSuchBatch, StrawError, ValidationFailed
from repo_store.forgetting import bwt
from repo_store.ids import now_iso
from repo_store.repo import MAIN, CaseRepo
from tuning import backends
from tuning.backends import dist
from tuning.backends.base import Backend, Prediction, TrainHooks, settings_from_config
from tuning.cases_io import PredictionCache, examples_of, input_key, passes, predict_cases
from tuning.errors import Cancelled
from tuning.model_store import ModelStore
from tuning.progress import Phase, Progress, RoundDone, RoundStarted, Saved, Step, ignore

logger = logging.getLogger(__name__)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled: nothing was written")


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


def score(cases: list[Case], preds: list[Prediction]) -> tuple[int, int, list[bool]]:
    ok = [passes(c, p.text) for c, p in zip(cases, preds, strict=True)]
    return sum(ok), len(ok), ok


def _rate(passed: int, total: int) -> float:
    return passed / total if total else 1.0


def case_rows(cases: list[Case], splits: list[str], preds: list[Prediction]) -> list[dict]:
    return [{"id": c.id, "split": split, "expected": c.expected, "predicted": p.text,
             "pass": passes(c, p.text), "truncated": p.truncated}
            for c, split, p in zip(cases, splits, preds, strict=True)]


def truncation_warnings(rows: list[dict], max_length: int) -> list[str]:
    return [f"{row['id']}: input longer than max_length ({max_length} tokens), truncated"
            for row in rows if row.get("truncated")]


def tune_batch(repo: CaseRepo, batch_id: str, *, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> dict[str, Any]:
    emit = progress or ignore
    started = time.monotonic()
    repo.require_committed_config()  # it trains and judges with main's committed settings
    batch = batches.require_batch(repo, batch_id)
    branch = batches.branch_name(batch.id)
    if gitio.rev(repo.git, f"refs/heads/{branch}") is None:
        raise NoSuchBatch(f"batch {batch.id} is already merged: nothing to tune")
    cases_tree = repo.cases_tree(branch)
    main_baseline_tree = gitio.tree_of(repo.git, MAIN, "cases/baseline")
    baseline, new = batches.split_cases(repo, batch.id)
    if not new:
        raise StrawError(f"{branch}: the batch holds no cases")
    issues = checks.cross_issues(baseline + new)
    if issues:
        raise ValidationFailed(issues)

    model_s, train_s = settings_from_config(repo.verdict_config)
    store = ModelStore(repo.model_store)
    lock = lockfile.read_lock(repo)
    previous = lock["model"] if lock else None
    warnings: list[str] = []
    if previous:
        store.load(previous)  # raises MissingModel naming the hash: blame needs it
    backend = backends.create(model_s, train_s)
    name = backend.name
    all_cases = baseline + new
    train_examples = (examples_of(baseline, name)
                      + examples_of(new, name, train_s.new_case_weight))  # checks targets early
    from_previous = bool(previous) and model_s.start_from != "base" and not batch.bootstrap
    if from_previous and lock and lock.get("backend") != name:
        warnings.append(f"production model {previous} is a {lock.get('backend')} model; "
                        f"tuning the {name} backend from the base model instead")
        from_previous = False
    _check(cancel)
    emit(Phase("loading", str(previous) if from_previous else model_s.base))
    backend.load(store.load(previous) if from_previous and previous else model_s.base)
    base_name = (lock or {}).get("base", model_s.base) if from_previous else model_s.base
    max_length = model_s.max_length

    previous_preds: list[Prediction] | None = None
    if previous:
        emit(Phase("validating", f"previous model {previous[:19]}"))
        loader: Backend | Any = backend if from_previous else (
            lambda: _load_stored(store, previous, model_s, train_s))
        previous_preds, _ = predict_cases(baseline, max_length,
                                          PredictionCache(store, previous) if dist.is_main() else None,
                                          loader)

    backend.prepare(train_examples)
    inputs = [c.input for c in all_cases]
    n_base = len(baseline)
    thresholds = repo.verdict_config["gate"]
    epochs = train_s.epochs_per_round
    steps = -(-len(train_examples) // train_s.batch_size) * epochs
    rounds: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    hooks = TrainHooks(on_step=lambda s, total, loss: emit(Step(s, total, loss)), cancel=cancel)
    for number in range(1, train_s.max_iterations + 1):
        _check(cancel)
        emit(RoundStarted(number, train_s.max_iterations, steps))
        t0 = time.monotonic()
        loss = backend.train(train_examples, epochs, hooks, seed=train_s.seed + number - 1)
        _check(cancel)
        emit(Phase("validating", f"{len(inputs)} cases"))
        preds = backend.predict(inputs)
        b_ok, b_total, _ = score(baseline, preds[:n_base])
        n_ok, n_total, _ = score(new, preds[n_base:])
        b_rate, n_rate = _rate(b_ok, b_total), _rate(n_ok, n_total)
        seconds = round(time.monotonic() - t0, 3)
        rounds.append({"round": number, "loss": loss, "baseline_pass": b_rate,
                       "new_pass": n_rate, "seconds": seconds})
        emit(RoundDone(number, loss, b_rate, n_rate, seconds))
        gate_ok = b_rate >= thresholds["baseline_threshold"] and n_rate >= thresholds["new_threshold"]
        key = (gate_ok, b_ok + n_ok, b_ok)
        if best is None or key > best["key"]:
            last = gate_ok or number == train_s.max_iterations
            best = {"key": key, "round": number, "preds": preds,
                    "snap": None if last else backend.snapshot()}
        if gate_ok:
            break
    assert best is not None
    if best["round"] != rounds[-1]["round"]:
        backend.restore(best["snap"])
    best["snap"] = None
    _check(cancel)
    now_tree = repo.cases_tree(branch)
    if now_tree != cases_tree:
        raise StrawError(f"{branch}: cases changed during tuning ({cases_tree[:10]} → "
                         f"{now_tree[:10]}); no report written, tune again")

    # Under torchrun / accelerate every rank trains; only rank 0 writes the model, the cache and
    # the report. The barrier raises if a rank died, so nothing is written then.
    dist.barrier()
    emit(Phase("saving"))
    preds = best["preds"]
    model_hash = store.save(backend, {
        "base": base_name, "batch": batch.id, "created": now_iso(),
        "started_from": previous if from_previous else "base", "max_length": max_length,
    }) if dist.is_main() else None
    if model_hash:
        emit(Saved(model_hash))
        PredictionCache(store, model_hash).put(
            {input_key(c, max_length): p for c, p in zip(all_cases, preds, strict=True)})

    splits = ["baseline"] * n_base + ["new"] * len(new)
    rows = case_rows(all_cases, splits, preds)
    b_ok, b_total, b_pass = score(baseline, preds[:n_base])
    n_ok, n_total, _ = score(new, preds[n_base:])
    blame: list[str] = []
    if previous_preds is not None:
        blame = [c.id for c, was, now in zip(baseline, previous_preds, b_pass, strict=True)
                 if passes(c, was.text) and not now]
    warnings += truncation_warnings(rows, max_length)
    report: dict[str, Any] = {
        "kind": "tune",
        "batch": batch.id,
        "created": now_iso(),
        "model": {"hash": model_hash, "base": base_name, "backend": name,
                  "started_from": previous if from_previous and previous else "base"},
        "hyperparameters": {**asdict(train_s), "max_length": max_length,
                            "optimizer": getattr(backend, "optim", "")},
        "seed": train_s.seed,
        "cases_tree": cases_tree,
        "main_baseline_tree": main_baseline_tree,
        "rounds": rounds,
        "best_round": best["round"],
        "cases": rows,
        "summary": {
            "baseline": {"passed": b_ok, "total": b_total},
            "new": {"passed": n_ok, "total": n_total},
            "passed": (_rate(b_ok, b_total) >= thresholds["baseline_threshold"]
                       and _rate(n_ok, n_total) >= thresholds["new_threshold"]),
        },
        "previous_model": previous,
        "blame": blame,
        "bwt": bwt(repo, {row["id"]: row["pass"] for row in rows}),
        "warnings": warnings,
        "seconds": 0.0,
    }
    _check(cancel)
    emit(Phase("reporting"))
    report["seconds"] = round(time.monotonic() - started, 3)
    if dist.is_main():
        reports.write_report(repo, batch.id, report)
    return report


def _load_stored(store: ModelStore, model_hash: str, model_s: Any, train_s: Any) -> Backend:
    meta = store.meta(model_hash)
    settings = type(model_s)(**{**asdict(model_s), "backend": meta.get("backend", model_s.backend)})
    backend = backends.create(settings, train_s)
    backend.load(store.load(model_hash))
    return backend
