"""The one builder of validation reports (schemas/report.schema.json) for tune, bootstrap and
eval: per-case rows, the summary against the gate's thresholds, truncation warnings."""

from __future__ import annotations

import time
from typing import Any

from repo_store.cases import Case
from repo_store.ids import now_iso
from tuning.backends.base import Prediction
from tuning.cases_io import passes

NEW_SPLITS = ("new", "pending")  # an eval counts pending cases where a tune counts the batch's


def rate(passed: int, total: int) -> float:
    return passed / total if total else 1.0


def score(cases: list[Case], preds: list[Prediction]) -> tuple[int, int, list[bool]]:
    ok = [passes(c, p.text) for c, p in zip(cases, preds, strict=True)]
    return sum(ok), len(ok), ok


def gate_passes(b_ok: int, b_total: int, n_ok: int, n_total: int, gate: dict[str, Any]) -> bool:
    return (rate(b_ok, b_total) >= gate["baseline_threshold"]
            and rate(n_ok, n_total) >= gate["new_threshold"])


def case_rows(cases: list[Case], splits: list[str], preds: list[Prediction]) -> list[dict[str, Any]]:
    return [{"id": c.id, "split": split, "expected": c.expected, "predicted": p.text,
             "pass": passes(c, p.text), "truncated": p.truncated}
            for c, split, p in zip(cases, splits, preds, strict=True)]


def truncation_warnings(rows: list[dict[str, Any]], max_length: int) -> list[str]:
    return [f"{row['id']}: input longer than max_length ({max_length} tokens), truncated"
            for row in rows if row.get("truncated")]


def build_report(*, kind: str, batch: str | None, model: dict[str, Any], cases: list[Case],
                 splits: list[str], preds: list[Prediction], gate: dict[str, Any],
                 cases_tree: str, main_baseline_tree: str, max_length: int, started: float,
                 rounds: list[dict[str, Any]] | None = None, best_round: int | None = None,
                 previous_model: str | None = None, blame: list[str] | None = None,
                 bwt: float | None = None, warnings: list[str] | None = None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`extra`: optional report fields (hyperparameters, seed, stubborn, replay…), added as is.
    `started`: time.monotonic() when the run began (the report's `seconds`)."""
    rows = case_rows(cases, splits, preds)
    base = [r["pass"] for r in rows if r["split"] == "baseline"]
    new = [r["pass"] for r in rows if r["split"] in NEW_SPLITS]
    b_ok, n_ok = sum(base), sum(new)
    report: dict[str, Any] = {
        "kind": kind,
        "batch": batch,
        "created": now_iso(),
        "model": model,
        **{k: v for k, v in (extra or {}).items() if k in ("hyperparameters", "seed")},
        "cases_tree": cases_tree,
        "main_baseline_tree": main_baseline_tree,
        "rounds": rounds or [],
        "best_round": best_round,
        "cases": rows,
        "summary": {
            "baseline": {"passed": b_ok, "total": len(base)},
            "new": {"passed": n_ok, "total": len(new)},
            "passed": gate_passes(b_ok, len(base), n_ok, len(new), gate),
        },
        "previous_model": previous_model,
        "blame": blame or [],
        "bwt": bwt,
        **{k: v for k, v in (extra or {}).items() if k not in ("hyperparameters", "seed")},
        "warnings": (warnings or []) + truncation_warnings(rows, max_length),
        "seconds": round(time.monotonic() - started, 3),
    }
    return report
