"""Reports from real predictions of a trivial rule, for tests of the batch workflow that should
not pay for training. The engine builds its reports the same way (repo_store's writer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from repo_store import gitio, lockfile, matching
from repo_store.batches import branch_name, split_cases
from repo_store.cases import Case
from repo_store.flips import flips
from repo_store.ids import now_iso
from repo_store.merge import Rerun, merge_batch
from repo_store.repo import CaseRepo

MODEL = "sha256:" + "ab" * 32


def memorizer(c: Case) -> str:
    """A 'model' that has learned every case it is shown."""
    return str(c.expected)


def rule_report(repo: CaseRepo, batch_id: str, predict: Callable[[Case], str] = memorizer,
                model: str = MODEL, production: Callable[[Case], str] = memorizer) -> dict:
    """`production`: what main's models.lock model answers (when there is one), from which the
    report's flips and blame are computed, as a tune computes them."""
    baseline, new = split_cases(repo, batch_id)
    rows = []
    score = {"baseline": [0, 0], "new": [0, 0]}
    for split, group in (("baseline", baseline), ("new", new)):
        for case in group:
            predicted = predict(case)
            ok = matching.passes(case.match, case.expected, predicted)
            rows.append({"id": case.id, "split": split, "expected": case.expected,
                         "predicted": predicted, "pass": ok})
            score[split][0] += ok
            score[split][1] += 1
    summary: dict[str, Any] = {k: {"passed": v[0], "total": v[1]} for k, v in score.items()}
    summary["passed"] = all(v[0] == v[1] for v in score.values())
    lock = lockfile.read_lock(repo)
    before = [{"id": c.id, "split": "baseline", "expected": c.expected,
               "predicted": production(c), "pass": matching.passes(c.match, c.expected,
                                                                    production(c))}
              for c in baseline]
    found = flips(lock["model"], before, rows) if lock else None
    report = {
        "kind": "tune", "batch": batch_id, "created": now_iso(),
        "model": {"hash": model, "base": "rule", "backend": "rule"},
        "hyperparameters": {}, "seed": 0,
        "cases_tree": repo.cases_tree(branch_name(batch_id)),
        "main_baseline_tree": gitio.tree_of(repo.git, "main", "cases/baseline"),
        "rounds": [{"round": 1, "loss": 0.0, "baseline_pass": 1.0, "new_pass": 1.0, "seconds": 0.0}],
        "best_round": 1, "cases": sorted(rows, key=lambda r: r["pass"]), "summary": summary,
        "previous_model": lock["model"] if lock else None,
        "blame": [f["id"] for f in found["baseline"]["negative"]] if found else [],
        "bwt": None, "warnings": [], "seconds": 0.0,
    }
    if found:
        report["flips"] = found
    return report


def rule_rerun(repo: CaseRepo, batch_id: str, predict: Callable[[Case], str] = memorizer,
               model: str = MODEL, production: Callable[[Case], str] = memorizer) -> Rerun:
    """The rule 'model' run again on the branch as it is now, as tuning.recheck reruns a stored
    model, and `production` as main's models.lock model (when there is one) on the branch's
    baseline and watch cases: what the store's merge compares with the report."""
    baseline, new = split_cases(repo, batch_id)
    tip = gitio.rev(repo.git, f"refs/heads/{branch_name(batch_id)}")
    assert tip
    watch = repo.load_ref(tip).split("watch")
    lock = lockfile.read_lock(repo)
    return Rerun(batch_id, tip, model, {c.id: predict(c) for c in baseline + new + watch},
                 lock["model"] if lock else None,
                 {c.id: production(c) for c in baseline + watch} if lock else {})


def merge_by_rule(repo: CaseRepo, batch_id: str, predict: Callable[[Case], str] = memorizer,
                  model: str = MODEL) -> str:
    return merge_batch(repo, batch_id, rerun=rule_rerun(repo, batch_id, predict, model))


def stored_tiny_model(repo: CaseRepo, tiny: Path) -> tuple[str, Callable[[list[Case]], list[str]]]:
    """A real tiny classifier (random weights, the repository's labels) saved in the repository's
    model store: (its hash, a batched predict over cases). Its predictions are real, so a report
    built from them is what `straw merge`'s rerun reproduces; it fails many cases, so a test
    that wants it to pass sets main's thresholds with `straw config set`."""
    from dataclasses import replace

    from tuning import backends
    from tuning.backends.base import Example, settings_from_config
    from tuning.model_store import ModelStore

    model_s, train_s = settings_from_config(repo.verdict_config)
    model_s = replace(model_s, base=str(tiny), max_length=32)
    backend = backends.create(model_s, train_s)
    backend.load(tiny)
    cases = repo.load().cases
    backend.prepare([Example(c.input, str(c.expected), c.id) for c in cases])
    model = ModelStore(repo.model_store).save(backend, {"base": str(tiny), "created": now_iso(),
                                                        "max_length": 32})
    return model, lambda group: [p.text for p in backend.predict([c.input for c in group])]


def model_report(repo: CaseRepo, batch_id: str, model: str,
                 predict_all: Callable[[list[Case]], list[str]]) -> dict:
    """rule_report with one batched prediction over baseline + new, in the rerun's order; the
    production model (if main names one) answered the same, so there are no flips to gate on."""
    baseline, new = split_cases(repo, batch_id)
    predicted = dict(zip([c.id for c in baseline + new], predict_all(baseline + new), strict=True))
    return rule_report(repo, batch_id, lambda c: predicted[c.id], model,
                       production=lambda c: predicted[c.id])
