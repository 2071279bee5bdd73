"""`evaluate`: run a stored model on the cases of a ref and build an "eval" report. Predictions
come from the prediction cache when the model has seen the same input before, so re-evaluating
unchanged cases costs nothing (the monitor relies on this)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from repo_store import flips, gitio, lockfile
from repo_store.cases import Case
from repo_store.errors import UsageError
from repo_store.repo import MAIN, CaseRepo
from tuning.backends.base import Backend, ModelSettings, TrainSettings, settings_from_config
from tuning.cases_io import PredictionCache, predict_cases
from tuning.model_store import MissingModel, ModelStore
from tuning.progress import Phase, Predicted, Progress, ignore
from tuning.report import build_report, case_rows

logger = logging.getLogger(__name__)

SPLITS = ("baseline", "pending", "watch", "all")


def evaluate(repo: CaseRepo, model_hash: str | None = None, split: str = "baseline",
             ref: str = MAIN, *, progress: Progress | None = None,
             backend: Backend | None = None, with_flips: bool = True) -> dict[str, Any]:
    """`backend`: an already loaded model to use on cache misses (else it is loaded from the
    store only if some prediction is missing). The report's `new` score counts pending cases;
    watch cases are always included and count in neither score. `with_flips`: a model that is
    not production also gets its flips against production (which may load that model too)."""
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
    # watch cases ride along with every eval (and so every monitor run); they count in no score
    wanted = ("baseline", "pending", "watch") if split == "all" else (split, "watch")
    cases = [c for c in loaded.cases if c.split in wanted]
    model_s, train_s = settings_from_config(repo.verdict_config)
    max_length = int(meta.get("max_length", model_s.max_length))
    emit(Phase("validating", f"{len(cases)} cases"))
    preds, computed = predict_cases(cases, max_length, PredictionCache(store, model_hash),
                                    backend or loader(store, model_hash, model_s, train_s, emit),
                                    on_done=(lambda done, total: emit(Predicted(done, total)))
                                    if progress else None)
    if not cases:
        warnings.append(f"no {split} cases at {ref}")
    # a model that is not production is judged as a candidate: its flips against production
    lock = lockfile.read_lock(repo)
    production = lock["model"] if lock else None
    against: dict[str, Any] | None = None
    if with_flips and production and production != model_hash:
        rows = case_rows(cases, [c.split for c in cases], preds)
        against = production_flips(store, production, cases, rows,
                                   loader(store, production, model_s, train_s, emit), emit, warnings)
    report = build_report(
        kind="eval", batch=None, started=started, cases=cases, splits=[c.split for c in cases],
        preds=preds, gate=repo.verdict_config["gate"], max_length=max_length, warnings=warnings,
        model={"hash": model_hash, "base": str(meta.get("base", "")),
               "backend": str(meta.get("backend", ""))},
        cases_tree=repo.cases_tree(ref),
        main_baseline_tree=gitio.tree_of(repo.git, MAIN, "cases/baseline"),
        extra={"flips": against} if against else None)
    logger.info("eval %s: %d predictions computed, %d from the cache", model_hash, computed,
                len(cases) - computed)
    return report


def loader(store: ModelStore, model_hash: str, model_s: ModelSettings, train_s: TrainSettings,
           emit: Progress) -> Callable[[], Backend]:
    """Loads a stored model with the backend and max_length it was saved with (on a cache miss
    only: a fully cached eval never loads torch's weights)."""

    def load() -> Backend:
        from tuning import backends

        meta = store.meta(model_hash)
        emit(Phase("loading", model_hash))
        settings = type(model_s)(**{**asdict(model_s), "backend": meta.get("backend", "classifier"),
                                    "max_length": int(meta.get("max_length", model_s.max_length))})
        fresh = backends.create(settings, train_s)
        fresh.load(store.load(model_hash))
        return fresh

    return load


def production_flips(store: ModelStore, production: str, cases: list[Case],
                     rows: list[dict[str, Any]], load: Callable[[], Backend], emit: Progress,
                     warnings: list[str]) -> dict[str, Any] | None:
    """The report's `flips`: the evaluated model's baseline and watch rows against the production
    model's on the same cases, shaped as a tune report's. A production model missing from this
    machine's store costs the flips (a warning), not the eval."""
    paired = [c for c in cases if c.split in flips.FLIP_SPLITS]
    try:
        meta = store.meta(production)
    except MissingModel:
        warnings.append(f"no flips: the production model {production[:19]} is not in the model "
                        f"store at {store.root}")
        return None
    emit(Phase("validating", f"production model {production[:19]}, for the flips"))
    max_length = int(meta.get("max_length", 0)) or ModelSettings().max_length
    before, _ = predict_cases(paired, max_length, PredictionCache(store, production), load)
    return flips.flips(production, case_rows(paired, [c.split for c in paired], before), rows)
