"""Monitor: the production model (models.lock), the baseline pass rate over model versions, the
last monitor runs, a monitor run, and a rollback to an earlier version (asks first)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from repo_store import lockfile, monitor_log
from repo_store.customer_report import VersionScore, version_score
from repo_store.lockfile import LockVersion
from tui.dialogs.confirm import Confirm
from tui.screens.fresh import FreshScreen
from tui.widgets.charts import PassRateChart
from tui.widgets.columns import Column, FittedTable
from tui.widgets.footer import StrawFooter
from tui.widgets.title import ScreenTitle


def _rate(score: dict[str, int] | None) -> float | None:
    if not score or not score.get("total"):
        return None
    return score["passed"] / score["total"]


MARKS = {"monitor": "*", "unknown": "?"}  # beside a version's score (table) and hash (chart)
SOURCE_NOTES = {"monitor": "*: measured by the monitor (the version's lock records no score)",
                "unknown": "unknown: none recorded or measured"}


def baseline_score(version: LockVersion, runs: list[dict[str, Any]], until: str | None
                   ) -> VersionScore:
    """The version's baseline score by the rule the customer page uses (version_score);
    `until`: when the next version replaced it (None for production)."""
    b = version.lock.get("baseline") or {}
    recorded = (b["passed"], b["total"]) if isinstance(b.get("passed"), int) and b.get("total") else None
    return version_score(recorded, version.lock.get("model"), version.date, runs, until)


# the baseline score and the version's identity stay; "new" (its batch's own cases) goes first
VERSION_COLUMNS = (Column("date", "date", 10), Column("model", "model", 12, least=8),
                   Column("reason", "reason", 8), Column("batch", "batch", 17, least=17),
                   Column("baseline", "baseline", 8), Column("new", "new", 7, least=5, optional=True))
RUN_COLUMNS = (Column("time", "time", 16), Column("model", "model", 12, least=8), Column("pass", "pass", 9),
               Column("rate", "rate", 7), Column("action", "action", 9))


def batch_cell(lock: dict[str, Any]) -> str:
    """A rollback's lock keeps the batch that merged its model: in parentheses, so the row does
    not read as that merge (History and `straw log` show no batch for it)."""
    batch = lock.get("batch")
    if not batch:
        return "-"
    return f"({batch})" if lock.get("reason") == "rollback" else str(batch)


def score_cell(score: VersionScore) -> Text:
    """`*`: measured by the monitor (the legend under the table says so); `unknown`: no score."""
    if score.rate is None:
        return Text("unknown", style="yellow")
    return Text(f"{score.passed}/{score.total}{MARKS.get(score.source, '')}")


class MonitorScreen(FreshScreen):
    HELP_TITLE = "Monitor"
    HELP = ("The production model is the one models.lock names on main. The monitor runs it on the "
            "baseline (or asks the endpoint in git config straw.monitorEndpoint) and rolls back when it "
            "falls below [monitor] threshold. Runs are recorded on the straw/monitor branch.")
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # app.tcss: a smaller chart below 30 lines
    BINDINGS = [
        Binding("m", "run_monitor", "Run monitor", tooltip="Evaluate production on the baseline now",
                id="run-monitor"),
        Binding("b", "rollback", "Roll back", tooltip="Make the selected earlier version production (asks)",
                id="rollback"),
        Binding("r", "reload", "Reload", tooltip="Read models.lock and the monitor log again", id="reload"),
    ]

    @dataclass
    class Loaded(Message):
        lock: dict[str, Any] | None
        versions: list[LockVersion]
        scores: list[VersionScore]  # each version's baseline score (baseline_score)
        runs: list[dict[str, Any]]

    @dataclass
    class Done(Message):
        text: str
        ok: bool

    @dataclass
    class Refused(Message):
        """The rollback's check refused the version (below the threshold, or cannot run here)."""

        version: LockVersion
        why: str
        score: dict[str, int] | None  # what the check measured: a forced retry commits it

    def __init__(self) -> None:
        super().__init__()
        self.versions: list[LockVersion] = []
        self.stop = threading.Event()  # set when the screen goes: a running rollback check stops
        self.production: dict[str, Any] | None = None  # not `lock`: Widget.lock is its RLock

    def compose(self) -> ComposeResult:
        yield ScreenTitle("Monitor")
        yield Static("loading…", id="monitor-head")
        with Horizontal(classes="main"):
            with Vertical(id="monitor-tables"):
                yield Static(Text("model versions (newest first)", style="bold"))
                yield FittedTable(VERSION_COLUMNS, "batch", ("model", "new"), id="versions-table")
                yield Static("", id="versions-note", classes="note")
                yield Static(Text("last monitor runs", style="bold"))
                yield FittedTable(RUN_COLUMNS, "action", ("model",), id="runs-table")
            yield PassRateChart(id="monitor-chart", classes="detail")
        yield StrawFooter()

    def on_mount(self) -> None:
        self.query_one("#versions-table", FittedTable).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-load")
    def load(self) -> None:
        self.mark_fresh()
        with self.app.library() as repo:  # type: ignore[attr-defined]
            lock = lockfile.read_lock(repo)
            versions = lockfile.lock_history(repo)
            runs = monitor_log.read_entries(repo)
        # newest first: each version ended when the one before it in the list began
        scores = [baseline_score(v, runs, versions[i - 1].date if i else None)
                  for i, v in enumerate(versions)]
        self.post_message(self.Loaded(lock, versions, scores, runs))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.production, self.versions = event.lock, event.versions
        head = self.query_one("#monitor-head", Static)
        if event.lock is None:
            head.update(Text("no production model yet: models.lock is missing on main (merge a batch first)",
                             style="yellow"))
        else:
            lock = event.lock
            rate = _rate(lock.get("baseline"))
            head.update(Text.assemble(
                ("production: ", "bold"), lock["model"][:23], f" · {lock['backend']} on {lock['base']}",
                f" · {lock['reason']} {lock['promoted'][:10]}",
                f" · {'model of ' if lock['reason'] == 'rollback' else ''}batch {lock.get('batch') or '-'}",
                f" · baseline at promotion {rate:.1%}" if rate is not None else ""))
        rows = []
        for n, (v, score) in enumerate(zip(event.versions, event.scores, strict=True)):
            new = v.lock.get("new") or {}
            rows.append((str(n), {"date": v.date[:10], "model": v.lock["model"].removeprefix("sha256:")[:12],
                                  "reason": v.lock["reason"], "batch": batch_cell(v.lock),
                                  "baseline": score_cell(score),
                                  "new": f"{new.get('passed', '-')}/{new.get('total', '-')}"}))
        self.query_one("#versions-table", FittedTable).set_rows(rows)
        sources = {s.source for s in event.scores}
        self.query_one("#versions-note", Static).update(
            " · ".join(text for source, text in SOURCE_NOTES.items() if source in sources))
        self.query_one("#runs-table", FittedTable).set_rows(
            (str(n), {"time": str(entry.get("time", ""))[:16].replace("T", " "),
                      "model": str(entry.get("model", "")).removeprefix("sha256:")[:12],
                      "pass": f"{entry.get('passed')}/{entry.get('total')}",
                      "rate": f"{entry.get('rate', 0):.1%}",
                      "action": (entry.get("action", ""), "green" if entry.get("action") == "ok" else "red")})
            for n, entry in enumerate(reversed(event.runs[-20:])))
        oldest_first = list(reversed(list(zip(event.versions, event.scores, strict=True))))
        self.query_one(PassRateChart).plot_rates(
            "pass rate per model version (%)",
            "version (* monitor, ? unknown)" if sources - {"recorded"} else "version",
            [v.lock["model"].removeprefix("sha256:")[:6] + MARKS.get(s.source, "") for v, s in oldest_first],
            {"baseline": [s.rate for _, s in oldest_first],  # unknown: a gap in the line, never 0 %
             "new": [_rate(v.lock.get("new")) for v, _ in oldest_first]})

    def action_reload(self) -> None:
        self.load()

    def action_run_monitor(self) -> None:
        if self.production is None:
            self.notify("no production model yet: merge a batch first", severity="warning")
            return
        self.query_one("#monitor-head", Static).update("monitor running…")
        self._monitor()

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-run")
    def _monitor(self) -> None:
        from tuning.monitor import endpoint_settings, run_monitor

        repo = self.app.fresh_repo()  # type: ignore[attr-defined]
        result = run_monitor(repo, endpoint=endpoint_settings(repo, None))
        self.post_message(self.Done("; ".join([result.summary(), *result.notes]), result.healthy))

    def action_rollback(self) -> None:
        table = self.query_one("#versions-table", FittedTable)
        if not table.row_count or not self.production:
            self.notify("no earlier model version to roll back to", severity="warning")
            return
        version = self.versions[int(str(table.coordinate_to_cell_key(table.cursor_coordinate)[0].value))]
        if version.lock["model"] == self.production["model"]:
            self.notify("that version is the production model already", severity="warning")
            return
        question = Text.assemble("Roll production back to ", (version.lock["model"][:23], "bold"), "?\n",
                                 "This commits models.lock on main; the current model stays in the store.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.query_one("#monitor-head", Static).update("running that model on the baseline…")
                self._rollback(version)

        self.app.push_screen(Confirm(question, "Roll back", "Keep"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-rollback")
    def _rollback(self, version: LockVersion, force: bool = False,
                  measured: dict[str, int] | None = None) -> None:
        """As `straw rollback` (roll_back_by_hand): the model runs on main's baseline first, on
        a repository object of its own (the other screens' loads do not wait for it), and stops
        with nothing written when the screen goes (Cancelled). A refusal that forcing can get
        past comes back as a question; any other error is the worker's, shown as any other."""
        from tuning.deploy import deploy
        from tuning.errors import Cancelled
        from tuning.monitor import RollbackRefused, roll_back_by_hand

        target, repo = version.lock["model"], self.app.fresh_repo()  # type: ignore[attr-defined]
        try:
            done = roll_back_by_hand(repo, target, "Rolled back by hand from the TUI.", force=force,
                                     cancel=self.stop, measured=measured)
        except RollbackRefused as refused:
            self.post_message(self.Refused(version, refused.why, refused.score))
            return
        except Cancelled:
            return
        failure = deploy(repo, target)  # the local deploy command, when one is set
        score = (f" (not checked: {done.unchecked})" if done.passed is None
                 else f" ({done.passed}/{done.total} baseline cases pass)")
        text = f"production is {target[:19]} again{score}" + (f"; {failure}" if failure else "")
        self.post_message(self.Done(text, not failure and not done.below))

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.query_one("#monitor-head", Static).update(Text(event.why, style="yellow"))
        question = Text.assemble(event.why, "\n\nRoll back all the same?")

        def answered(yes: bool | None) -> None:
            if yes:
                self._rollback(event.version, force=True, measured=event.score)
            else:
                self.load()

        self.app.push_screen(Confirm(question, "Roll back anyway", "Keep"), answered)

    def on_unmount(self) -> None:
        self.stop.set()  # a rollback still running its check stops there and writes nothing

    @on(Done)
    def _done(self, event: Done) -> None:
        self.notify(event.text, severity="information" if event.ok else "warning", timeout=10)
        self.app.repo_changed()  # type: ignore[attr-defined]  # every screen shows the new state
