"""Production commands: monitor, compare, report (the customer's page). Torch loads inside the
commands only."""

from __future__ import annotations

import sys

import click

from repo_store import customer_report, lockfile, resolve
from repo_store.errors import UsageError
from repo_store.repo import CaseRepo
from straw.commands.common import (
    JSON_HELP,
    complete_model,
    echo_json,
    one_line,
    open_repo,
    repo_option,
    status,
    write_output,
)


@click.command("monitor")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Baseline pass rate below which to alert and roll back (default: [monitor], 1.0).")
@click.option("--no-rollback", is_flag=True, help="Alert only; leave models.lock as it is.")
@click.option("--endpoint", default=None, metavar="URL",
              help="Judge an OpenAI-compatible server's answers (default: git config "
                   "straw.monitorEndpoint; unset: run the model here).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None, help="Requests at once (8).")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=None,
              help="Seconds per request (10).")
@click.option("--tries", type=click.IntRange(1, 20), default=None,
              help="Tries per request, with backoff (3).")
@click.option("--every", default=None, metavar="DURATION",
              help="Run as a loop (30s, 10m, 1h) until SIGTERM or Ctrl-C.")
@click.option("--json", "as_json", is_flag=True,
              help=JSON_HELP + " The exit code is the same: 0 healthy, 1 alert, 4 unreachable.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@repo_option
def monitor_command(threshold: float | None, no_rollback: bool, endpoint: str | None,
                    concurrency: int | None, timeout: float | None, tries: int | None,
                    every: str | None, as_json: bool, quiet: bool, repo_path: str | None) -> None:
    """Check what users get: run production on main's baseline (or ask --endpoint); alert and
    roll back on a regression. Exit 0 ok, 1 alert, 4 endpoint unreachable."""
    import signal
    import threading
    from dataclasses import asdict

    from repo_store.repo import open_case_repo
    from straw.commands.engine import ProgressPrinter
    from tuning.monitor import MonitorResult, endpoint_settings, parse_interval, run_every, run_monitor

    repo = open_repo(repo_path)
    root = repo.root

    def check(stop: threading.Event | None = None) -> MonitorResult:
        fresh = open_case_repo(root)  # each run reads main as it is now
        settings = endpoint_settings(fresh, endpoint, concurrency=concurrency, timeout_s=timeout,
                                     tries=tries)
        # a bar on a terminal for a single run; a loop's log stays plain
        printer = ProgressPrinter(quiet=quiet or as_json or every is not None)
        return run_monitor(fresh, threshold, rollback=not no_rollback, endpoint=settings, cancel=stop,
                           progress=printer)

    def report(result: MonitorResult | None, error: str | None) -> None:
        if error is not None:
            click.echo(f"straw: {error}", err=True)
            return
        assert result is not None
        if as_json:
            echo_json({**asdict(result), "rate": result.rate})
        for note in result.notes:
            click.echo(f"straw: {note}", err=True)
        if result.healthy:
            if not as_json:
                click.echo(f"{status('ok')}: {result.summary()}")
        else:
            click.echo(f"straw: {result.summary()}", err=True)

    if every is None:
        result = check()
        report(result, None)
        if result.exit_code:
            sys.exit(result.exit_code)
        return
    interval = parse_interval(every)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        click.echo(f"monitoring every {every}; SIGTERM or Ctrl-C stops", err=True)
        run_every(check, interval, stop, report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped: no run was left half-recorded", err=True)


@click.command("rollback")
@click.argument("model", shell_complete=complete_model)
@click.option("--reason", default="Rolled back by hand.", show_default=True,
              help="Why, for the commit message.")
@click.option("--force", is_flag=True,
              help="Roll back even when the model fails main's baseline below the monitor's "
                   "threshold, or is not in this machine's model store to check.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@repo_option
def rollback_command(model: str, reason: str, force: bool, quiet: bool, repo_path: str | None) -> None:
    """Make an earlier production model (a prefix of its id, see `straw log`) production again.

    It is run on main's baseline first, as `straw monitor` would; one below the monitor's
    threshold is refused (without --force), since the next monitor run would roll it back."""
    from straw.commands.engine import ProgressPrinter
    from tuning.monitor import roll_back_by_hand

    repo = open_repo(repo_path)
    target = resolve.model_hash(repo, model, production_only=True)
    printer = ProgressPrinter(quiet=quiet)
    try:
        done = roll_back_by_hand(repo, target, reason, force=force, progress=printer)
    finally:
        printer.close()
    score = (f"not checked ({done.unchecked})" if done.passed is None else
             f"it passes {done.passed}/{done.total} of main's baseline cases")
    click.echo(f"production is {done.model[:19]} again ({done.commit[:8]}); {score}")
    if done.below:
        click.echo(f"straw: warning: below the monitor's threshold ({done.threshold:.0%}); "
                   f"`straw monitor --no-rollback` alerts without undoing this", err=True)
    deployed(repo, done.model)


def deployed(repo: CaseRepo, model: str) -> None:
    """Run the local deploy command after production changed; its failure exits 1."""
    from tuning.deploy import deploy

    failure = deploy(repo, model)
    if failure:
        click.echo(f"straw: {failure}; production on main is {model[:19]} all the same", err=True)
        sys.exit(1)


@click.command("compare")
@click.argument("model_a", shell_complete=complete_model)
@click.argument("model_b", shell_complete=complete_model)
@click.option("--split", type=click.Choice(["baseline", "pending", "watch", "all"]), default="all",
              show_default=True, help="Which cases to run both models on.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@repo_option
def compare_command(model_a: str, model_b: str, split: str, as_json: bool, quiet: bool,
                    repo_path: str | None) -> None:
    """Per-case flips between two stored models, with McNemar's exact test.

    MODEL_A, MODEL_B: model hashes (sha256:…) or unique prefixes of them."""
    from dataclasses import asdict

    from straw.commands.engine import ProgressPrinter
    from tuning.compare import compare_models

    repo = open_repo(repo_path)
    model_a, model_b = resolve.model_hash(repo, model_a), resolve.model_hash(repo, model_b)
    printer = ProgressPrinter(quiet=quiet or as_json)
    try:
        c = compare_models(repo, model_a, model_b, split, progress=printer)
    finally:
        printer.close()
    if as_json:
        echo_json({**asdict(c), "test": {**asdict(c.test), "significant": c.test.significant}})
        return
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
@click.option("--format", "fmt", type=click.Choice(["html", "markdown", "json"]), default=None,
              help="html (default): one self-contained page for a customer, readable offline and "
                   "as an e-mail attachment; markdown; json: the eval report.")
@click.option("--html", "legacy_html", is_flag=True, hidden=True)  # before --format
@click.option("--markdown", "legacy_markdown", is_flag=True, hidden=True)
@click.option("--json", "legacy_json", is_flag=True, hidden=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file instead of stdout.")
@click.option("--model", "model_hash", default=None, shell_complete=complete_model,
              help="A stored model (hash or unique prefix) instead of production: the page says "
                   "it is not production and lists its flips against production.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@repo_option
def report_command(fmt: str | None, legacy_html: bool, legacy_markdown: bool, legacy_json: bool,
                   output: str | None, model_hash: str | None, quiet: bool,
                   repo_path: str | None) -> None:
    """The production model's baseline (or --model's), every case and its status, for a
    customer."""
    legacy = [name for name, on in (("html", legacy_html), ("markdown", legacy_markdown),
                                    ("json", legacy_json)) if on]
    chosen = set(legacy + ([fmt] if fmt else []))
    if len(chosen) > 1:
        raise click.UsageError(f"one output format, please (got {', '.join(sorted(chosen))}); "
                               f"use --format")
    fmt = chosen.pop() if chosen else "html"
    from repo_store import history, monitor_log
    from straw.commands.engine import ProgressPrinter
    from tuning.evaluate import evaluate

    repo = open_repo(repo_path)
    lock = lockfile.read_lock(repo)
    if lock is None:
        raise UsageError("no production model yet: models.lock is missing on main")
    model = None
    if model_hash is not None:
        model_hash = resolve.model_hash(repo, model_hash)
        if model_hash != lock["model"]:
            from tuning.model_store import ModelStore

            model = ModelStore(repo.model_store).meta(model_hash)  # raises naming the hash
    printer = ProgressPrinter(quiet=quiet)
    try:
        report = evaluate(repo, model_hash or lock["model"], "baseline", progress=printer)
    finally:
        printer.close()
    if fmt == "json":
        import json

        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    else:
        by_id = {c.id: c for c in repo.load_ref(repo.main).cases}
        render = customer_report.render_html if fmt == "html" else customer_report.render_markdown
        text = render(lock, report, by_id, history.baseline_log(repo), model,
                      runs=monitor_log.read_entries(repo))
    if output:
        write_output(output, text)
        click.echo(f"wrote {output}: {report['summary']['baseline']['passed']}/"
                   f"{report['summary']['baseline']['total']} baseline cases pass")
    else:
        click.echo(text, nl=False)
