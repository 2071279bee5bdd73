"""Reports from real predictions of a trivial rule, for tests of the batch workflow that should
not pay for training. The engine builds its reports the same way (repo_store's writer)."""

from __future__ import annotations

from collections.abc import Callable

from repo_store import gitio, matching
from repo_store.batches import branch_name, split_cases
from repo_store.cases import Case
from repo_store.ids import now_iso
from repo_store.repo import CaseRepo

MODEL = "sha256:" + "ab" * 32


def memorizer(c: Case) -> str:
    """A 'model' that has learned every case it is shown."""
    return str(c.expected)


def rule_report(repo: CaseRepo, batch_id: str, predict: Callable[[Case], str] = memorizer,
                model: str = MODEL) -> dict:
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
    summary = {k: {"passed": v[0], "total": v[1]} for k, v in score.items()}
    summary["passed"] = all(v[0] == v[1] for v in score.values())
    return {
        "kind": "tune", "batch": batch_id, "created": now_iso(),
        "model": {"hash": model, "base": "rule", "backend": "rule"},
        "hyperparameters": {}, "seed": 0,
        "cases_tree": repo.cases_tree(branch_name(batch_id)),
        "main_baseline_tree": gitio.tree_of(repo.git, "main", "cases/baseline"),
        "rounds": [{"round": 1, "loss": 0.0, "baseline_pass": 1.0, "new_pass": 1.0, "seconds": 0.0}],
        "best_round": 1, "cases": sorted(rows, key=lambda r: r["pass"]), "summary": summary,
        "previous_model": None, "blame": [], "bwt": None, "warnings": [], "seconds": 0.0,
    }
