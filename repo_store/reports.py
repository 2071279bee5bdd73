"""Validation reports: `reports/<batch-id>.json`, committed on the batch branch by the one writer
below, which checks the schema and refuses a report whose cases tree is no longer the branch's."""

from __future__ import annotations

import json
from typing import Any

from repo_store import gitio, jsonio, schemas
from repo_store.batch_branches import branch_name, require_batch
from repo_store.errors import StrawError
from repo_store.repo import CaseRepo


def report_path(batch_id: str) -> str:
    return f"reports/{batch_id}.json"


def encode(report: dict[str, Any], path: str) -> bytes:
    schemas.check("report", report, path)
    return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_report(repo: CaseRepo, batch_id: str, ref: str | None = None) -> dict[str, Any] | None:
    """The latest report committed for a batch (on its branch unless `ref` says where)."""
    raw = gitio.read_file(repo.git, ref or branch_name(batch_id), report_path(batch_id))
    if raw is None:
        return None
    try:
        return jsonio.loads(raw)
    except ValueError:  # not UTF-8 or not JSON
        return None


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
