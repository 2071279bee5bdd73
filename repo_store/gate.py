"""The gate: a batch may merge only if its latest report passes at the configured thresholds,
was made on the branch's current cases, and main's baseline has not moved since."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repo_store import gitio
from repo_store.batch_branches import branch_name, is_merged, require_batch
from repo_store.errors import StrawError
from repo_store.repo import MAIN, CaseRepo
from repo_store.reports import read_report, report_path


class GateRefused(StrawError):
    exit_code = 1


@dataclass(frozen=True)
class GateResult:
    passed: bool
    status: str  # open | tuned-failing | stale | passing | merged
    reason: str
    report: dict[str, Any] | None


def _rate(score: dict[str, int]) -> float:
    return score["passed"] / score["total"] if score["total"] else 1.0


def check_gate(repo: CaseRepo, batch_id: str) -> GateResult:
    batch = require_batch(repo, batch_id)
    if is_merged(repo, batch.id):
        return GateResult(False, "merged", f"batch {batch.id} is already merged", None)
    branch = branch_name(batch.id)
    report = read_report(repo, batch.id)
    if report is None:
        return GateResult(False, "open", f"{branch} has no {report_path(batch.id)}: run "
                          f"`straw tune {batch.id}`", None)
    summary = report["summary"]
    thresholds = repo.config["gate"]
    failing = [c["id"] for c in report["cases"] if not c["pass"]]
    baseline_rate, new_rate = _rate(summary["baseline"]), _rate(summary["new"])
    if (baseline_rate < thresholds["baseline_threshold"] or new_rate < thresholds["new_threshold"]
            or (not summary["passed"] and failing)):
        shown = ", ".join(failing[:5]) + (f" and {len(failing) - 5} more" if len(failing) > 5 else "")
        return GateResult(False, "tuned-failing",
                          f"report fails: baseline {summary['baseline']['passed']}/"
                          f"{summary['baseline']['total']}, new {summary['new']['passed']}/"
                          f"{summary['new']['total']}; failing: {shown or 'none'}", report)
    if report.get("blame"):
        return GateResult(False, "tuned-failing",
                          f"breaks baseline cases the production model passed: "
                          f"{', '.join(report['blame'][:5])}", report)
    current = repo.cases_tree(branch)
    if report["cases_tree"] != current:
        return GateResult(False, "stale", f"report is stale: cases on {branch} changed after "
                          f"tuning (report {report['cases_tree'][:10]}, branch {current[:10]}); "
                          f"run `straw tune {batch.id}` again", report)
    main_baseline = gitio.tree_of(repo.git, MAIN, "cases/baseline")
    if report["main_baseline_tree"] != main_baseline:
        return GateResult(False, "stale", f"main moved on; run `straw batch update {batch.id}` "
                          f"and tune again", report)
    return GateResult(True, "passing", f"passes: baseline {summary['baseline']['passed']}/"
                      f"{summary['baseline']['total']}, new {summary['new']['passed']}/"
                      f"{summary['new']['total']}, report matches the branch", report)
