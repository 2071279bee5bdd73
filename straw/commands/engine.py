"""Engine commands: `straw tune BATCH` and `straw eval`. torch and transformers are imported
inside the commands, so the curation commands never pay for them."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import click

from repo_store import gate, resolve
from repo_store.flips import flip_lines, repair_lines
from repo_store.repo import CaseRepo
from repo_store.wording import plural
from straw.commands.common import (
    complete_batch,
    complete_model,
    echo_json,
    one_line,
    open_repo,
    repo_option,
    status,
)


class ProgressPrinter:
    """Consumes tuning.progress events: a bar with rate and ETA on a terminal (stderr), plain
    lines otherwise, and one line per round on stdout."""

    def __init__(self, quiet: bool = False, rounds_to_stderr: bool = False) -> None:
        self.quiet = quiet
        self.rounds_to_stderr = rounds_to_stderr  # --json: stdout carries the report alone
        self.live = sys.stderr.isatty() and not quiet
        self.bar: Any = None
        self.task: Any = None
        self.round_start = 0.0

    def _stop_bar(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def _predicted(self, done: int, total: int) -> None:
        """eval/compare (and validation) progress: a bar of cases with rate and ETA."""
        if not self.live:
            return
        if self.bar is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[rate]} cases/s"), TextColumn("ETA"), TimeRemainingColumn(),
                transient=True, console=_stderr_console())
            self.task = self.bar.add_task("predict", total=total, rate="-")
            self.round_start = time.monotonic()
            self.bar.start()
        elapsed = max(time.monotonic() - self.round_start, 1e-9)
        self.bar.update(self.task, completed=done, total=total, rate=f"{done / elapsed:.1f}")
        if done >= total:
            self._stop_bar()

    def __call__(self, event: Any) -> None:
        from tuning import progress as p

        if isinstance(event, p.RoundStarted):
            self.round_start = time.monotonic()
            if self.live:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                    TimeRemainingColumn,
                )

                self.bar = Progress(
                    TextColumn("round {task.fields[round]}/{task.fields[rounds]}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[rate]} steps/s"),
                    TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), transient=True,
                    console=_stderr_console())
                self.task = self.bar.add_task("train", total=event.steps, round=event.round,
                                              rounds=event.max_rounds, rate="-", loss="-")
                self.bar.start()
            elif not self.quiet:
                click.echo(f"round {event.round}/{event.max_rounds}: training, {event.steps} steps",
                           err=True)
        elif isinstance(event, p.Step):
            if self.bar is not None:
                elapsed = max(time.monotonic() - self.round_start, 1e-9)
                self.bar.update(self.task, completed=event.step, total=event.total,
                                rate=f"{event.step / elapsed:.1f}",
                                loss="-" if event.loss is None else f"{event.loss:.4f}")
        elif isinstance(event, p.RoundDone):
            self._stop_bar()
            loss = "-" if event.loss is None else f"{event.loss:.4f}"
            click.echo(f"round {event.round}: loss {loss}  baseline {event.baseline_pass:6.1%}  "
                       f"new {event.new_pass:6.1%}  {event.seconds:5.1f}s", err=self.rounds_to_stderr)
        elif isinstance(event, p.Phase):
            if event.name == "validating":
                self._stop_bar()
            if not self.quiet and event.name in ("loading", "saving"):
                detail = f" {event.detail}" if event.detail else ""
                click.echo(f"{event.name}{detail}…", err=True)
        elif isinstance(event, p.Predicted):
            self._predicted(event.done, event.total)
        elif isinstance(event, p.Saved):
            click.echo(f"saved model {event.hash}", err=True)

    def close(self) -> None:
        self._stop_bar()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def print_cases(report: dict[str, Any], all_cases: bool) -> None:
    rows = sorted(report["cases"], key=lambda r: (r["pass"], r["split"] != "new", r["id"]))
    shown = 0
    for row in rows:
        if row["pass"] and not all_cases:
            continue
        mark = status("pass" if row["pass"] else "FAIL")
        cut = "  (truncated)" if row.get("truncated") else ""
        click.echo(f"{mark}  {one_line(row['split'], 8):<8} {one_line(row['id'], 100):<28} expected "
                   f"{one_line(json.dumps(row['expected'], ensure_ascii=False), 30)}  got "
                   f"{one_line(row['predicted'], 30)}{cut}")
        shown += 1
    hidden = len(rows) - shown
    if hidden:
        click.echo(f"({hidden} passing cases not shown; --all-cases lists them)")


def print_summary(report: dict[str, Any]) -> None:
    s = report["summary"]
    verdict = status("PASSED" if s["passed"] else "FAILED")
    watch = [row["pass"] for row in report["cases"] if row["split"] == "watch"]
    watched = (f", watch {sum(watch)}/{len(watch)} (in no threshold: see flips)" if watch else "")
    click.echo(f"{verdict}: baseline {s['baseline']['passed']}/{s['baseline']['total']}, "
               f"new {s['new']['passed']}/{s['new']['total']}{watched}  model {report['model']['hash']}")
    if report.get("blame"):
        click.echo(f"blame: {len(report['blame'])} baseline cases the production model passed "
                   f"now fail: {', '.join(report['blame'][:10])}")
    for line in flip_lines(report):
        click.echo(f"flips vs production: {line}")
    for line in repair_lines(report):
        click.echo(line)
    print_stubborn(report)
    for warning in report.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)


def print_stubborn(report: dict[str, Any], limit: int = 20) -> None:
    """The cases the run could not teach, each with its possible contradictions."""
    stubborn = report.get("stubborn") or []
    if not stubborn:
        return
    click.echo(f"{plural(len(stubborn), 'case')} could not be learned (check their labels):")
    for entry in stubborn[:limit]:
        click.echo(f"  {entry['id']}: expected "
                   f"{one_line(json.dumps(entry['expected'], ensure_ascii=False), 30)}, got "
                   f"{one_line(str(entry['predicted']), 30)}")
        for other in entry["possible_contradictions"]:
            click.echo(f"    possible contradiction: {other['id']} expects "
                       f"{one_line(json.dumps(other['expected'], ensure_ascii=False), 30)} "
                       f"(similarity {other['similarity']:.2f})")
    if len(stubborn) > limit:
        click.echo(f"  … {len(stubborn) - limit} more in the report (--json)")


@click.command("tune")
@click.argument("batch_id", metavar="[BATCH]", required=False, shell_complete=complete_batch)
@click.option("--baseline", "baseline_only", is_flag=True,
              help="Train the first production model on main's baseline alone (a repository "
                   "whose baseline came from `straw init --demo`), and commit it to models.lock.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (no progress).")
@click.option("--all-cases", is_flag=True, help="List passing cases too (failing come first).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; the per-round lines remain.")
@repo_option
def tune_command(batch_id: str | None, baseline_only: bool, as_json: bool, all_cases: bool,
                 quiet: bool, repo_path: str | None) -> None:
    """Train on baseline + batch until every case passes; commit the report on batch/<id>.

    BATCH: a batch id, a unique prefix of one, or `latest`. Ctrl-C (or SIGTERM) stops after the
    current step and writes nothing."""
    if bool(batch_id) == baseline_only:
        raise click.UsageError("name a batch to tune, or pass --baseline (not both)")
    repo = open_repo(repo_path)
    if batch_id:
        batch_id = resolve.batch_id(repo, batch_id)
    from tuning.backends import dist
    from tuning.tune import cancel_on_signals, tune_batch  # torch: only when tuning

    speaks = dist.is_main()  # under torchrun every rank runs this command; rank 0 reports
    printer = ProgressPrinter(quiet=quiet or as_json, rounds_to_stderr=as_json) if speaks else None
    cancel = threading.Event()
    try:
        with cancel_on_signals(cancel):
            if baseline_only:
                from tuning.bootstrap import train_baseline
                from tuning.errors import BootstrapFailed

                try:
                    boot = train_baseline(repo, progress=printer, cancel=cancel)
                except BootstrapFailed as failed:  # name the cases before the one-line error
                    if speaks:
                        print_stubborn({"stubborn": failed.stubborn})
                    raise
                if not speaks:
                    return
                if as_json:
                    echo_json(boot.report)
                    return
                print_stubborn(boot.report)
                lock = boot.lock
                click.echo(f"production model {lock['model']} passes "
                           f"{lock['baseline']['passed']}/{lock['baseline']['total']} baseline "
                           f"cases; models.lock committed on main")
                return
            assert batch_id is not None
            report = tune_batch(repo, batch_id, progress=printer, cancel=cancel)
    finally:
        if printer is not None:
            printer.close()
    if not speaks:
        return
    passed = report["summary"]["passed"]
    # The gate's own verdict on the report just committed: a report can pass the thresholds and
    # still be refused (watch negative flips, blame), and a CI step that runs only `tune` must
    # not go green on a batch the gate will refuse.
    refused = None if not passed else gate_refusal(repo, report["batch"])
    if as_json:
        echo_json(report)
        if refused is not None:
            click.echo(f"straw: gate: refused: {refused}", err=True)
        sys.exit(0 if passed and refused is None else 1)
    print_cases(report, all_cases)
    print_summary(report)
    click.echo(f"report committed on batch/{report['batch']} (reports/{report['batch']}.json) "
               f"in {report['seconds']:.1f}s; next: "
               + (f"straw gate {report['batch']}" if passed and refused is None
                  else "see the gate's refusal below" if passed
                  else "fix or add cases and tune again"))
    if refused is not None:
        click.echo(f"straw: gate: {status('refused')}: {refused}", err=True)
    if not passed or refused is not None:
        sys.exit(1)  # CI: a tune whose report fails the thresholds or the gate is a failure


def gate_refusal(repo: CaseRepo, batch_id: str) -> str | None:
    result = gate.check_gate(repo, batch_id)
    return None if result.passed else result.reason


@click.command("eval")
@click.option("--model", "model_hash", default=None, shell_complete=complete_model,
              help="Model hash (sha256:…) or a unique prefix of it; default: the production "
                   "model in models.lock.")
@click.option("--split", type=click.Choice(["baseline", "pending", "watch", "all"]), default="baseline",
              show_default=True, help="Which cases to run.")
@click.option("--ref", default="main", show_default=True, help="Branch or commit whose cases to run.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (no progress).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Also write the report (JSON) to this file.")
@click.option("--all-cases", is_flag=True, help="List passing cases too (failing come first).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@repo_option
def eval_command(model_hash: str | None, split: str, ref: str, as_json: bool, output: str | None,
                 all_cases: bool, quiet: bool, repo_path: str | None) -> None:
    """Run a stored model on the cases (cached per model and case input) and print a report."""
    repo = open_repo(repo_path)
    from tuning.evaluate import evaluate

    if model_hash:
        model_hash = resolve.model_hash(repo, model_hash)
    printer = ProgressPrinter(quiet=quiet or as_json)
    try:
        report = evaluate(repo, model_hash, split=split, ref=ref, progress=printer)
    finally:
        printer.close()
    if output:
        from repo_store import schemas

        schemas.check("report", report, output)
        with open(output, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    if as_json:
        echo_json(report)
    else:
        print_cases(report, all_cases)
        print_summary(report)
    if not report["summary"]["passed"]:
        sys.exit(1)  # it printed FAILED


@click.command("export-model")
@click.argument("model_hash", metavar="MODEL", shell_complete=complete_model)
@click.argument("out_dir", type=click.Path(file_okay=False))
@repo_option
def export_model_command(model_hash: str, out_dir: str, repo_path: str | None) -> None:
    """Write a stored model as a plain model folder (a LoRA adapter is merged into its base).

    MODEL: a model hash (sha256:…) or a unique prefix of it."""
    from pathlib import Path

    from tuning.export import merge_adapter
    from tuning.model_store import ModelStore

    repo = open_repo(repo_path)
    model_hash = resolve.model_hash(repo, model_hash)
    merge_adapter(ModelStore(repo.model_store).load(model_hash), Path(out_dir))
    click.echo(f"wrote {out_dir}")
