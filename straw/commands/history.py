"""`straw log` and `straw verify`: the baseline's history read back from git. Kept apart from the
batch commands so that reading history does not import GitPython (`straw log CASE` is mostly the
git log it runs)."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from repo_store import history, json_views, resolve
from repo_store.errors import NoSuchCase
from repo_store.safe_text import printable
from straw.commands.common import (
    JSON_HELP,
    complete_case,
    echo_json,
    one_line,
    open_repo,
    repo_option,
    status,
)

LOG_WIDTH = 100  # a `straw log` line fits a 100-column terminal (long approver e-mails are cut)
LOG_ROW = ("{date:<10} {commit:<8} {kind:<9} {batch:<15} {cases:>5} {model:<8} {baseline:>8} {new:>7} "
           "{bwt:>6} {approver}")


@click.command("log", epilog="""\b
Columns: date, commit, kind (merge, bootstrap, rollback, direct), batch, cases added,
production model, baseline and new scores of the merged report, bwt, approver (its
e-mail is left out when the line would pass 100 columns; --json has it whole).
bwt is the merged report's backward transfer: over the batches merged before, the mean
change of their cases' pass rate since each was merged (0 = nothing forgotten, negative =
the model forgot earlier batches). "bwt -", like a `Straw-BWT: -` trailer on the merge
commit, means there was nothing to measure: no batch had been merged before (the first
batch, a bootstrap, a rollback), or the report is not one straw wrote.""")
@click.argument("case_id", metavar="[CASE]", required=False, shell_complete=complete_case)
@click.option("--monitor", "monitor", is_flag=True,
              help="The monitor's runs (branch straw/monitor, and alerts on main) instead.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@repo_option
def log_command(case_id: str | None, monitor: bool, as_json: bool, repo_path: str | None) -> None:
    """The baseline's history (one line per merged batch), or one case's history (CASE: an id or
    a unique prefix)."""
    repo = open_repo(repo_path)
    if monitor:
        from repo_store import monitor_log

        runs = monitor_log.read_entries(repo)
        if as_json:
            echo_json(runs)
        for run in ([] if as_json else runs):
            click.echo(monitor_log.line(run))
        if not runs and not as_json:
            click.echo(f"no monitor runs recorded (branch {monitor_log.BRANCH}); `straw monitor` "
                       f"records one", err=True)
        return
    if case_id:
        case_id = resolve.case_id(repo, case_id)
        events = history.case_log(repo, case_id)
        if as_json:
            echo_json([asdict(event) for event in events])
            return
        for event in events:
            click.echo(f"{event.date[:10]} {event.commit[:8]} {event.where:<8} "
                       f"{one_line(event.subject, 70)}")
        if not events:
            if case_id not in resolve.case_candidates(repo):  # nowhere, now or in main's past
                raise NoSuchCase(f"no case {case_id!r}: not in the work tree, and no history on main")
            click.echo(f"no history for case {case_id} on main (not committed yet)", err=True)
        return
    entries = history.baseline_log(repo)
    if as_json:
        echo_json([json_views.log_entry(e) for e in entries])
        return
    if entries:
        click.echo(LOG_ROW.format(date="DATE", commit="COMMIT", kind="KIND", batch="BATCH",
                                  cases="ADDED", model="MODEL", baseline="BASELINE", new="NEW",
                                  bwt="BWT", approver="APPROVER"))
    for e in entries:
        row = LOG_ROW.format(
            date=e.date[:10], commit=e.commit[:8], kind=e.kind, batch=e.batch or "-",
            cases=f"+{e.cases}", model=(e.model or "-").removeprefix("sha256:")[:8],
            baseline=e.baseline or "-", new=e.new or "-",
            bwt="-" if e.bwt is None else f"{e.bwt:+.3f}", approver="")
        click.echo(printable((row + _approver(e.approver or "", LOG_WIDTH - len(row))).rstrip(),
                             keep_lines=False))


def _approver(who: str, room: int) -> str:
    """The approver in the room left: the whole `Name <e-mail>`, else the name, cut if need be."""
    if len(who) <= room:
        return who
    return one_line(who.split(" <", 1)[0], max(room, 12))


@click.command("verify")
@click.option("--full", is_flag=True,
              help="Re-read every report, also of merges an earlier run found good.")
@click.option("--ref", default=None,
              help="Audit this branch or commit's first-parent history (default: main; without a "
                   "local main, the checked-out commit).")
@click.option("--json", "as_json", is_flag=True,
              help=JSON_HELP + " The exit code is the same: 0 ok, 1 violations.")
@repo_option
def verify_command(full: bool, ref: str | None, as_json: bool, repo_path: str | None) -> None:
    """Audit main: baseline, models.lock and settings changes all came through straw."""
    from repo_store import audit

    result = audit.audit(open_repo(repo_path), ref, full=full)
    if as_json:
        echo_json(json_views.audit(result))
    else:
        for change in result.settings:
            click.echo(f"setting {change.line()}")
        for v in result.violations:
            click.echo(v.line())
    where = f"{result.audited} at {result.tip[:8]} ({result.commits} first-parent commits read)"
    if result.violations:
        click.echo(f"straw: verify: {len(result.violations)} violation(s) in {where}", err=True)
        sys.exit(1)
    if not as_json:
        click.echo(f"{status('ok')}: {where}: every baseline, models.lock and gate-setting change "
                   f"came through straw")
