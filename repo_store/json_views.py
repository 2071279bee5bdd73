"""What `--json` prints: plain dicts with numbers as numbers (a score is {"passed", "total"},
never "100/100"), so that scripts and CI read the same facts the human output shows."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: `straw log --json` must not import GitPython through batches
    from repo_store.audit import Audit
    from repo_store.batch_status import BatchInfo
    from repo_store.gate import GateResult
    from repo_store.history import LogEntry, Violation


def score(text: str | None) -> dict[str, int] | None:
    """"95/100" (a commit trailer) → {"passed": 95, "total": 100}; None for "-" or missing."""
    passed, sep, total = (text or "").partition("/")
    if not sep or not passed.strip().isdigit() or not total.strip().isdigit():
        return None
    return {"passed": int(passed), "total": int(total)}


def count(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def log_entry(e: LogEntry) -> dict[str, Any]:
    return {**asdict(e), "cases": count(e.cases), "baseline": score(e.baseline), "new": score(e.new)}


def report_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    if not report:
        return None
    return {"model": report["model"]["hash"], "summary": report["summary"],
            "rounds": len(report.get("rounds", [])), "blame": report.get("blame", []),
            "bwt": report.get("bwt"),
            "failing": [c["id"] for c in report["cases"] if not c["pass"]]}


def gate_result(batch_id: str, r: GateResult) -> dict[str, Any]:
    return {"batch": batch_id, "passed": r.passed, "status": r.status, "reason": r.reason,
            "report": report_summary(r.report)}


def batch_info(info: BatchInfo) -> dict[str, Any]:
    b = info.batch
    return {"id": b.id, "branch": b.branch, "title": b.title, "approver": b.approver,
            "created": b.created, "cases": b.cases, "status": info.status, "reason": info.reason,
            "report": report_summary(info.report)}


def violations(found: list[Violation]) -> dict[str, Any]:
    return {"ok": not found, "violations": [asdict(v) for v in found]}


def audit(result: Audit) -> dict[str, Any]:
    """`straw verify --json`: what was read, the violations, and the gate-setting changes."""
    return {**violations(result.violations), "audited": result.audited, "tip": result.tip,
            "commits": result.commits, "settings": [asdict(s) for s in result.settings]}
