"""Validation reports: `reports/<batch-id>.json`, committed on the batch branch by the one writer
below, which checks the schema and refuses a report whose cases tree is no longer the branch's."""

from __future__ import annotations

import json
from typing import Any

from repo_store import gitio, jsonio, schemas
from repo_store.batch_branches import branch_name, require_batch
from repo_store.errors import StrawError, ValidationFailed
from repo_store.repo import CaseRepo


def report_path(batch_id: str) -> str:
    return f"reports/{batch_id}.json"


def encode(report: dict[str, Any], path: str) -> bytes:
    schemas.check("report", report, path)
    return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


class InvalidReport(StrawError):
    """A committed report that is not one straw could have written: never trusted, never read
    as "no report"."""

    exit_code = 1


def parse_report(raw: bytes, where: str) -> dict[str, Any]:
    """A report's bytes, schema-checked. Raises InvalidReport naming `where`."""
    try:
        report = jsonio.loads(raw)
    except (ValueError, RecursionError) as err:  # not UTF-8, not JSON, absurdly nested
        raise InvalidReport(f"invalid report: {where}: not JSON ({err})") from None
    try:
        schemas.check("report", report, where)
    except ValidationFailed as err:
        raise InvalidReport(f"invalid report: {err}") from None
    return report


def read_report(repo: CaseRepo, batch_id: str, ref: str | None = None) -> dict[str, Any] | None:
    """The latest report committed for a batch (on its branch unless `ref` says where), checked
    against the report schema; None when there is none. Raises InvalidReport."""
    where = ref or branch_name(batch_id)
    raw = gitio.read_file(repo.git, where, report_path(batch_id))
    return None if raw is None else parse_report(raw, f"{where}:{report_path(batch_id)}")


def score_line(report: dict[str, Any]) -> str:
    s = report["summary"]
    return (f"baseline {s['baseline']['passed']}/{s['baseline']['total']}, "
            f"new {s['new']['passed']}/{s['new']['total']}")


def write_report(repo: CaseRepo, batch_id: str, report: dict[str, Any]) -> str:
    """Commit the report on `batch/<id>`; returns the commit id."""
    require_batch(repo, batch_id)
    path = report_path(batch_id)
    if report.get("batch") != batch_id:
        raise StrawError(f"{path}::$.batch: report is for {report.get('batch')!r}, not {batch_id!r}")
    content = encode(report, path)
    branch = branch_name(batch_id)
    with repo.write_lock():
        current = repo.cases_tree(branch)
        if report["cases_tree"] != current:
            raise StrawError(f"{branch}: cases changed while the report was made "
                             f"(report saw {report['cases_tree'][:10]}, branch has {current[:10]}); "
                             f"tune again")
        passed = "passed" if report["summary"]["passed"] else "failed"
        message = (f"Report for batch {batch_id}: {score_line(report)} ({passed})\n\n"
                   f"Straw-Batch: {batch_id}\nStraw-Model: {report['model']['hash']}")
        return gitio.commit_to_branch(repo.git, branch, {path: content}, message)
