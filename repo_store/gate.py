"""The gate: a batch may merge only on a verdict the gate derives itself. Nothing in a report is
believed that can be checked: the report must pass its schema; its rows must be exactly the
cases of the branch's tree (ids, splits, expected, and each row's pass recomputed from its
prediction with the case's match rule); the summary is recomputed from the rows and judged at
the thresholds committed on main (never the work tree's or the branch's straw.toml); the branch
may change only its own cases, its manifest and its report; and main's baseline must not have
moved since the report was made, nor its watch cases, nor the production model the report's
flips are against. `straw merge` then reruns the model, and the production model, and
recomputes the flips and the blame (see merge.py, Rerun, and flip_check.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from repo_store import gitio, lockfile, matching
from repo_store.batch_branches import Batch, branch_name, is_merged, manifest_path, require_batch
from repo_store.cases import CASES_DIR, Case, case_path
from repo_store.errors import StrawError, ValidationFailed
from repo_store.repo import MAIN, CaseRepo
from repo_store.reports import InvalidReport, read_report, report_path
from repo_store.watch_gate import watch_flips_refusal


class GateRefused(StrawError):
    exit_code = 1


@dataclass(frozen=True)
class GateResult:
    passed: bool
    status: str  # open | invalid | tuned-failing | stale | passing | merged
    reason: str
    report: dict[str, Any] | None


def _rate(score: dict[str, int]) -> float:
    return score["passed"] / score["total"] if score["total"] else 1.0


def allowed_paths(batch: Batch) -> set[str]:
    """The only files a batch branch may change: its cases (pending -> baseline), its manifest
    and its report."""
    paths = {manifest_path(batch.id), report_path(batch.id)}
    for case_id in batch.cases:
        paths |= {case_path("pending", case_id), case_path("baseline", case_id)}
    return paths


def foreign_changes(repo: CaseRepo, batch: Batch) -> list[str]:
    """Files the branch changed (since it left main) that are not the batch's own."""
    tip = f"refs/heads/{batch.branch}"
    base = gitio.run(repo.git, "merge-base", f"refs/heads/{MAIN}", tip)
    allowed = allowed_paths(batch)
    return [c.path for c in gitio.diff_files(repo.git, base, tip) if c.path not in allowed]


def branch_cases(repo: CaseRepo, batch: Batch, ref: str) -> list[tuple[Case, str]]:
    """(case, split) for every baseline case at `ref` (split "new" for the batch's own), then
    every watch case (split "watch": rows checked like the others, counted in no score)."""
    loaded = repo.load_ref(ref)
    if loaded.issues:
        raise ValidationFailed(loaded.issues)
    own = set(batch.cases)
    found = [(c, "new" if c.id in own else "baseline") for c in loaded.split("baseline")]
    missing = own - {c.id for c, _ in found}
    if missing:
        raise StrawError(f"{ref}: manifest names cases not in {CASES_DIR}/baseline: "
                         f"{', '.join(sorted(missing))}")
    return found + [(c, "watch") for c in loaded.split("watch")]


def check_rows(report: dict[str, Any], expected: list[tuple[Case, str]], where: str
               ) -> dict[str, dict[str, int]]:
    """The score the rows earn, after checking they are exactly the tree's cases. Raises
    InvalidReport naming the first row that does not match its case file."""
    by_id = {c.id: (c, split) for c, split in expected}
    seen: set[str] = set()
    score = {split: {"passed": 0, "total": 0} for split in ("baseline", "new", "watch")}
    for row in report["cases"]:
        case_id = row["id"]
        if case_id in seen:
            raise InvalidReport(f"invalid report: {where}: case {case_id} appears twice")
        seen.add(case_id)
        if case_id not in by_id:
            raise InvalidReport(f"invalid report: {where}: case {case_id} is not a baseline case "
                                f"of the tree it names")
        case, split = by_id[case_id]
        if row["split"] != split:
            raise InvalidReport(f"invalid report: {where}: case {case_id} is {split}, not "
                                f"{row['split']}")
        if row["expected"] != case.expected:
            raise InvalidReport(f"invalid report: {where}: case {case_id}'s expected differs "
                                f"from {case.path}")
        passed = matching.passes(case.match, case.expected, row["predicted"])
        if row["pass"] != passed:
            raise InvalidReport(f"invalid report: {where}: case {case_id} is marked "
                                f"{'pass' if row['pass'] else 'fail'}, but its prediction "
                                f"{'passes' if passed else 'fails'} its match rule ({case.match})")
        score[split]["total"] += 1
        score[split]["passed"] += passed
    absent = sorted(set(by_id) - seen)
    if absent:
        raise InvalidReport(f"invalid report: {where}: no row for case {absent[0]}"
                            + (f" and {len(absent) - 1} more" if len(absent) > 1 else ""))
    claimed = {k: report["summary"][k] for k in ("baseline", "new")}
    if claimed != {k: score[k] for k in claimed}:
        raise InvalidReport(f"invalid report: {where}: summary {claimed} does not match its rows "
                            f"{score}")
    return score


