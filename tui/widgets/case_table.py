"""A DataTable that pages its rows in: the screen filters in Python and hands over every match,
the table adds the first `page` of them and the next page whenever the cursor or the scroll
position comes near the end. 10,000 matches never become 10,000 table rows at once (the stock
DataTable measures every row it is given: about 2 s for 10,000 here), and a keystroke costs one
page. Every cell is a `Text`, never markup; the columns fit the table's width (columns.fit)."""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from repo_store.cases import Case
from tui.widgets.columns import Column, fit, room, row_cells

# the input comes right after the expectation: it is what a curator reads first, so the others
# give way to it (match, then tags, then expected) before it drops below 24 cells; the detail
# pane shows a case's tags and match when the table has no room for them
COLUMNS = (Column("id", "id", 20), Column("split", "split", 8), Column("expected", "expected", 16, least=10),
           Column("input", "input", 24, least=12), Column("tags", "tags", 16, least=10, optional=True),
           Column("match", "match", 8, least=6, optional=True))
GIVE_WAY = ("match", "tags", "expected")


class CaseTable(DataTable):
    def __init__(self, page: int = 60, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.page = page
        self.held: dict[str, str] = {}
        self.matches: list[Case] = []
        self.widths: dict[str, int] = {}

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        self.widths = fit(COLUMNS, room(self), "input", GIVE_WAY)
        self.clear(columns=True)
        for column in COLUMNS:
            if column.key in self.widths:
                self.add_column(column.label, key=column.key, width=self.widths[column.key])

    def row_cells(self, case: Case) -> list[Text]:
        split_style = {"baseline": "green", "watch": "cyan"}.get(case.split, "yellow")
        split = "batch" if case.id in self.held else case.split
        return row_cells(self.widths, {"id": case.id, "split": (split, split_style),
                                       "expected": case.expected, "input": case.text,
                                       "tags": ", ".join(case.tags), "match": case.match})

    def on_resize(self) -> None:
        if fit(COLUMNS, room(self), "input", GIVE_WAY) == self.widths:
            return
        current, matches = self.current_id(), self.matches
        self.matches = []  # the rows are cut to the old widths: build them again
        self._columns()
        self.matches = matches
        self.show_more(self.page)
        if current:
            self.select_id(current)

    def show(self, matches: list[Case]) -> None:
        """Show these cases, the first page of them now. The same cases (a typed space, a letter
        that narrows nothing) keep the rows, the cursor and the scroll position as they are."""
        shown = self.matches
        if len(matches) == len(shown) and all(a is b for a, b in zip(matches, shown, strict=True)):
            return
        self.matches = []  # clear() resets the scroll position, which must not page old rows in
        self.clear()
        self.matches = matches
        self.show_more(self.page)

    def show_more(self, count: int) -> None:
        start = self.row_count
        for case in self.matches[start:start + count]:
            self.add_row(*self.row_cells(case), key=case.id)

    def _near_end(self) -> None:
        if self.row_count < len(self.matches):
            self.show_more(self.page)

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if old != new and new.row >= self.row_count - 10:  # add_row re-sets the same coordinate
            self._near_end()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new >= self.max_scroll_y - 5:
            self._near_end()

    def action_scroll_bottom(self) -> None:
        """ctrl+end means the last match, not the last page loaded (all rows: rare, and it is asked for)."""
        self.show_more(len(self.matches))
        super().action_scroll_bottom()

    def current_id(self) -> str | None:
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value

    def select_id(self, case_id: str) -> bool:
        index = next((n for n, case in enumerate(self.matches) if case.id == case_id), None)
        if index is None:  # filtered out
            return False
        if index >= self.row_count:
            self.show_more(index + 1 - self.row_count + self.page)
        self.move_cursor(row=index)
        return True
