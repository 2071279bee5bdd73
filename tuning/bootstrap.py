"""The first production model of a repository whose baseline came in through a bootstrap commit
(`straw init --demo`): train the base model on main's baseline until every case passes, store
it, and commit it to models.lock (reason "bootstrap"). Later models come from batch tunes."""

from __future__ import annotations

import threading
import time
from typing import Any

from repo_store import checks, lockfile
from repo_store.errors import StrawError, UsageError, ValidationFailed
from repo_store.ids import now_iso
from repo_store.repo import MAIN, CaseRepo
from tuning import backends
from tuning.backends.base import TrainHooks, settings_from_config
from tuning.cases_io import PredictionCache, examples_of, input_key, passes
from tuning.errors import Cancelled
from tuning.model_store import ModelStore
from tuning.progress import Phase, Progress, RoundDone, RoundStarted, Saved, Step, ignore


def train_baseline(repo: CaseRepo, *, progress: Progress | None = None,
                   cancel: threading.Event | None = None,
                   promote_failing: bool = False) -> dict[str, Any]:
    """Returns the new models.lock. Refuses when a production model exists already, and (unless
    `promote_failing`: the demo's imperfect starting model) when the model fails a case."""
    emit = progress or ignore
    if lockfile.read_lock(repo) is not None:
        raise UsageError("models.lock already names a production model; tune a batch instead")
    loaded = repo.load_ref(MAIN)
    if loaded.issues:
        raise ValidationFailed(loaded.issues)
    baseline = loaded.split("baseline")
    if not baseline:
        raise UsageError("main has no baseline cases to train on")
    issues = checks.cross_issues(baseline)
    if issues:
        raise ValidationFailed(issues)
    model_s, train_s = settings_from_config(repo.verdict_config)
    backend = backends.create(model_s, train_s)
    emit(Phase("loading", model_s.base))
    backend.load(model_s.base)
    examples = examples_of(baseline, backend.name)
    backend.prepare(examples)
    inputs = [c.input for c in baseline]
    steps = -(-len(examples) // train_s.batch_size) * int(train_s.epochs_per_round)
    hooks = TrainHooks(on_step=lambda s, total, loss: emit(Step(s, total, loss)), cancel=cancel)
    passed = 0
    for number in range(1, train_s.max_iterations + 1):
        emit(RoundStarted(number, train_s.max_iterations, steps))
        started = time.monotonic()
        loss = backend.train(examples, int(train_s.epochs_per_round), hooks,
                             seed=train_s.seed + number - 1)
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled: nothing was written")
        emit(Phase("validating", f"{len(inputs)} cases"))
        preds = backend.predict(inputs)
        passed = sum(passes(c, p.text) for c, p in zip(baseline, preds, strict=True))
        emit(RoundDone(number, loss, passed / len(baseline), 1.0, round(time.monotonic() - started, 3)))
        if passed == len(baseline):
            break
    if passed < len(baseline) and not promote_failing:  # `straw tune --baseline`: the contract holds
        raise StrawError(f"the model passes {passed}/{len(baseline)} baseline cases after "
                         f"{train_s.max_iterations} rounds: not promoted, models.lock unchanged")
    emit(Phase("saving"))
    store = ModelStore(repo.model_store)
    model_hash = store.save(backend, {"base": model_s.base, "batch": None, "created": now_iso(),
                                      "started_from": "base", "max_length": model_s.max_length})
    emit(Saved(model_hash))
    PredictionCache(store, model_hash).put(
        {input_key(c, model_s.max_length): p for c, p in zip(baseline, preds, strict=True)})
    lock = {"model": model_hash, "backend": backend.name, "base": model_s.base, "batch": None,
            "promoted": now_iso(), "reason": "bootstrap",
            "baseline": {"passed": passed, "total": len(baseline)}}
    lockfile.commit_lock(repo, lock, (
        f"Train the first production model on the baseline\n\n"
        f"{model_hash[:19]} passes {passed}/{len(baseline)} baseline cases.\n\n"
        f"Straw-Bootstrap: model\nStraw-Model: {model_hash}\n"
        f"Straw-Baseline: {passed}/{len(baseline)}\n"))
    return lock
