"""One pull request (a batch branch): gate state with its reason, the diff vs main case by case,
the latest report with failing cases first, its flips against the production model, a chart of
pass rates per round, and the actions: tune (live progress, cancel), merge (only when the gate
passes; asks first), reject (a reason), update from main, copy the PR body."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Log, ProgressBar, Static, TabbedContent, TabPane, Tabs

from repo_store import batch_status, batches, flip_ledger, flips, review
from repo_store.batch_status import BatchInfo
from repo_store.batches import CaseChange
from repo_store.errors import NoSuchBatch, StrawError
from tui.dialogs.confirm import Confirm
from tui.dialogs.reason import AskText
from tui.dialogs.text_view import TextView
from tui.screens.fresh import FreshScreen
from tui.screens.pulls import status_cell
from tui.text import block, cell, plural
from tui.widgets.charts import PassRateChart
from tui.widgets.diff_view import diff_text
from tui.widgets.footer import StrawFooter
from tui.widgets.title import ScreenTitle
from tuning.progress import Event
from tuning.recheck import merge_checked


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Failing cases first, then new before baseline."""
    return sorted(report.get("cases", []), key=lambda c: (c["pass"], c["split"] != "new", c["id"]))


def step_line(round_no: int, rounds: int, step: Any, elapsed: float) -> str:
    """`round 2/5 · step 30/120 · loss 0.4312 · about 14 s left in this round`: the ETA is the
    round's pace so far (steps in a round cost about the same)."""
    parts = [f"round {round_no}/{rounds}", f"step {step.step}/{step.total}"]
    if step.loss is not None:
        parts.append(f"loss {step.loss:.4f}")
    if step.step and step.total > step.step:
        left = elapsed / step.step * (step.total - step.step)
        parts.append(f"about {left:.0f} s left in this round" if left < 120
                     else f"about {left / 60:.0f} min left in this round")
    elif step.step >= step.total:
        parts.append("checking the cases…")
    return " · ".join(parts)


# the gate's reasons name CLI commands (repo_store serves the CLI too); here keys do the same
CLI_TO_KEYS = ((re.compile(r"run `straw tune [^`]*`"), "press t to tune"),
               (re.compile(r"run `straw batch update [^`]*` and tune"), "press u to update, then t to tune"),
               (re.compile(r"`straw flips [^`]*--promote` moves"), "pressing f moves"))
NO_TUNE = "no tune is running"


def in_keys(reason: str) -> str:
    """A gate reason as this screen's keys say it."""
    for pattern, keys in CLI_TO_KEYS:
        reason = pattern.sub(keys, reason)
    return reason


CLOSED_WHY = {"merged": "its cases are in the baseline; new cases go in a new batch",
              "rejected": "its cases are pending again; put them in a new batch"}
DONE = {"tune": "tuned", "update": "updated", "reject": "rejected", "merge": "merged"}


