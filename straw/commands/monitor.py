"""Production commands: monitor, compare, report (the customer's page). Torch loads inside the
commands only."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repo_store import cases as case_files
from repo_store import customer_report, lockfile
from repo_store.errors import UsageError
from straw.commands.common import echo_json, one_line, open_repo, repo_option


@click.command("monitor")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Baseline pass rate below which to alert and roll back (default: [monitor]).")
@click.option("--no-rollback", is_flag=True, help="Alert only; leave models.lock as it is.")
@click.option("--json", "as_json", is_flag=True)
@repo_option
def monitor_command(threshold: float | None, no_rollback: bool, as_json: bool,
                    repo_path: str | None) -> None:
    """Check the production model on main's baseline; alert and roll back when it slips."""
    from dataclasses import asdict

    from tuning.monitor import run_monitor

    repo = open_repo(repo_path)
    result = run_monitor(repo, threshold, rollback=not no_rollback)
    if as_json:
        echo_json({**asdict(result), "rate": result.rate})
    for note in result.notes:
        click.echo(f"straw: {note}", err=True)
    if result.healthy:
        if not as_json:
            click.echo(f"ok: {result.summary()}")
        return
    click.echo(f"straw: {result.summary()}", err=True)
    sys.exit(1)


@click.command("rollback")
@click.argument("model")
@click.option("--reason", default="Rolled back by hand.", show_default=True,
              help="Why, for the commit message.")
@repo_option
def rollback_command(model: str, reason: str, repo_path: str | None) -> None:
    """Make an earlier production model (a prefix of its id, see `straw log`) production again."""
    repo = open_repo(repo_path)
    version = lockfile.earlier_version(repo, model)
    commit = lockfile.rollback_to(repo, version.lock, reason)
    click.echo(f"production is {version.lock['model'][:19]} again ({commit[:8]})")


@click.command("compare")
@click.argument("model_a")
@click.argument("model_b")
@click.option("--split", type=click.Choice(["baseline", "pending", "watch", "all"]), default="all",
              show_default=True)
@repo_option
def compare_command(model_a: str, model_b: str, split: str, repo_path: str | None) -> None:
    """Per-case flips between two stored models, with McNemar's exact test."""
    from tuning.compare import compare_models

    c = compare_models(open_repo(repo_path), model_a, model_b, split)
    click.echo(f"A {model_a[:19]}: {c.a_passed}/{c.shared}   B {model_b[:19]}: {c.b_passed}/{c.shared}")
    for title, flips in (("fixed by B (A fails, B passes)", c.fixed),
                         ("broken by B (A passes, B fails)", c.broken)):
        click.echo(f"{title}: {len(flips)}")
        for f in flips[:30]:
            click.echo(f"  {one_line(f['id'], 100):<22} expected {one_line(f['expected'], 18):<18} "
                       f"A {one_line(f['a'], 18):<18} B {one_line(f['b'], 18)}")
    verdict = "a real difference" if c.test.significant else "no significant difference"
    click.echo(f"McNemar exact test: {c.test.a_only} vs {c.test.b_only} discordant, "
               f"p = {c.test.p_value:.4g} ({verdict} at 0.05)")


@click.command("report")
@click.option("--html", "fmt", flag_value="html", default=True, help="An HTML page (default).")
@click.option("--markdown", "fmt", flag_value="markdown", help="Markdown instead.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="The eval report as JSON.")
@repo_option
def report_command(fmt: str, output: str | None, as_json: bool, repo_path: str | None) -> None:
    """The production model's baseline, every case and its status, for a customer."""
    from tuning.evaluate import evaluate

    repo = open_repo(repo_path)
    lock = lockfile.read_lock(repo)
    if lock is None:
        raise UsageError("no production model yet: models.lock is missing on main")
    report = evaluate(repo, lock["model"], "baseline")
    if as_json:
        echo_json(report)
        return
    by_id = {c.id: c for c in repo.load_ref(repo.main).cases}
    render = customer_report.render_html if fmt == "html" else customer_report.render_markdown
    text = render(lock, report, by_id)
    if output:
        case_files.atomic_write(Path(output), text.encode("utf-8"))
        click.echo(f"wrote {output}: {report['summary']['baseline']['passed']}/"
                   f"{report['summary']['baseline']['total']} baseline cases pass")
    else:
        click.echo(text, nl=False)
