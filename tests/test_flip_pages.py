"""Flips on the page a customer reads (`repo_store.customer_report`): rendered from report rows
with the real flips computation, then read back as a reader sees it (headings, table cells)."""

from __future__ import annotations

from test_cli_report import parse

from repo_store.customer_report import render_html
from repo_store.flips import flips

LOCK = {"model": "sha256:" + "ef" * 32, "backend": "classifier", "base": "embedded",
        "promoted": "2026-12-01T10:00:00Z", "reason": "merge", "batch": "b-1"}
PRODUCTION = "sha256:" + "cd" * 32


def row(case_id: str, split: str, expected: str, predicted: str) -> dict:
    return {"id": case_id, "split": split, "expected": expected, "predicted": predicted,
            "pass": expected == predicted}


def eval_report(rows: list[dict], with_flips: dict | None) -> dict:
    baseline = [r for r in rows if r["split"] == "baseline"]
    report = {"kind": "eval", "created": "2026-12-03T10:00:00Z", "cases_tree": "a" * 40,
              "cases": rows, "summary": {"baseline": {"passed": sum(r["pass"] for r in baseline),
                                                      "total": len(baseline)}}}
    if with_flips is not None:
        report["flips"] = with_flips
    return report


def test_the_page_lists_flips_with_both_answers_and_keeps_watch_cases_out_of_the_contract(
) -> None:
    before = [row("b-1", "baseline", "card", "card"), row("b-2", "baseline", "refund", "card"),
              row("b-3", "baseline", "card", "card"), row("w-1", "watch", "shipping", "shipping")]
    after = [row("b-1", "baseline", "card", "refund"), row("b-2", "baseline", "refund", "refund"),
             row("b-3", "baseline", "card", "card"), row("w-1", "watch", "shipping", "<b>card</b>")]
    page = parse(render_html(LOCK, eval_report(after, flips(PRODUCTION, before, after)), {}))
    assert f"Changes against model {PRODUCTION[:19]}" in page.headings
    summary = page.tables["flip-summary"]
    assert summary[0][:6] == ["split", "cases", "worse", "better", "negative flip rate", "McNemar p"]
    assert summary[1][:6] == ["baseline", "3", "1", "1", "33.3%", "1"]
    assert summary[2][:6] == ["watch", "1", "1", "0", "100.0%", "1"]
    assert "too few for McNemar's test" in summary[1][6]
    listed = page.tables["flips"]
    assert listed[1:] == [["worse", "watch", "w-1", "shipping", "shipping", "<b>card</b>"],
                          ["worse", "baseline", "b-1", "card", "card", "refund"],
                          ["better", "baseline", "b-2", "refund", "card", "refund"]]
    # the contract is the baseline: a watch row is neither listed nor counted there
    assert [r[1] for r in page.tables["cases"][1:]] == ["b-1", "b-2", "b-3"]
    assert page.headings[0] == "Baseline contract: 2/3 cases pass"


def test_a_report_without_flips_has_no_flips_section() -> None:
    rows = [row("b-1", "baseline", "card", "card")]
    page = parse(render_html(LOCK, eval_report(rows, None), {}))
    assert not any(h.startswith("Changes against model") for h in page.headings)
    assert "flips" not in page.tables and "flip-summary" not in page.tables
