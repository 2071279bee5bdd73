"""The merge's own check of a report: load the stored model the report names (its files hashed
again by the model store), run it on every case of the batch branch's current tip, without the
prediction cache, and hand the predictions to repo_store's merge, which merges only if they are
the report's, case for case. The cost is one validation pass (see benchmarks/merge_rerun.py).
The production model (main's models.lock) answers the branch's baseline and watch cases too, so
that the merge recomputes the report's flips and blame instead of believing them: from its
prediction cache (the tune wrote it), afresh where the report's model fails."""

from __future__ import annotations

from dataclasses import asdict

from repo_store import gitio, lockfile
from repo_store.batch_branches import require_batch
from repo_store.cases import Case
from repo_store.errors import NoSuchBatch
from repo_store.gate import GateRefused, branch_cases, check_gate
from repo_store.merge import Rerun, merge_batch
from repo_store.repo import CaseRepo
from repo_store.reports import read_report, report_path
from tuning import backends
from tuning.backends.base import Backend, ModelSettings, TrainSettings, settings_from_config
from tuning.cases_io import PredictionCache, passes, predict_cases
from tuning.model_store import ModelStore
from tuning.progress import Phase, Progress, ignore


def rerun_batch(repo: CaseRepo, batch_id: str, progress: Progress | None = None) -> Rerun:
    """The report's model run on every baseline and watch case of the branch's tip (baseline,
    the batch's new cases, watch: the order the tune predicted them in)."""
    emit = progress or ignore
    batch = require_batch(repo, batch_id)
    tip = gitio.rev(repo.git, f"refs/heads/{batch.branch}")
    if tip is None:
        raise NoSuchBatch(f"batch {batch.id} has no branch (merged or rejected)")
    report = read_report(repo, batch.id, tip)
    if report is None:
        raise GateRefused(f"{batch.branch} has no {report_path(batch.id)}")
    model_hash = report["model"]["hash"]
    store = ModelStore(repo.model_store)
    emit(Phase("loading", model_hash))
    folder = store.load(model_hash)  # MissingModel / TamperedModel name the hash
    meta = store.meta(model_hash)
    model_s, train_s = settings_from_config(repo.verdict_config)
    settings = type(model_s)(**{**asdict(model_s), "backend": meta.get("backend", model_s.backend),
                                "max_length": int(meta.get("max_length", model_s.max_length))})
    backend = backends.create(settings, train_s)
    backend.load(folder)
    found = branch_cases(repo, batch, tip)
    cases = [c for part in ("baseline", "new", "watch") for c, split in found if split == part]
    emit(Phase("validating", f"{len(cases)} cases"))
    preds = backend.predict([c.input for c in cases]) if cases else []
    predicted: dict[str, str | None] = {c.id: p.text for c, p in zip(cases, preds, strict=True)}
    production = (lockfile.read_lock(repo) or {}).get("model")
    before = production_answers(store, production, found, predicted, settings, train_s, emit) \
        if production else {}
    return Rerun(batch.id, tip, model_hash, predicted, production, before)


def production_answers(store: ModelStore, production: str, found: list[tuple[Case, str]],
                       predicted: dict[str, str | None], settings: ModelSettings,
                       train_s: TrainSettings, emit: Progress) -> dict[str, str | None]:
    """The production model's answers on the branch's baseline and watch cases, as the tune
    got them (the candidate's max_length; the production model's own stored backend). From its
    prediction cache, except where the candidate fails: only there can a case be a negative
    flip or blame, so those are computed afresh (a cache line cannot hide one)."""
    from tuning.tune import load_stored  # the engine's loader, with the stored backend

    watched = [c for c, split in found if split in ("baseline", "watch")]
    emit(Phase("validating", f"production model {production[:19]} on {len(watched)} cases"))
    loaded: list[Backend] = []

    def model() -> Backend:
        if not loaded:
            loaded.append(load_stored(store, production, settings, train_s))
        return loaded[0]

    # where the report's model fails, production is asked afresh; elsewhere its cache may answer
    failing = [c for c in watched if not passes(c, predicted[c.id])]
    answers: dict[str, str | None] = {}
    if failing:
        fresh = model().predict([c.input for c in failing])
        answers |= {c.id: p.text for c, p in zip(failing, fresh, strict=True)}
    rest = [c for c in watched if c.id not in answers]
    cached, _ = predict_cases(rest, settings.max_length, PredictionCache(store, production), model)
    answers |= {c.id: p.text for c, p in zip(rest, cached, strict=True)}
    return answers


def merge_checked(repo: CaseRepo, batch_id: str, progress: Progress | None = None) -> str:
    """Gate, rerun the model, merge: what `straw merge` and the TUI's merge do. Returns the merge
    commit id."""
    batch = require_batch(repo, batch_id)
    result = check_gate(repo, batch.id)
    if not result.passed:  # before loading a model: the cheap refusals first
        raise GateRefused(f"gate refused {batch.branch}: {result.reason}")
    return merge_batch(repo, batch.id, rerun=rerun_batch(repo, batch.id, progress))
