"""Flips of a model update, per case against the production model (Yan et al. 2021, "Positive-
Congruent Training"): negative flips (the production model was right, the candidate is wrong),
positive flips (the reverse), the negative flip rate, and McNemar's exact test over the
discordant pairs. Computed from report-shaped rows, so no model is needed here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from repo_store.forgetting import mcnemar
from repo_store.wording import plural

FLIP_SPLITS = ("baseline", "watch")
# Two-sided exact McNemar cannot reach p < 0.05 with fewer discordant pairs (2 * 0.5**5 = 0.0625).
MIN_DISCORDANT = 6


def _flip(row: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "expected": row["expected"], "production": before["predicted"],
            "candidate": row["predicted"]}


def split_flips(before: dict[str, dict[str, Any]], after: Iterable[dict[str, Any]]
                ) -> dict[str, Any]:
    """`before`: {case id: row} of the production model; `after`: the candidate's rows of one
    split. Cases the production model never saw are left out (and counted in `unpaired`)."""
    rows = list(after)
    paired = [(row, before[row["id"]]) for row in rows if row["id"] in before]
    negative = [_flip(r, b) for r, b in paired if b["pass"] and not r["pass"]]
    positive = [_flip(r, b) for r, b in paired if r["pass"] and not b["pass"]]
    test = mcnemar([b["pass"] for _, b in paired], [r["pass"] for r, _ in paired])
    discordant = len(negative) + len(positive)
    note = None
    if discordant < MIN_DISCORDANT:
        note = (f"{discordant} discordant pair{'s' if discordant != 1 else ''}: too few for "
                f"McNemar's test to tell anything (it needs {MIN_DISCORDANT} to reach p < 0.05)")
    return {
        "cases": len(paired),
        "unpaired": len(rows) - len(paired),
        "negative": negative,
        "positive": positive,
        "nfr": round(len(negative) / len(paired), 6) if paired else 0.0,
        "mcnemar_p": round(test.p_value, 6),
        "note": note,
    }


def flips(production: str, before: list[dict[str, Any]], after: list[dict[str, Any]]
          ) -> dict[str, Any]:
    """The report's `flips` field: per split (baseline, watch), the candidate's rows `after`
    against the production model's rows `before` (both report-shaped: id, split, expected,
    predicted, pass)."""
    by_id = {row["id"]: row for row in before}
    return {"production": production,
            **{split: split_flips(by_id, (r for r in after if r["split"] == split))
               for split in FLIP_SPLITS}}


def summary_line(split: str, entry: dict[str, Any]) -> str:
    """One line for `batch show` and `pr-body`."""
    line = (f"{split}: {plural(len(entry['negative']), 'negative flip')}, {len(entry['positive'])} positive "
            f"of {entry['cases']} (NFR {entry['nfr']:.1%}, McNemar p = {entry['mcnemar_p']:.3g})")
    if entry["negative"]:
        line += "; broken: " + ", ".join(f["id"] for f in entry["negative"][:10])
        if len(entry["negative"]) > 10:
            line += f" and {len(entry['negative']) - 10} more"
    return line + (f"; {entry['note']}" if entry.get("note") else "")


def flip_lines(report: dict[str, Any]) -> list[str]:
    """A report's flips as lines (none for a report without a production model to compare)."""
    found = report.get("flips")
    if not isinstance(found, dict):
        return []
    return [summary_line(split, found[split]) for split in FLIP_SPLITS
            if isinstance(found.get(split), dict) and found[split].get("cases")]


def interpolation_lines(report: dict[str, Any]) -> list[str]:
    """`[train] interpolate`: which θ(λ) was kept, against the tuned model (λ = 1), so a reviewer
    sees what sparing the watch cases cost or gained."""
    chosen = report.get("interpolation")
    if not isinstance(chosen, dict):
        return []
    tried = {t.get("lambda"): t for t in chosen.get("tried", []) if isinstance(t, dict)}
    lam = chosen.get("lambda")
    return [f"interpolation: kept λ = {lam} ({_on_watch(tried.get(lam))}); "
            f"the tuned model, λ = 1: {_on_watch(tried.get(1.0))}"]


def _on_watch(tried: dict[str, Any] | None) -> str:
    """One candidate of a flip repair (a λ, a fraction) as the reviewer reads it."""
    if tried is None:
        return "not recorded"
    right = f", {tried['watch_passed']} watch cases right" if "watch_passed" in tried else ""
    return f"{plural(int(tried.get('watch_negative_flips') or 0), 'watch negative flip')}{right}"


def bias_correction_lines(report: dict[str, Any]) -> list[str]:
    """`[train] bias_correction`: how far the added labels' bias was lowered, against the
    uncorrected model (fraction 0)."""
    chosen = report.get("bias_correction")
    if not isinstance(chosen, dict):
        return []
    tried = {t.get("fraction"): t for t in chosen.get("tried", []) if isinstance(t, dict)}
    fraction = chosen.get("fraction")
    labels = ", ".join(sorted(chosen.get("shifts") or {})) or "none"
    return [f"bias correction of {labels}: kept {fraction} of the smallest margin "
            f"({_on_watch(tried.get(fraction))}); uncorrected: {_on_watch(tried.get(0.0))}"]


def repair_lines(report: dict[str, Any]) -> list[str]:
    """What the flip repairs that choose on the watch split kept: interpolation, then the bias
    correction."""
    return interpolation_lines(report) + bias_correction_lines(report)


def flip_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every flip of a report as one row (kind negative/positive, split, id, expected, both
    predictions): negative flips first, watch before baseline, for a table."""
    found = report.get("flips")
    if not isinstance(found, dict):
        return []
    rows = [{"kind": kind, "split": split, **flip}
            for kind in ("negative", "positive") for split in ("watch", "baseline")
            if isinstance(found.get(split), dict) for flip in found[split].get(kind, [])]
    return rows
