"""Cases: pending / baseline / watch / all as tabs, search as you type, a tag filter, the case in
full beside the table; add, edit and delete pending and watch cases (delete asks first and can be
undone)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Select, Static, Tab, Tabs

from repo_store import batches, curation
from repo_store.cases import CURATED, Case
from tui.dialogs.case_form import CaseForm
from tui.dialogs.case_history import open_case_history
from tui.dialogs.confirm import Confirm
from tui.index import CaseIndex
from tui.screens.fresh import FreshScreen
from tui.text import cell
from tui.widgets.case_detail import CaseDetail
from tui.widgets.case_table import CaseTable
from tui.widgets.footer import StrawFooter
from tui.widgets.title import ScreenTitle

SPLITS = ("pending", "baseline", "watch", "all")


class CasesScreen(FreshScreen):
    HELP_TITLE = "Cases"
    HELP = ("New cases land in pending (in watch when the Watch tab is open: held-out cases every "
            "run checks and none trains on); baseline cases change only through a batch. "
            "`/` searches as you type (every word must appear in the id, input, expected, tags, "
            "source or notes).")
    SETTLE_AFTER_S = 0.15
    PAGE = 60  # table rows added at a time; more come as the cursor or scroll nears the end
    BINDINGS = [
        Binding("a", "add", "Add", tooltip="Add a pending case (a watch case on the Watch tab)", id="add"),
        Binding("e", "edit", "Edit", tooltip="Edit the selected pending or watch case", id="edit"),
        Binding("d", "delete", "Delete", tooltip="Remove the selected pending or watch case (asks)",
                id="delete"),
        Binding("u", "undo", "Undo", tooltip="Bring back the last case you deleted", id="undo"),
        Binding("slash", "search", "Search", key_display="/", tooltip="Search as you type", id="search"),
        Binding("t", "tag", "Tag", tooltip="Filter by one tag", id="tag"),
        Binding("s", "next_split", "Split", tooltip="Pending → baseline → watch → all",
                id="split"),
        Binding("l", "case_log", "Case log", tooltip="The selected case's history on main", id="case-log"),
        Binding("r", "reload", "Reload", tooltip="Read the cases again from the work tree", id="reload"),
        Binding("escape", "clear", "Clear", show=False, tooltip="Clear the search and tag filter"),
    ]

    @dataclass
    class Loaded(Message):
        index: CaseIndex
        issues: list[str]
        select: str | None = None

    @dataclass
    class Removed(Message):
        case: Case

    @dataclass
    class Restored(Message):
        case: Case

    def __init__(self) -> None:
        super().__init__()
        self.index = CaseIndex()
        self.split = "pending"
        self.tag: str | None = None
        self.undo_stack: list[Case] = []
        self.loaded = False
        self.last_filter_ms = 0.0

    def compose(self) -> ComposeResult:
        yield ScreenTitle("Cases")
        yield Tabs(Tab("Pending", id="pending"), Tab("Baseline", id="baseline"),
                   Tab("Watch", id="watch"), Tab("All", id="all"), id="split-tabs")
        with Horizontal(classes="filters"):
            yield Input(placeholder="search (/): words in id, input, expected, tags…", id="search")
            yield Select([], prompt="any tag", id="tag-filter", allow_blank=True)
        with Horizontal(classes="main"):
            with Vertical(classes="table-pane"):
                yield CaseTable(page=self.PAGE, id="cases-table")
                yield Static("loading cases…", id="cases-note", classes="note")
            yield CaseDetail(id="case-detail", classes="detail")
        yield StrawFooter()

    def on_mount(self) -> None:
        self.query_one(CaseTable).focus()
        self.load()

    # ---- loading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="cases-load")
    def load(self, select: str | None = None) -> None:
        self.mark_fresh()
        with self.app.library() as repo:  # type: ignore[attr-defined]
            loaded = repo.load()
            pending = {c.id for c in loaded.cases if c.split == "pending"}
            held = batches.open_batches_holding(repo, pending) if pending else {}
        index = CaseIndex(loaded.cases, held)
        self.post_message(self.Loaded(index, [str(i) for i in loaded.issues], select))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.index = event.index
        self.loaded = True
        table = self.query_one(CaseTable)
        table.held = event.index.held
        tags = event.index.tags()
        select = self.query_one("#tag-filter", Select)
        with select.prevent(Select.Changed):
            select.set_options([(t, t) for t in tags])
            if self.tag in tags:
                select.value = self.tag
            else:
                self.tag = None
        tabs = self.query_one(Tabs)
        for split in SPLITS:
            tabs.query_one(f"#{split}", Tab).label = f"{split.capitalize()} ({event.index.count(split)})"
        self.refilter()
        if event.select:
            self.query_one(CaseTable).select_id(event.select)
        for issue in event.issues[:3]:
            self.notify(issue, title="skipped a case file", severity="warning", timeout=8)
        # after the rows are on screen, before a person reacts to them
        self.set_timer(self.SETTLE_AFTER_S, self.app.settle_heap)  # type: ignore[attr-defined]

    # ---- filtering ----------------------------------------------------------------------------

    def refilter(self) -> None:
        started = time.perf_counter()
        needle = self.query_one("#search", Input).value
        found = self.index.filter(self.split, needle, self.tag)
        table = self.query_one(CaseTable)
        table.show(found)
        total = self.index.count(self.split)
        note = f"{len(found):,} matching" + (f" · {total:,} {self.split}" if self.split != "all"
                                              else f" · {total:,} cases")
        self.query_one("#cases-note", Static).update(Text(note), layout=False)  # one line, always
        self._show_current()
        self.last_filter_ms = (time.perf_counter() - started) * 1000

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        if self.loaded:
            self.refilter()

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one(CaseTable).focus()

    @on(Select.Changed, "#tag-filter")
    def _tag_changed(self, event: Select.Changed) -> None:
        self.tag = event.value if isinstance(event.value, str) else None  # Select.NULL: any tag
        if self.loaded:
            self.refilter()

    @on(Tabs.TabActivated, "#split-tabs")
    def _split_changed(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id != self.split:
            self.split = event.tab.id
            if self.loaded:
                self.refilter()

    @on(DataTable.RowHighlighted, "#cases-table")
    def _highlighted(self) -> None:
        self._show_current()

    def _show_current(self) -> None:
        case = self.current_case()
        self.query_one(CaseDetail).show(case, self.index.held.get(case.id) if case else None)

    def current_case(self) -> Case | None:
        case_id = self.query_one(CaseTable).current_id()
        return self.index.get(case_id) if case_id else None

    # ---- actions ------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_tag(self) -> None:
        self.query_one("#tag-filter", Select).focus()

    def action_next_split(self) -> None:
        following = SPLITS[(SPLITS.index(self.split) + 1) % len(SPLITS)]
        self.query_one(Tabs).active = following

    def action_clear(self) -> None:
        self.query_one("#search", Input).value = ""
        self.query_one("#tag-filter", Select).clear()
        self.query_one(CaseTable).focus()

    def action_reload(self) -> None:
        self.load(self.query_one(CaseTable).current_id())

    def reload_view(self) -> None:  # the repository changed: keep the selected case selected
        self.action_reload()

    def _curated_selected(self, verb: str) -> Case | None:
        case = self.current_case()
        if case is None:
            self.notify(f"no case selected to {verb}", severity="warning")
            return None
        if case.split not in CURATED:
            self.notify(f"{case.id} is a baseline case: baseline cases change only through a batch",
                        severity="warning")
            return None
        return case

    def action_add(self) -> None:
        split = "watch" if self.split == "watch" else "pending"

        def save(fields: dict[str, Any]) -> Case:
            with self.app.library() as repo:  # type: ignore[attr-defined]
                return curation.add_case(repo, split=split, **fields)

        self.app.push_screen(CaseForm(save, labels=self.index.labels(), split=split),
                             self._after_form)

    def action_edit(self) -> None:
        case = self._curated_selected("edit")
        if case is None:
            return

        def save(fields: dict[str, Any]) -> Case:
            with self.app.library() as repo:  # type: ignore[attr-defined]
                return curation.edit_case(repo, case.id, fields)

        self.app.push_screen(CaseForm(save, case, self.index.labels(), split=case.split),
                             self._after_form)

    def _after_form(self, case: Case | None) -> None:
        if case is not None:
            self.notify(f"saved {case.path}")
            if self.split not in (case.split, "all"):
                self.query_one(Tabs).active = case.split
            self.app.repo_changed(loading=self)  # type: ignore[attr-defined]
            self.load(case.id)

    def action_delete(self) -> None:
        case = self._curated_selected("delete")
        if case is None:
            return
        question = Text.assemble(f"Delete {case.split} case ", (case.id, "bold"), "?\n",
                                 cell(case.text, 70), "\n(u undoes it)")

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(case.id)

        self.app.push_screen(Confirm(question, "Delete", "Keep"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="cases-write")
    def _remove(self, case_id: str) -> None:
        with self.app.library() as repo:  # type: ignore[attr-defined]
            case = curation.remove_case(repo, case_id)
        self.post_message(self.Removed(case))

    @on(Removed)
    def _removed(self, event: Removed) -> None:
        self.undo_stack.append(event.case)
        self.notify(f"deleted {event.case.id} — press u to undo")
        self.app.repo_changed(loading=self)  # type: ignore[attr-defined]
        self.load()

    def action_undo(self) -> None:
        if not self.undo_stack:
            self.notify("nothing to undo", severity="warning")
            return
        self._restore(self.undo_stack.pop())

    @work(thread=True, exclusive=True, exit_on_error=False, group="cases-write")
    def _restore(self, case: Case) -> None:
        try:
            with self.app.library() as repo:  # type: ignore[attr-defined]
                restored = curation.restore_case(repo, case)
        except Exception:
            self.undo_stack.append(case)  # keep it undoable after a failure
            raise
        self.post_message(self.Restored(restored))

    @on(Restored)
    def _restored(self, event: Restored) -> None:
        self.notify(f"restored {event.case.id}")
        self.app.repo_changed(loading=self)  # type: ignore[attr-defined]
        self.load(event.case.id)

    def action_case_log(self) -> None:
        case = self.current_case()
        if case:
            open_case_history(self, case.id)