def check_gate(repo: CaseRepo, batch_id: str) -> GateResult:
    batch = require_batch(repo, batch_id)
    if is_merged(repo, batch.id):
        return GateResult(False, "merged", f"batch {batch.id} is already merged", None)
    branch = branch_name(batch.id)
    where = f"{branch}:{report_path(batch.id)}"
    foreign = foreign_changes(repo, batch)
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        return GateResult(False, "invalid", f"{branch} changes {foreign[0]}{more}: a batch may "
                          f"change only its cases, {manifest_path(batch.id)} and "
                          f"{report_path(batch.id)}", None)
    try:
        report = read_report(repo, batch.id)
    except InvalidReport as err:
        return GateResult(False, "invalid", str(err), None)
    if report is None:
        return GateResult(False, "open", f"{branch} has no {report_path(batch.id)}: run "
                          f"`straw tune {batch.id}`", None)
    if report["batch"] != batch.id:
        return GateResult(False, "invalid", f"invalid report: {where}: it is for batch "
                          f"{report['batch']!r}", report)
    current = repo.cases_tree(branch)
    if report["cases_tree"] != current:
        return GateResult(False, "stale", f"report is stale: cases on {branch} changed after "
                          f"tuning (report {report['cases_tree'][:10]}, branch {current[:10]}); "
                          f"run `straw tune {batch.id}` again", report)
    main_baseline = gitio.tree_of(repo.git, MAIN, "cases/baseline")
    if report["main_baseline_tree"] != main_baseline:
        return GateResult(False, "stale", f"main moved on; run `straw batch update {batch.id}` "
                          f"and tune again", report)
    # the report's watch rows and flips are the branch's watch split: one main has changed since
    # (a case added, edited, removed or promoted) was not what the tune protected
    if gitio.tree_of(repo.git, MAIN, "cases/watch") != \
            gitio.tree_of(repo.git, f"refs/heads/{branch}", "cases/watch"):
        return GateResult(False, "stale", f"main's watch cases changed since the tune judged "
                          f"{branch}'s; run `straw batch update {batch.id}` and tune again",
                          report)
    # the flips and the blame are against the model production was at the tune (the merge
    # recomputes both); a rollback or a first model since makes them about another model
    production = (lockfile.read_lock(repo) or {}).get("model")
    measured = (report.get("flips") or {}).get("production")
    if measured and report.get("previous_model") != measured:  # a tune writes both from one
        return GateResult(False, "invalid", f"invalid report: {where}: previous_model "
                          f"{str(report.get('previous_model'))[:19]} is not the model its flips "
                          f"are against ({str(measured)[:19]})", report)
    if production != measured:
        return GateResult(False, "stale", f"the report's flips are against "
                          f"{str(measured)[:19] if measured else 'no production model'}, but "
                          f"{lockfile.LOCK_FILE} now names "
                          f"{str(production)[:19] if production else 'none'}; run "
                          f"`straw tune {batch.id}` again", report)
    try:
        score = check_rows(report, branch_cases(repo, batch, f"refs/heads/{branch}"), where)
    except InvalidReport as err:
        return GateResult(False, "invalid", str(err), report)
    thresholds = repo.verdict_config["gate"]
    base, new = score["baseline"], score["new"]
    line = f"baseline {base['passed']}/{base['total']}, new {new['passed']}/{new['total']}"
    if _rate(base) < thresholds["baseline_threshold"] or _rate(new) < thresholds["new_threshold"]:
        failing = [c["id"] for c in report["cases"] if not c["pass"]]
        shown = ", ".join(failing[:5]) + (f" and {len(failing) - 5} more" if len(failing) > 5 else "")
        return GateResult(False, "tuned-failing", f"report fails at {MAIN}'s thresholds: {line}; "
                          f"failing: {shown or 'none'}", report)
    if report.get("blame"):
        return GateResult(False, "tuned-failing",
                          f"breaks baseline cases the production model passed: "
                          f"{', '.join(report['blame'][:5])}", report)
    refusal = watch_flips_refusal(report, thresholds)
    if refusal:
        return GateResult(False, "tuned-failing", refusal, report)
    return GateResult(True, "passing", f"passes: {line} (rows checked against the branch's "
                      f"cases, {MAIN}'s thresholds)", report)
