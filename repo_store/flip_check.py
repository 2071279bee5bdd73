"""The merge's check of a report's flips and blame: both are recomputed from the rerun (the
production model named by main's models.lock and the report's model, each run on the branch's
baseline and watch cases) and must be what the report says. The gate's watch rule and its blame
rule read the report's fields; a report edited to drop a flip, or tuned against a production
model that is no longer production, is refused here, before main moves."""

from __future__ import annotations

from typing import Any

from repo_store import matching
from repo_store.cases import Case
from repo_store.flips import FLIP_SPLITS, flips
from repo_store.gate import GateRefused


class FlipsDisagree(GateRefused):
    pass


def recomputed_flips(production: str, cases: list[tuple[Case, str]],
                     production_predicted: dict[str, str | None],
                     candidate_predicted: dict[str, str | None]) -> dict[str, Any]:
    """The `flips` field the report should hold: every (case, split) of `cases` in a flip split,
    judged by its own match rule under each model's prediction."""
    def rows(predicted: dict[str, str | None]) -> list[dict[str, Any]]:
        out = []
        for case, split in cases:
            if split not in FLIP_SPLITS:
                continue
            if case.id not in predicted:
                raise FlipsDisagree(f"the rerun has no prediction for case {case.id}")
            got = predicted[case.id]
            out.append({"id": case.id, "split": split, "expected": case.expected,
                        "predicted": got, "pass": matching.passes(case.match, case.expected, got)})
        return out

    return flips(production, rows(production_predicted), rows(candidate_predicted))


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return sorted(e["id"] for e in entries)


def _in_id_order(entry: dict[str, Any]) -> dict[str, Any]:
    """A split's flips with both lists by case id (the report lists them in training order)."""
    return {**entry, **{kind: sorted(entry.get(kind) or [], key=lambda e: e["id"])
                        for kind in ("negative", "positive")}}


def check_flips(report: dict[str, Any], production: str | None,
                recomputed: dict[str, Any] | None) -> None:
    """Refuse (FlipsDisagree, one line) unless the report's flips and blame are `recomputed`'s:
    the same production model, and per split the same negative and positive flips with the same
    predictions and counts. `production`: main's models.lock model (None: no production yet,
    and then the report must hold no flips)."""
    reported = report.get("flips")
    if production is None or recomputed is None:
        if reported:
            raise FlipsDisagree(f"the report has flips against {reported.get('production')}, "
                                f"but main names no production model")
        return
    if not reported or reported.get("production") != production:
        raise FlipsDisagree(f"the report's flips are not against the production model "
                            f"{production[:19]}; tune the batch again")
    for split in FLIP_SPLITS:
        mine, theirs = recomputed[split], reported.get(split) or {}
        for kind in ("negative", "positive"):
            want, got = _ids(mine[kind]), _ids(theirs.get(kind) or [])
            if want != got:
                raise FlipsDisagree(
                    f"the report's {split} {kind} flips disagree with the rerun of "
                    f"{production[:19]} and {report['model']['hash'][:19]}: the report lists "
                    f"{', '.join(got) or 'none'}, the rerun finds {', '.join(want) or 'none'}")
        if _in_id_order(mine) != _in_id_order(theirs):
            raise FlipsDisagree(f"the report's {split} flips (counts, predictions or McNemar's p) "
                                f"disagree with the rerun of {production[:19]}")
    blame, claimed = _ids(recomputed["baseline"]["negative"]), sorted(report.get("blame") or [])
    if claimed != blame:
        raise FlipsDisagree(f"the report's blame ({', '.join(claimed) or 'none'}) is not the "
                            f"baseline cases production passed and the model fails "
                            f"({', '.join(blame) or 'none'})")
