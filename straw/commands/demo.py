"""`straw demo`: the seed's story end to end on the embedded default model, with a progress
display and a side-by-side table of what each way did to the baseline."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from straw.commands.common import echo_json


class DemoProgress:
    """The tune progress printer plus one line per demo phase."""

    def __init__(self) -> None:
        from straw.commands.engine import ProgressPrinter

        self.printer = ProgressPrinter()
        self.last_phase = ""

    def __call__(self, event: Any) -> None:
        from tuning.progress import Phase

        if isinstance(event, Phase) and event.name in ("setup", "baseline", "pharaoh", "straw"):
            self.printer.close()
            click.echo(f"[{event.name}] {event.detail}", err=True)
            return
        self.printer(event)


def _table(result: Any) -> str:
    rows = [("", "Pharaoh's way", "straw's way"),
            ("", "one case at a time", "batch + baseline, gated")]
    n, s = result.naive, result.straw
    rows += [
        ("baseline passing before", f"{n.baseline_before}/{n.baseline_total}",
         f"{s.baseline_before}/{s.baseline_total}"),
        ("baseline passing after", f"{n.baseline_after}/{n.baseline_total}",
         f"{s.baseline_after}/{s.baseline_total}"),
        ("baseline cases broken", str(len(n.broken)), str(len(s.broken))),
        ("new cases passing", f"{n.new_passed}/{n.new_total}", f"{s.new_passed}/{s.new_total}"),
        ("fine-tunes / tune rounds", str(n.trainings), str(s.trainings)),
        ("seconds", f"{n.seconds:.1f}", f"{s.seconds:.1f}"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"  {r[0]:<{width[0]}}  {r[1]:>{width[1]}}  {r[2]:>{width[2]}}" for r in rows]
    lines.insert(2, "  " + "-" * (sum(width) + 4))
    return "\n".join(lines)


@click.command("demo")
@click.option("--dir", "workdir", type=click.Path(file_okay=False), default=None,
              help="Where to create the demo repository (default: a temporary folder, removed).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Training seed (the same seed tells the same story).")
@click.option("--json", "as_json", is_flag=True, help="The measurements as JSON.")
def demo_command(workdir: str | None, seed: int, as_json: bool) -> None:
    """The seed's story: one-case fine-tunes break the baseline; a gated batch does not."""
    from dataclasses import asdict

    from tuning.demo import run_demo

    temp = None if workdir else Path(tempfile.mkdtemp(prefix="straw-demo-"))
    root = Path(workdir) if workdir else temp / "cases"  # type: ignore[operator]
    try:
        result = run_demo(root, seed=seed, progress=None if as_json else DemoProgress())
        if as_json:
            echo_json({**asdict(result), "root": str(result.root)})
            return
        click.echo("\nThe same 20 new cases, taught to the same production model two ways:\n")
        click.echo(_table(result))
        worst = max(result.per_case, key=lambda r: r["broken_now"], default=None)
        if result.naive.broken:
            click.echo(f"\nPharaoh's way broke {len(result.naive.broken)} baseline cases that "
                       f"worked before (at worst {worst['broken_now'] if worst else 0} at once, "
                       f"after {worst['case'] if worst else '-'}).")
        else:
            click.echo("\nThis time Pharaoh's way broke no baseline case: the table says so.")
        if not result.straw.broken:
            click.echo("straw's way broke none: the gate would have refused the merge otherwise.")
        click.echo("\ngit log of the result:\n")
        click.echo(result.git_log.rstrip())
        if workdir:
            click.echo(f"\nthe repository is at {result.root}; try `straw tui --repo {result.root}`")
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
