"""Cases a tune or bootstrap could not teach, named with the cases that may contradict them: the
nearest validated cases (by the model's own embeddings) that expect something else. A person can
then fix the data instead of adding rounds (real data sets carry label errors)."""

from __future__ import annotations

import json
from typing import Any

from repo_store.cases import Case
from tuning.backends.base import Prediction

NEIGHBOURS = 3


def _expected(case: Case) -> str:
    return json.dumps(case.expected, sort_keys=True, ensure_ascii=False)


def stubborn_cases(cases: list[Case], splits: list[str], preds: list[Prediction],
                   passed: list[bool], embeddings: Any) -> list[dict[str, Any]]:
    """One entry per failing case, with up to NEIGHBOURS "possible contradiction" cases. Without
    embeddings (a backend that gives none) only cases with the same input text are named."""
    failing = [i for i, ok in enumerate(passed) if not ok]
    if not failing:
        return []
    expected = [_expected(c) for c in cases]
    out = []
    for i in failing:
        if embeddings is not None and len(embeddings) == len(cases):
            sims = (embeddings @ embeddings[i]).tolist()
        else:
            text = json.dumps(cases[i].input, sort_keys=True)
            sims = [1.0 if json.dumps(c.input, sort_keys=True) == text else 0.0 for c in cases]
        order = sorted((j for j in range(len(cases)) if j != i and expected[j] != expected[i]
                        and sims[j] > 0), key=lambda j: -sims[j])
        out.append({
            "id": cases[i].id, "split": splits[i], "expected": cases[i].expected,
            "predicted": preds[i].text,
            "possible_contradictions": [
                {"id": cases[j].id, "split": splits[j], "expected": cases[j].expected,
                 "similarity": round(float(sims[j]), 4)} for j in order[:NEIGHBOURS]],
        })
    return out
