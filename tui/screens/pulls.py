"""Pull requests: every batch like a forge's PR list (open, tuned-failing, stale, passing,
merged, rejected). Enter opens one."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from repo_store import batch_status
from repo_store.batch_status import BatchInfo
from tui.screens.fresh import FreshScreen
from tui.widgets.columns import Column, fit, row_cells
from tui.widgets.footer import StrawFooter
from tui.widgets.title import ScreenTitle

STATUS_STYLE = {"open": ("○", "yellow"), "tuned-failing": ("✗", "red"), "stale": ("↻", "magenta"),
                "passing": ("✓", "green"), "merged": ("●", "blue"), "rejected": ("⊘", "dim")}


# the gate line (why a pull request can or cannot merge) takes what is left; title, approver,
# status and created give way first, so it is never cut to "ga" (tui.widgets.columns.fit)
COLUMNS = (Column("status", "status", 16, least=10), Column("batch", "batch", 16),  # ids: 15
           Column("title", "title", 34, least=10), Column("cases", "cases", 5),
           Column("approver", "approver", 22, least=10, optional=True),
           Column("created", "created", 10, optional=True), Column("gate", "gate", 40, least=24))
GIVE_WAY = ("title", "created", "approver", "status")


def column_widths(width: int) -> dict[str, int]:
    """Widths, for the shown columns in order, that fit a `width`-cell screen (the table's
    scrollbar takes 2)."""
    return fit(COLUMNS, width - 2, "gate", GIVE_WAY)


def status_cell(status: str) -> Text:
    mark, style = STATUS_STYLE.get(status, ("?", ""))
    return Text(f"{mark} {status}", style=style)


class PullsScreen(FreshScreen):
    HELP_TITLE = "Pull requests"
    HELP = "Each batch branch as a pull request. Enter opens one: diff, report, chart, tune, merge."
    BINDINGS = [
        Binding("enter", "open", "Open", tooltip="Open the selected pull request", id="open",
                priority=True),  # before the table's own Enter, so the footer shows it
        Binding("r", "reload", "Reload", tooltip="Read the batch branches again", id="reload"),
        Binding("f", "filter_open", "Open only", tooltip="Show only open batches / show all", id="only-open"),
    ]

    @dataclass
    class Loaded(Message):
        infos: list[BatchInfo]

    def __init__(self) -> None:
        super().__init__()
        self.infos: list[BatchInfo] = []
        self.only_open = False
        self.loading = False
        self.open_when_loaded = False  # Enter pressed while the list was being read again
        self.then: str | None = None  # an action to run on the pull request once it is open
        self.widths: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield ScreenTitle("Pull requests")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="pulls-table")
        yield Static("loading…", id="pulls-note", classes="note")
        yield StrawFooter()

    def on_mount(self) -> None:
        self._columns(self.app.size.width)
        self.query_one(DataTable).focus()
        self.load()

    def on_resize(self, event: events.Resize) -> None:
        if column_widths(event.size.width) != self.widths:
            current = self._cursor_key()  # clearing the columns clears the rows
            self._columns(event.size.width)
            self._fill(current)

    def _columns(self, width: int) -> None:
        table = self.query_one(DataTable)
        self.widths = column_widths(width)
        table.clear(columns=True)
        for key, column_width in self.widths.items():
            table.add_column(key, key=key, width=column_width)

    def load(self) -> None:
        self.mark_fresh()
        self.loading = True  # set here, not in the thread: an Enter right after must see it
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False, group="pulls-load")
    def _read(self) -> None:
        with self.app.library() as repo:  # type: ignore[attr-defined]
            infos = batch_status.list_batches(repo)
        self.post_message(self.Loaded(infos))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        known = {i.batch.id for i in self.infos}
        self.infos = event.infos
        self.loading = False
        # a batch that appeared since the last look is what the user came for: the cursor goes
        # there, not to the row it was on (which a new row above would otherwise push down)
        arrived = [i.batch.id for i in event.infos if known and i.batch.id not in known]
        self._fill(arrived[0] if arrived else None)
        if self.open_when_loaded:
            self.open_when_loaded = False
            self.action_open()

    def _fill(self, select: str | None = None) -> None:
        table = self.query_one(DataTable)
        current = select or self._cursor_key()
        table.clear()
        w = self.widths
        shown = [i for i in self.infos if not self.only_open or i.status not in ("merged", "rejected")]
        for info in shown:
            b = info.batch
            table.add_row(*row_cells(w, {"status": status_cell(info.status), "batch": b.id,
                                         "title": b.title, "cases": Text(str(len(b.cases))),
                                         "approver": b.approver, "created": b.created[:10],
                                         "gate": info.reason}), key=b.id)
        if current:
            try:
                table.move_cursor(row=table.get_row_index(current))
            except Exception:  # noqa: BLE001 - the row is gone
                pass
        counts: dict[str, int] = {}
        for info in self.infos:
            counts[info.status] = counts.get(info.status, 0) + 1
        summary = (" · ".join(f"{n} {s}" for s, n in counts.items())
                   or "no batches yet: create one under Batches (2)")
        if self.only_open:  # else an empty list above "1 merged" reads as a bug
            summary = f"open only, {len(shown)} of {len(self.infos)} shown (f: show all) · {summary}"
        self.query_one("#pulls-note", Static).update(Text(summary))

    def _cursor_key(self) -> str | None:
        table = self.query_one(DataTable)
        return table.coordinate_to_cell_key(table.cursor_coordinate)[0].value if table.row_count else None

    def action_reload(self) -> None:
        self.load()

    def action_filter_open(self) -> None:
        self.only_open = not self.only_open
        self._fill()

    @on(DataTable.RowSelected, "#pulls-table")
    def _selected(self) -> None:
        self.action_open()

    def open_selected(self, then: str | None = None) -> None:
        """Open the pull request under the cursor and run `then` there once it has loaded."""
        self.then = then
        self.action_open()

    def action_open(self) -> None:
        if self.loading:  # the rows on screen may be the old ones: open what the new list shows
            self.open_when_loaded = True
            return
        table = self.query_one(DataTable)
        then, self.then = self.then, None
        if not table.row_count:
            if then:
                self.notify("no pull requests yet: create a batch under Batches (2)", severity="warning")
            return
        batch_id = str(table.coordinate_to_cell_key(table.cursor_coordinate)[0].value)
        from tui.screens.pull import PullScreen

        self.app.push_screen(PullScreen(batch_id, then=then))
