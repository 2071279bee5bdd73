"""History: the baseline's log, one line per merged batch (cases, model, scores, approver).
Enter shows that batch's cases and report; `c` shows one case's own history."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from repo_store import batches, history, reports
from repo_store.errors import StrawError
from repo_store.history import LogEntry
from repo_store.repo import MAIN
from repo_store.safe_text import printable
from tui.dialogs.case_history import open_case_history
from tui.dialogs.case_picker import CasePicker
from tui.screens.fresh import FreshScreen
from tui.text import cell
from tui.widgets.columns import Column, FittedTable
from tui.widgets.footer import StrawFooter
from tui.widgets.title import ScreenTitle

# at 80 columns the approver and the commit go (the detail below shows both) before a score is cut
COLUMNS = (Column("date", "date", 10), Column("commit", "commit", 8, optional=True),
           Column("kind", "kind", 9), Column("batch", "batch", 16, least=15), Column("cases", "cases", 5),
           Column("model", "model", 12, least=8), Column("baseline", "baseline", 9), Column("new", "new", 7),
           Column("approver", "approver", 20, least=10, optional=True))
GIVE_WAY = ("approver", "commit", "model", "batch")


class HistoryScreen(FreshScreen):
    HELP_TITLE = "History"
    HELP = "main's first-parent log of the baseline and models.lock: merges, the bootstrap, rollbacks."
    BINDINGS = [
        Binding("enter", "open", "Open", tooltip="The selected merge's cases and report", id="open",
                priority=True),  # before the table's own Enter, so the footer shows it
        Binding("c", "case_log", "Case log", tooltip="One case's history (pick it from a list)",
                id="case-log"),
        Binding("r", "reload", "Reload", tooltip="Read the log again", id="reload"),
    ]

    @dataclass
    class Loaded(Message):
        entries: list[LogEntry]

    @dataclass
    class Detail(Message):
        text: Text

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[LogEntry] = []

    def compose(self) -> ComposeResult:
        yield ScreenTitle("History")
        with Vertical(classes="main", id="history-main"):  # the log is wide: full width, detail below
            yield FittedTable(COLUMNS, "approver", GIVE_WAY, id="history-table")
            with VerticalScroll(classes="detail"):
                yield Static(Text("enter: the merge's cases and report", style="dim"), id="history-detail")
        yield StrawFooter()

    def on_mount(self) -> None:
        self.query_one(FittedTable).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history-load")
    def load(self) -> None:
        self.mark_fresh()
        with self.app.library() as repo:  # type: ignore[attr-defined]
            entries = history.baseline_log(repo)
        self.post_message(self.Loaded(entries))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.entries = event.entries
        self.query_one(FittedTable).set_rows(
            (str(n), {"date": e.date[:10], "commit": e.commit[:8], "kind": e.kind, "batch": e.batch or "-",
                      "cases": f"+{e.cases}", "model": (e.model or "-").removeprefix("sha256:")[:12],
                      "baseline": e.baseline or "-", "new": e.new or "-", "approver": e.approver or ""})
            for n, e in enumerate(event.entries))
        if not event.entries:
            self.query_one("#history-detail", Static).update(
                Text("no baseline history on main yet: merge a batch first", style="dim"))

    def action_reload(self) -> None:
        self.load()

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        entry = self.entries[int(str(table.coordinate_to_cell_key(table.cursor_coordinate)[0].value))]
        self._detail(entry)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history-detail")
    def _detail(self, entry: LogEntry) -> None:
        out = Text()
        out.append(f"{entry.subject}\n", style="bold")
        out.append(f"{entry.date}  {entry.commit}\n{entry.kind}")
        out.append(f" by {entry.approver}" if entry.approver else "")
        out.append(f" · model {entry.model or '-'}\n" if entry.model else "\n")
        if entry.reason:
            out.append("why: ", style="bold")
            out.append(f"{printable(entry.reason)}\n")
        if entry.batch:
            with self.app.library() as repo:  # type: ignore[attr-defined]
                try:
                    batch = batches.require_batch(repo, entry.batch)
                except StrawError as err:
                    batch = None
                    out.append(f"{err}\n", style="red")
                report = reports.read_report(repo, entry.batch, MAIN)
                by_id = {c.id: c for c in repo.load_ref(MAIN).cases} if batch else {}
            if batch:
                out.append(f"\n{batch.title} · approved by {batch.approver}\n", style="bold")
                for case_id in batch.cases:
                    case = by_id.get(case_id)
                    out.append(f"  {case_id}  ")
                    out.append_text(cell(case.expected if case else "?", 20))
                    out.append("  ")
                    out.append_text(cell(case.text if case else "(no longer on main)", 60))
                    out.append("\n")
            if report:
                s = report["summary"]
                out.append(f"\nreport: baseline {s['baseline']['passed']}/{s['baseline']['total']}, new "
                           f"{s['new']['passed']}/{s['new']['total']}, "
                           f"{len(report.get('rounds', []))} rounds\n",
                           style="bold")
                for row in [r for r in report["cases"] if not r["pass"]][:20]:
                    out.append(f"  ✗ {row['id']} expected ", style="red")
                    out.append_text(cell(row["expected"], 30, "red"))
                    out.append(" got ", style="red")
                    out.append_text(cell(row["predicted"], 30, "red"))
                    out.append("\n")
        self.post_message(self.Detail(out))

    @on(Detail)
    def _show_detail(self, event: Detail) -> None:
        self.query_one("#history-detail", Static).update(event.text)

    def action_case_log(self) -> None:
        self._pick_case()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history-pick")
    def _pick_case(self) -> None:
        with self.app.library() as repo:  # type: ignore[attr-defined]
            cases = repo.load().cases

        def answered(case_id: str | None) -> None:
            if case_id:
                open_case_history(self, case_id)

        self.app.call_from_thread(self.app.push_screen, CasePicker("Which case's history?", cases), answered)

