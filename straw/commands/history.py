"""`straw log` and `straw verify`: the baseline's history read back from git. Kept apart from the
batch commands so that reading history does not import GitPython (`straw log CASE` is mostly the
git log it runs)."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from repo_store import history
from repo_store.safe_text import printable
from straw.commands.common import echo_json, one_line, open_repo, repo_option


@click.command("log")
@click.argument("case_id", required=False)
@click.option("--monitor", "monitor", is_flag=True,
              help="The monitor's runs (branch straw/monitor, and alerts on main) instead.")
@click.option("--json", "as_json", is_flag=True)
@repo_option
def log_command(case_id: str | None, monitor: bool, as_json: bool, repo_path: str | None) -> None:
    """The baseline's history (one line per merged batch), or one case's history."""
    repo = open_repo(repo_path)
    if monitor:
        from repo_store import monitor_log

        runs = monitor_log.read_entries(repo)
        if as_json:
            echo_json(runs)
        for run in ([] if as_json else runs):
            click.echo(monitor_log.line(run))
        return
    if case_id:
        events = history.case_log(repo, case_id)
        if as_json:
            echo_json([asdict(e) for e in events])
            return
        for e in events:
            click.echo(f"{e.date[:10]} {e.commit[:8]} {e.where:<8} {one_line(e.subject, 70)}")
        if not events:
            click.echo(f"no history for case {case_id} on main", err=True)
        return
    entries = history.baseline_log(repo)
    if as_json:
        echo_json([asdict(e) for e in entries])
        return
    for e in entries:
        click.echo(printable(e.line()))


@click.command("verify")
@click.option("--full", is_flag=True,
              help="Re-read every report, also of merges an earlier run found good.")
@click.option("--ref", default=None,
              help="Audit this branch or commit's first-parent history (default: main; without a "
                   "local main, the checked-out commit).")
@repo_option
def verify_command(full: bool, ref: str | None, repo_path: str | None) -> None:
    """Audit main: baseline, models.lock and settings changes all came through straw."""
    from repo_store import audit

    result = audit.audit(open_repo(repo_path), ref, full=full)
    for change in result.settings:
        click.echo(f"setting {change.line()}")
    for v in result.violations:
        click.echo(v.line())
    where = f"{result.audited} at {result.tip[:8]} ({result.commits} first-parent commits read)"
    if result.violations:
        click.echo(f"straw: verify: {len(result.violations)} violation(s) in {where}", err=True)
        sys.exit(1)
    click.echo(f"ok: {where}: every baseline, models.lock and gate-setting change came through "
               f"straw")