class PullScreen(FreshScreen):
    HELP_TITLE = "Pull request"
    HELP = ("A batch branch under review. Tune until every case passes; the gate then allows the merge, "
            "which brings the cases into the baseline and promotes the model.")
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the list of pull requests", id="back"),
        Binding("t", "tune", "Tune", tooltip="Fine-tune on baseline + batch, validate", id="tune"),
        Binding("x", "cancel_tune", "Cancel tune", tooltip="Stop the running tune; nothing is written",
                id="cancel-tune"),
        Binding("m", "merge", "Merge", tooltip="Merge into main (only when the gate passes; asks first)",
                id="merge"),
        Binding("j", "reject", "Reject", tooltip="Close the batch with a reason; its cases stay pending",
                id="reject"),
        Binding("u", "update", "Update", tooltip="Merge main into the branch (main moved on)", id="update"),
        Binding("f", "promote_flips", "Promote flips", id="promote-flips",
                tooltip="Move the watch cases this model breaks into pending (then update and tune)"),
        Binding("y", "pr_body", "PR body", tooltip="Show and copy the Markdown PR description", id="pr-body"),
        Binding("r", "reload", "Reload", tooltip="Read the branch, report and gate again", id="reload"),
        Binding("right_square_bracket", "next_pr_tab", "Next tab", show=False, key_display="]",
                tooltip="Diff → Report → Flips → Rounds → Tune", id="next-tab"),
        Binding("left_square_bracket", "previous_pr_tab", "Previous tab", show=False, key_display="[",
                tooltip="Tune → Rounds → Flips → Report → Diff", id="previous-tab"),
    ]

    @dataclass
    class Loaded(Message):
        info: BatchInfo
        changes: list[CaseChange] | None
        diff_error: str | None
        seconds: float

    @dataclass
    class Gone(Message):
        reason: str

    @dataclass
    class Done(Message):
        what: str
        detail: str

    @dataclass
    class TuneEvent(Message):
        event: Any

        def can_replace(self, message: Message) -> bool:  # toolong: steps collapse, rounds do not
            from tuning.progress import Step

            return (isinstance(message, PullScreen.TuneEvent) and isinstance(self.event, Step)
                    and isinstance(message.event, Step))

    @dataclass
    class TuneEnded(Message):
        ok: bool
        text: str

    @dataclass
    class Body(Message):
        text: str

    def __init__(self, batch_id: str, then: str | None = None) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.then = then  # an action asked for in the command palette, run after the first load
        self.gone = False  # the batch no longer exists (rejected from another terminal)
        self.info: BatchInfo | None = None
        self.cancel = threading.Event()
        self.tuning = False
        self.tuned = False  # a tune ran on this screen: the Tune tab shows its outcome, not a hint
        self.round_total = (1, 1)
        self.round_started = time.monotonic()
        self.load_seconds = 0.0

    # not `next_tab`: the tab bar's own action of that name would hide this one in the help
    def action_next_pr_tab(self) -> None:
        self.query_one("#pr-tabs", TabbedContent).query_one(Tabs).action_next_tab()

    def action_previous_pr_tab(self) -> None:
        self.query_one("#pr-tabs", TabbedContent).query_one(Tabs).action_previous_tab()

    def compose(self) -> ComposeResult:
        yield ScreenTitle("Pull requests", f"Pull request {self.batch_id}")
        yield Static("loading…", id="pr-head")
        yield Static("", id="pr-gate")
        with TabbedContent(initial="tab-diff", id="pr-tabs"):
            with TabPane("Diff", id="tab-diff"):
                with VerticalScroll():
                    yield Static("", id="pr-diff")
            with TabPane("Report", id="tab-report"):
                yield Static("", id="pr-report-summary")
                yield DataTable(cursor_type="row", zebra_stripes=True, id="pr-report")
            with TabPane("Flips", id="tab-flips"):
                yield Static("", id="pr-flips-summary")
                yield DataTable(cursor_type="row", zebra_stripes=True, id="pr-flips")
            with TabPane("Rounds", id="tab-chart"):
                yield PassRateChart(id="pr-chart")
            with TabPane("Tune", id="tab-tune"):
                yield Static("loading…", id="tune-status")
                yield ProgressBar(total=100, show_eta=False, id="tune-progress")
                yield Log(id="tune-log")
        yield StrawFooter()

    def on_mount(self) -> None:
        table = self.query_one("#pr-report", DataTable)
        for label, key, width in (("pass", "pass", 4), ("split", "split", 8), ("case", "case", 22),
                                  ("expected", "expected", 24), ("predicted", "predicted", 24)):
            table.add_column(label, key=key, width=width)
        flipped = self.query_one("#pr-flips", DataTable)
        for label, key, width in (("flip", "kind", 8), ("split", "split", 8), ("case", "case", 28),
                                  ("expected", "expected", 18), ("production", "production", 18),
                                  ("this model", "candidate", 18)):
            flipped.add_column(label, key=key, width=width)
        self.load()

    # ---- loading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="pull-load")
    def load(self) -> None:
        self.mark_fresh()
        started = time.perf_counter()
        with self.app.library() as repo:  # type: ignore[attr-defined]
            try:
                info = batch_status.batch_info(repo, self.batch_id)
            except NoSuchBatch as err:  # rejected or deleted, here or in another terminal
                self.post_message(self.Gone(str(err)))
                return
            changes, error = None, None
            try:
                changes = batches.batch_diff(repo, self.batch_id)
            except StrawError as err:
                error = str(err)
        self.post_message(self.Loaded(info, changes, error, time.perf_counter() - started))

    @on(Gone)
    def _gone(self, event: Gone) -> None:
        self.gone = True
        self.query_one("#pr-head", Static).update(Text(event.reason, style="yellow"))
        self.query_one("#pr-gate", Static).update(Text("gate: this pull request is closed (esc: back)",
                                                       style="dim"))
        self._show_tune_hint()
        self.refresh_bindings()

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.info = info = event.info
        b = info.batch
        count = f"{len(b.cases)} cases"
        head = Text.assemble(status_cell(info.status), "  ", (b.title, "bold"),
                             f"  · {count}" if b.title != count else "",  # the default title is the count
                             f" · approved by {b.approver} on {b.created[:10]}",
                             f" · branch {b.branch}")
        self.query_one("#pr-head", Static).update(head)
        mark = {"passing": ("✓ ", "green"), "merged": ("● ", "blue"), "rejected": ("⊘ ", "dim")}
        gate = Text.assemble(("gate: ", "bold"), mark.get(info.status, ("✗ ", "red")), in_keys(info.reason))
        self.query_one("#pr-gate", Static).update(gate)
        self._show_tune_hint()
        self.refresh_bindings()
        diff = diff_text(event.changes) if event.changes is not None else Text(event.diff_error or "")
        self.query_one("#pr-diff", Static).update(diff)
        self._show_report(info.report)
        self.load_seconds = event.seconds
        if self.then:
            action, self.then = self.then, None
            self.call_later(self.run_requested, action)

    def closed(self) -> str | None:
        """Why this batch takes no more tunes, updates or merges; None while it is open."""
        if self.gone:
            return "this pull request is closed"
        status = self.info.status if self.info else ""
        return f"this batch is {status}" if status in CLOSED_WHY else None

    def _no_report(self) -> str:
        closed = self.closed()
        return f"no report: {closed}" if closed else "no report yet: press t to tune"

    def _show_tune_hint(self) -> None:
        """The Tune tab's line until a tune runs here: `t`, or why a closed batch has no tune (its
        `t` is hidden, so the hint would point at a key that does nothing)."""
        if not self.tuning and not self.tuned:
            self.query_one("#tune-status", Static).update(
                Text(self.unavailable("tune"), style="yellow") if self.closed() else Text("press t to tune"))
            self.query_one(ProgressBar).display = not self.closed()  # no tune to show progress of

    def unavailable(self, action: str) -> str:
        """Why `action` cannot run now, in words (check_action said no)."""
        closed = self.closed()
        if action == "cancel_tune":
            return NO_TUNE
        if closed:
            why = CLOSED_WHY.get(self.info.status, "") if self.info and not self.gone else ""
            return f"{closed}: it cannot be {DONE.get(action, 'changed')}" + (f" ({why})" if why else "")
        if self.tuning:
            return "a tune is running: wait for it, or cancel it (x)"
        if self.info is None:
            return "the pull request is still loading"
        if action == "merge":
            return f"the gate does not pass: {in_keys(self.info.reason)}"
        return "the report has no watch cases this model breaks"  # promote_flips

    async def run_requested(self, action: str) -> None:
        """An action asked for by name (command palette): run it, or say why not. Keys that are
        hidden or disabled do nothing, which from the palette reads as broken."""
        if self.check_action(action, ()):
            await self.run_action(action)
            return
        if action == "tune":  # the Tune tab says it inline too
            self.query_one(TabbedContent).active = "tab-tune"
        self.notify(self.unavailable(action), severity="warning")

    def _show_report(self, report: dict[str, Any] | None) -> None:
        table = self.query_one("#pr-report", DataTable)
        table.clear()
        summary = self.query_one("#pr-report-summary", Static)
        chart = self.query_one(PassRateChart)
        self._show_flips(report)
        if report is None:
            summary.update(Text(self._no_report(), style="dim"))
            chart.plot_rates("no rounds yet", "round", [], {})
            return
        s = report["summary"]
        failing = [c for c in report["cases"] if not c["pass"]]
        line = Text.assemble(
            ("report: ", "bold"), f"baseline {s['baseline']['passed']}/{s['baseline']['total']}, ",
            f"new {s['new']['passed']}/{s['new']['total']} · {len(failing)} failing · ",
            f"model {report['model']['hash'][:19]} · {plural(len(report.get('rounds', [])), 'round')}",
        )
        if report.get("blame"):
            line.append(f"\nregressions vs production: {', '.join(report['blame'][:10])}", style="red")
        for warning in report.get("warnings", [])[:3]:
            line.append(f"\nwarning: {warning}", style="yellow")
        summary.update(line)
        for row in report_rows(report):
            ok = row["pass"]
            mark = Text("✓" if ok else "✗", style="green" if ok else "bold red")
            table.add_row(mark, cell(row["split"], 8),
                          cell(row["id"], 22), cell(row["expected"], 24), cell(row["predicted"], 24),
                          key=row["id"])
        rounds = report.get("rounds", [])
        chart.plot_rates("pass rate per round (%)", "round", [str(r["round"]) for r in rounds],
                         {"baseline": [r["baseline_pass"] for r in rounds],
                          "new": [r["new_pass"] for r in rounds]})

    def _show_flips(self, report: dict[str, Any] | None) -> None:
        """Negative flips (production right, this model wrong) with both predictions, positive
        flips, NFR and McNemar's p per split, or why there is nothing to compare."""
        table = self.query_one("#pr-flips", DataTable)
        table.clear()
        summary = self.query_one("#pr-flips-summary", Static)
        found = (report or {}).get("flips")
        if not isinstance(found, dict):
            why = (self._no_report() if report is None else
                   "no flips: there was no production model to compare with when this was tuned")
            summary.update(Text(why, style="dim"))
            return
        line = Text.assemble(("flips vs production ", "bold"), str(found["production"])[:19])
        for text in [*flips.flip_lines(report or {}), *flips.repair_lines(report or {})]:
            line.append("\n")
            line.append_text(block(text))
        summary.update(line)
        for n, row in enumerate(flips.flip_rows(report or {})):
            bad = row["kind"] == "negative"
            table.add_row(Text("✗ worse" if bad else "✓ better", style="bold red" if bad else "green"),
                          cell(row["split"], 8), cell(row["id"], 28), cell(row["expected"], 18),
                          cell(row["production"], 18), cell(row["candidate"], 18), key=f"{n}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Merge shows only while the gate passes; cancel only while a tune runs; a merged or
        rejected batch is closed: nothing to tune, update or reject."""
        if self.gone and action in ("merge", "tune", "update", "reject", "pr_body"):
            return False
        if action == "merge":
            return self.info is not None and self.info.status == "passing" and not self.tuning
        if action == "cancel_tune":
            return self.tuning
        if action == "promote_flips":  # only while the report has watch negative flips to move
            return bool(self.watch_flips()) and not self.gone and not self.tuning
        if action in ("tune", "update", "reject"):  # while a tune runs they say so (a disabled key is mute)
            return self.info is None or self.info.status not in ("merged", "rejected")
        return True

    # ---- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.tuning:
            self.notify("a tune is running: cancel it (x) first", severity="warning")
            return
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    def _tune_running(self, action: str) -> bool:
        """True, and says so, while a tune runs: it writes the branch that `action` would."""
        if self.tuning:
            self.notify(self.unavailable(action), severity="warning")
        return self.tuning

    def action_merge(self) -> None:
        if not self.info or self.info.status != "passing":
            self.notify("the gate does not pass: " + (in_keys(self.info.reason) if self.info else "loading"),
                        severity="error")
            return
        question = Text.assemble("Merge ", (self.info.batch.branch, "bold"), " into main?\n",
                                 f"{len(self.info.batch.cases)} cases join the baseline; "
                                 "the model is promoted.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._run("merge")

        self.app.push_screen(Confirm(question, "Merge", "Not now"), answered)

    def action_reject(self) -> None:
        if self._tune_running("reject"):
            return

        def reject(reason: str) -> str:  # in the dialog: a refusal shows there, the dialog stays
            with self.app.library() as repo:  # type: ignore[attr-defined]
                tag = batches.reject_batch(repo, self.batch_id, reason)
            return f"rejected; archived as tag {tag}; its cases are pending again"

        def answered(detail: str | None) -> None:
            if detail is not None:
                self.post_message(self.Done("reject", detail))

        self.app.push_screen(AskText(f"Reject batch {self.batch_id}? Its cases return to pending. "
                                     "Reason (optional, as with `straw reject`):",
                                     "why this batch is closed", act=reject), answered)

    def action_update(self) -> None:
        if not self._tune_running("update"):
            self._run("update")

    def watch_flips(self) -> list[dict[str, Any]]:
        """The watch negative flips of the shown report, while they are the gate's concern."""
        if self.info is None or self.info.status in ("merged", "rejected", "stale"):
            return []  # stale: promoted already, or judged against another production model
        return list((((self.info.report or {}).get("flips") or {}).get("watch") or {})
                    .get("negative") or [])

    def action_promote_flips(self) -> None:
        negative = self.watch_flips()
        question = Text.assemble(
            f"Move {plural(len(negative), 'watch case')} this model breaks into pending?\n",
            ", ".join(f["id"] for f in negative[:5]) + (" …" if len(negative) > 5 else ""), "\n",
            "A later batch makes them contract cases; this batch then needs an update (u) and a "
            "tune (t).")

        def answered(yes: bool | None) -> None:
            if yes:
                self._run("promote")

        self.app.push_screen(Confirm(question, "Promote", "Not now"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="pull-action")
    def _run(self, what: str) -> None:
        with self.app.library() as repo:  # type: ignore[attr-defined]
            if what == "merge":
                commit = merge_checked(repo, self.batch_id)
                detail = f"merged into main as {commit[:8]}"
            elif what == "promote":
                moved = flip_ledger.promote(repo, flip_ledger.batch_ledger(repo, self.batch_id))
                detail = (f"promoted {plural(len(moved), 'watch case')} to pending; "
                          "update (u) and tune (t) again")
            else:
                updated = batches.update_batch(repo, self.batch_id)
                detail = f"updated from main ({updated[:8]}); tune again" if updated else "already up to date"
        self.post_message(self.Done(what, detail))

    @on(Done)
    def _done(self, event: Done) -> None:
        self.notify(event.detail)
        if event.what == "reject":
            self.app.pop_screen()
        self.app.repo_changed()  # type: ignore[attr-defined]  # this screen and the list below it

    def action_pr_body(self) -> None:
        self._body()

    @work(thread=True, exclusive=True, exit_on_error=False, group="pull-body")
    def _body(self) -> None:
        with self.app.library() as repo:  # type: ignore[attr-defined]
            text = review.pr_body(repo, self.batch_id)
        self.post_message(self.Body(text))

    @on(Body)
    def _show_body(self, event: Body) -> None:
        self.app.copy_to_clipboard(event.text)
        self.app.push_screen(TextView(f"PR body for {self.batch_id} (copied; y copies again)", event.text))

    # ---- tune ---------------------------------------------------------------------------------

    def action_tune(self) -> None:
        if self._tune_running("tune"):
            return
        if self.info is not None and self.info.status == "passing":  # a tune adds another report commit
            question = Text.assemble("The gate passes; tune ", (self.info.batch.branch, "bold"), " again?\n",
                                     "A new tune commits another report; the gate then judges that one.")

            def answered(yes: bool | None) -> None:
                if yes:
                    self._start_tune()

            self.app.push_screen(Confirm(question, "Tune again", "Not now"), answered)
            return
        self._start_tune()

    def _start_tune(self) -> None:
        self.cancel = threading.Event()
        self.tuning = self.tuned = True
        self.refresh_bindings()
        self.query_one(TabbedContent).active = "tab-tune"
        self.query_one("#tune-log", Log).clear()
        self.query_one("#tune-status", Static).update("starting…")
        self.query_one(ProgressBar).update(total=100, progress=0)
        self._tune(self.cancel)

    def action_cancel_tune(self) -> None:
        if self.tuning:
            self.cancel.set()
            self.query_one("#tune-status", Static).update("cancelling after the current step…")

    def _post_tune_event(self, event: Event) -> None:  # from the tune's thread
        self.post_message(self.TuneEvent(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="tune")
    def _tune(self, cancel: threading.Event) -> None:
        from tuning.errors import Cancelled
        from tuning.tune import tune_batch

        repo = self.app.fresh_repo()  # type: ignore[attr-defined]
        try:
            report = tune_batch(repo, self.batch_id, progress=self._post_tune_event,
                                cancel=cancel)
        except Cancelled as err:
            self.post_message(self.TuneEnded(False, str(err)))
            return
        except StrawError as err:
            self.post_message(self.TuneEnded(False, f"tune failed: {err}"))
            return
        except Exception as err:
            self.post_message(self.TuneEnded(False, f"tune failed: {type(err).__name__}: {err}"))
            raise
        s = report["summary"]
        self.post_message(self.TuneEnded(True, f"report committed: baseline {s['baseline']['passed']}/"
                                               f"{s['baseline']['total']}, new {s['new']['passed']}/"
                                               f"{s['new']['total']}"))

    @on(TuneEvent)
    def _tune_event(self, message: TuneEvent) -> None:
        from tuning.progress import Phase, RoundDone, RoundStarted, Saved, Step

        event = message.event
        status = self.query_one("#tune-status", Static)
        bar = self.query_one(ProgressBar)
        log = self.query_one("#tune-log", Log)
        if isinstance(event, Phase):
            status.update(Text(f"{event.name} {event.detail}".strip()))
            log.write_line(f"{event.name} {event.detail}".strip())
        elif isinstance(event, RoundStarted):
            self.round_total = (event.round, event.max_rounds)
            self.round_started = time.monotonic()
            bar.update(total=max(1, event.steps * event.max_rounds), progress=event.steps * (event.round - 1))
            status.update(Text(f"round {event.round}/{event.max_rounds}: training {event.steps} steps"))
        elif isinstance(event, Step):
            rnd, rounds = self.round_total
            total = max(1, event.total)
            bar.update(total=total * rounds, progress=total * (rnd - 1) + event.step)
            status.update(Text(step_line(rnd, rounds, event, time.monotonic() - self.round_started)))
        elif isinstance(event, RoundDone):
            loss = f"{event.loss:.4f}" if event.loss is not None else "-"
            log.write_line(f"round {event.round}: loss {loss}, baseline {event.baseline_pass:.1%}, "
                           f"new {event.new_pass:.1%} ({event.seconds:.1f}s)")
        elif isinstance(event, Saved):
            log.write_line(f"saved model {event.hash[:19]}")

    @on(TuneEnded)
    def _tune_ended(self, message: TuneEnded) -> None:
        self.tuning = False
        self.refresh_bindings()
        style = "green" if message.ok else "red"
        self.query_one("#tune-status", Static).update(Text(message.text, style=style))
        self.query_one("#tune-log", Log).write_line(message.text)
        if message.ok:
            bar = self.query_one(ProgressBar)
            if bar.total is not None:
                bar.update(progress=bar.total)
        self.notify(message.text, severity="information" if message.ok else "warning")
        self.app.repo_changed()  # type: ignore[attr-defined]
