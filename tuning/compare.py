"""`straw compare A B`: both models on the same cases, the per-case flips, and McNemar's exact
test on the paired results (is B really better or worse than A, or is it noise?)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repo_store.flip_ledger import Ledger
from repo_store.forgetting import McNemar, mcnemar
from repo_store.repo import CaseRepo
from tuning.evaluate import evaluate
from tuning.progress import Progress


@dataclass
class Comparison:
    model_a: str
    model_b: str
    shared: int
    a_passed: int
    b_passed: int
    fixed: list[dict[str, Any]]  # A fails, B passes
    broken: list[dict[str, Any]]  # A passes, B fails
    test: McNemar


def compare_models(repo: CaseRepo, model_a: str, model_b: str, split: str = "all",
                   progress: Progress | None = None) -> Comparison:
    # the two models against each other only: no third model's flips
    a = {row["id"]: row for row in evaluate(repo, model_a, split, progress=progress,
                                             with_flips=False)["cases"]}
    b = {row["id"]: row for row in evaluate(repo, model_b, split, progress=progress,
                                             with_flips=False)["cases"]}
    shared = [case_id for case_id in a if case_id in b]
    a_pass = [a[i]["pass"] for i in shared]
    b_pass = [b[i]["pass"] for i in shared]

    def flip(case_id: str) -> dict[str, Any]:
        return {"id": case_id, "split": a[case_id]["split"], "expected": a[case_id]["expected"],
                "a": a[case_id]["predicted"], "b": b[case_id]["predicted"]}

    return Comparison(
        model_a, model_b, len(shared), sum(a_pass), sum(b_pass),
        fixed=[flip(i) for i in shared if b[i]["pass"] and not a[i]["pass"]],
        broken=[flip(i) for i in shared if a[i]["pass"] and not b[i]["pass"]],
        test=mcnemar(a_pass, b_pass),
    )


def watch_ledger(repo: CaseRepo, model: str, vs: str) -> Ledger:
    """The watch cases `vs` passes and `model` fails, both models run on main's watch split."""
    c = compare_models(repo, vs, model, "watch")
    return Ledger(None, vs, model, [
        {"id": f["id"], "expected": f["expected"], "production": f["a"], "candidate": f["b"]}
        for f in c.broken if f["split"] == "watch"])
