"""Batches: pick pending cases (space toggles, `o` takes the oldest up to max_size), see the size
bounds from straw.toml, approve them as a new batch branch."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static
from textual.worker import Worker, WorkerState

from repo_store import batches
from repo_store.batches import Batch
from repo_store.cases import Case
from tui.screens.fresh import FreshScreen
from tui.widgets.columns import Column, FittedTable
from tui.widgets.footer import StrawFooter
from tui.widgets.title import ScreenTitle

# the input gives way last: tags, then the time of creation go first at 80 columns
COLUMNS = (Column("sel", "✓", 2), Column("id", "id", 20), Column("created", "created", 16, optional=True),
           Column("expected", "expected", 18, least=12), Column("tags", "tags", 14, least=8, optional=True),
           Column("input", "input", 24, least=12))
GIVE_WAY = ("tags", "created", "expected")


class BatchesScreen(FreshScreen):
    HELP_TITLE = "Batches"
    HELP = ("Approve 10–20 pending cases (bounds in straw.toml [batch]) as a batch: a branch batch/<id> "
            "where they join the baseline. Main is not touched until the batch is tuned and merged.")
    BINDINGS = [
        Binding("space", "toggle_case", "Toggle", tooltip="Select or unselect the case under the cursor",
                id="toggle"),
        Binding("o", "oldest", "Oldest N", tooltip="Select the oldest pending cases, up to max_size",
                id="oldest"),
        Binding("n", "none", "Clear", tooltip="Unselect every case", id="select-none"),
        Binding("c", "create", "Create batch", tooltip="Approve the selected cases as a batch branch",
                id="create"),
        Binding("a", "allow_small", "Allow small", tooltip="Tick or untick 'allow fewer than min_size'",
                id="allow-small"),
        Binding("r", "reload", "Reload", tooltip="Read the pending cases again", id="reload"),
    ]

    @dataclass
    class Loaded(Message):
        free: list[Case]
        held: int
        bounds: tuple[int, int]

    @dataclass
    class Created(Message):
        batch: Batch

    def __init__(self) -> None:
        super().__init__()
        self.free: list[Case] = []
        self.selected: set[str] = set()
        self.bounds = (10, 20)
        # the last outcome under the counts, until the selection or the cases change; one the
        # screen's own write caused is shown once the load that write started is in
        self.note: Text | None = None
        self.note_after_load: Text | None = None
        self.shown: tuple[list[str], int] = ([], 0)  # the free cases' ids and the held count shown

    def compose(self) -> ComposeResult:
        yield ScreenTitle("Batches")
        with Horizontal(classes="filters"):
            yield Input(placeholder="batch title (optional)", id="batch-title")
            yield Checkbox("allow fewer than min_size (a)", id="allow-small")
        yield FittedTable(COLUMNS, "input", GIVE_WAY, id="pending-table")
        yield Static("", id="batch-status", classes="note")
        yield StrawFooter()

    def on_mount(self) -> None:
        self.query_one(FittedTable).focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="batches-load")
    def load(self) -> None:
        self.mark_fresh()
        with self.app.library() as repo:  # type: ignore[attr-defined]
            pending = repo.load().split("pending")
            held = batches.open_batches_holding(repo, {c.id for c in pending}) if pending else {}
            bounds = (repo.verdict_config["batch"]["min_size"], repo.verdict_config["batch"]["max_size"])
        free = sorted((c for c in pending if c.id not in held), key=lambda c: (c.created, c.id))
        self.post_message(self.Loaded(free, len(held), bounds))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.free, self.bounds = event.free, event.bounds
        self.selected &= {c.id for c in self.free}
        self.held_count = event.held
        table = self.query_one(FittedTable)
        table.set_rows(((case.id, {"sel": self._mark(case.id), "id": case.id,
                                   "created": case.created[:16].replace("T", " "), "expected": case.expected,
                                   "tags": ", ".join(case.tags), "input": case.text})
                        for case in self.free), table.cursor_row)
        # a load also comes for changes elsewhere (a merge, the watcher seeing this screen's own
        # write): only one that changes what this screen shows makes the note stale
        if ([c.id for c in self.free], event.held) != self.shown:
            self.note, self.shown = None, ([c.id for c in self.free], event.held)
        if self.note_after_load is not None:
            self.note, self.note_after_load = self.note_after_load, None
        self._status()

    def on_screen_suspend(self, _event: events.ScreenSuspend) -> None:
        if not isinstance(self.app.screen, ModalScreen):  # left for another screen, not a dialog
            self.note = None
            self._status()

    @on(Checkbox.Changed, "#allow-small")
    def _allow_small_changed(self) -> None:  # a "tick allow fewer" note no longer applies
        self.note = None
        self._status()

    def _mark(self, case_id: str) -> Text:
        return Text("✓", style="bold green") if case_id in self.selected else Text(" ")

    def _status(self, note: Text | None = None) -> None:
        low, high = self.bounds
        count = len(self.selected)
        ok = low <= count <= high
        line = Text.assemble(
            (f"{count} selected", "bold green" if ok else "bold yellow"),
            f" · a batch holds {low}–{high} cases · {len(self.free)} pending free",
            f" · {getattr(self, 'held_count', 0)} already in open batches",
        )
        if note is not None:
            self.note = note
        if self.note is not None:
            line.append("\n")
            line.append_text(self.note)
        self.query_one("#batch-status", Static).update(line)

    def action_toggle_case(self) -> None:  # not action_toggle: App/Widget define it (attribute)
        table = self.query_one(FittedTable)
        if not table.row_count:
            return
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        case_id = str(key.value)
        self.selected.symmetric_difference_update({case_id})
        table.set_value(case_id, "sel", self._mark(case_id))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self.note = None  # it was about the selection before
        self._status()

    def _set_selection(self, ids: set[str]) -> None:
        self.selected = ids
        table = self.query_one(FittedTable)
        for case in self.free:
            table.set_value(case.id, "sel", self._mark(case.id))
        self.note = None
        self._status()

    def action_oldest(self) -> None:
        self._set_selection({c.id for c in self.free[: self.bounds[1]]})

    def action_none(self) -> None:
        self._set_selection(set())

    def action_reload(self) -> None:
        self.note = None
        self._status()
        self.load()

    def action_allow_small(self) -> None:
        self.query_one("#allow-small", Checkbox).toggle()

    def action_create(self) -> None:
        if not self.selected:
            self._status(Text("select cases first (space, or o for the oldest)", style="yellow"))
            return
        order = [c.id for c in self.free if c.id in self.selected]
        title = self.query_one("#batch-title", Input).value.strip()
        allow_small = self.query_one("#allow-small", Checkbox).value
        low = self.bounds[0]
        if len(order) < low and not allow_small:
            # the library's refusal names the CLI flag; here the remedy is the checkbox on screen
            self._status(Text(f"a batch needs at least {low} cases ([batch] min_size), {len(order)} "
                              "selected: select more (o takes the oldest), or tick "
                              "'allow fewer than min_size' above the table (a)", style="bold yellow"))
            return
        self._create(order, title, allow_small)

    @work(thread=True, exclusive=True, exit_on_error=False, group="batches-create")
    def _create(self, case_ids: list[str], title: str, allow_small: bool) -> None:
        with self.app.library() as repo:  # type: ignore[attr-defined]
            batch = batches.create_batch(repo, case_ids=case_ids, title=title, allow_small=allow_small)
        self.post_message(self.Created(batch))

    @on(Created)
    def _created(self, event: Created) -> None:
        self.selected = set()
        self.query_one("#batch-title", Input).value = ""
        self.notify(f"created {event.batch.branch} with {len(event.batch.cases)} cases")
        self.note_after_load = Text(f"created {event.batch.branch}: review it under Pull requests (3)",
                                    style="green")
        self.app.repo_changed()  # type: ignore[attr-defined]  # reloads this screen too

    @on(Worker.StateChanged)
    def _failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "batches-create":
            self._status(Text(str(event.worker.error), style="bold red"))
