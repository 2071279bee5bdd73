"""`evaluate`: run a stored model on the cases of a ref and build an "eval" report. Predictions
come from the prediction cache when the model has seen the same input before, so re-evaluating
unchanged cases costs nothing (the monitor relies on this)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from repo_store import gitio, lockfile
from repo_store.errors import UsageError
from repo_store.ids import now_iso
from repo_store.repo import MAIN, CaseRepo
from tuning.backends.base import Backend, settings_from_config
from tuning.cases_io import PredictionCache, predict_cases
from tuning.model_store import ModelStore
from tuning.progress import Phase, Progress, ignore
from tuning.tune import _rate, case_rows, score, truncation_warnings

logger = logging.getLogger(__name__)

SPLITS = ("baseline", "pending", "all")


def evaluate(repo: CaseRepo, model_hash: str | None = None, split: str = "baseline",
             ref: str = MAIN, *, progress: Progress | None = None,
             backend: Backend | None = None) -> dict[str, Any]:
    """`backend`: an already loaded model to use on cache misses (else it is loaded from the
    store only if some prediction is missing). The report's `new` score counts pending cases."""
    emit = progress or ignore
    started = time.monotonic()
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
    if model_hash is None:
        lock = lockfile.read_lock(repo)
        if lock is None:
            raise UsageError("no production model yet (models.lock is missing on main); "
                             "pass --model HASH")
        model_hash = lock["model"]
    store = ModelStore(repo.model_store)
    meta = store.meta(model_hash)  # raises MissingModel naming the hash
    if gitio.rev(repo.git, ref) is None:
        raise UsageError(f"no such ref {ref!r}")
    loaded = repo.load_ref(ref)
    warnings = [f"skipped {issue}" for issue in loaded.issues]
    wanted = ("baseline", "pending") if split == "all" else (split,)
    cases = [c for c in loaded.cases if c.split in wanted]
    model_s, train_s = settings_from_config(repo.verdict_config)
    max_length = int(meta.get("max_length", model_s.max_length))

    def load() -> Backend:
        from tuning import backends

        emit(Phase("loading", model_hash))
        settings = type(model_s)(**{**asdict(model_s), "backend": meta.get("backend", "classifier"),
                                    "max_length": max_length})
        fresh = backends.create(settings, train_s)
        fresh.load(store.load(model_hash))
        return fresh

    emit(Phase("validating", f"{len(cases)} cases"))
    preds, computed = predict_cases(cases, max_length, PredictionCache(store, model_hash),
                                    backend or load)
    rows = case_rows(cases, [c.split for c in cases], preds)
    base_cases = [(c, p) for c, p in zip(cases, preds, strict=True) if c.split == "baseline"]
    pend_cases = [(c, p) for c, p in zip(cases, preds, strict=True) if c.split == "pending"]
    b_ok, b_total, _ = score([c for c, _ in base_cases], [p for _, p in base_cases])
    n_ok, n_total, _ = score([c for c, _ in pend_cases], [p for _, p in pend_cases])
    gate = repo.verdict_config["gate"]
    if not cases:
        warnings.append(f"no {split} cases at {ref}")
    report: dict[str, Any] = {
        "kind": "eval",
        "batch": None,
        "created": now_iso(),
        "model": {"hash": model_hash, "base": str(meta.get("base", "")),
                  "backend": str(meta.get("backend", ""))},
        "cases_tree": repo.cases_tree(ref),
        "main_baseline_tree": gitio.tree_of(repo.git, MAIN, "cases/baseline"),
        "rounds": [],
        "best_round": None,
        "cases": rows,
        "summary": {
            "baseline": {"passed": b_ok, "total": b_total},
            "new": {"passed": n_ok, "total": n_total},
            "passed": (_rate(b_ok, b_total) >= gate["baseline_threshold"]
                       and _rate(n_ok, n_total) >= gate["new_threshold"]),
        },
        "previous_model": None,
        "blame": [],
        "bwt": None,
        "warnings": warnings + truncation_warnings(rows, max_length),
        "seconds": round(time.monotonic() - started, 3),
    }
    logger.info("eval %s: %d predictions computed, %d from the cache", model_hash, computed,
                len(cases) - computed)
    return report
