"""A DataTable that pages its rows in: the screen filters in Python and hands over every match,
the table adds the first `page` of them and the next page whenever the cursor or the scroll
position comes near the end. 10,000 matches never become 10,000 table rows at once (the stock
DataTable measures every row it is given: about 2 s for 10,000 here), and a keystroke costs one
page. Every cell is a `Text`, never markup."""

from __future__ import annotations

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from repo_store.cases import Case
from tui.text import cell

# the input comes right after the expectation: it is what a curator reads first
COLUMNS = (("id", "id", 20), ("split", "split", 8), ("expected", "expected", 16),
           ("input", "input", 60), ("tags", "tags", 16), ("match", "match", 8))
MIN_INPUT = 12  # below this the column may run past the edge (scroll right to read)


def room_for(table: DataTable, key: str, minimum: int) -> int:
    """The width column `key` gets when it takes what the columns before it leave of the
    table's visible width. A right-to-left input is cut on its left, so its first word (on the
    right) must be on screen, not beyond the table's right edge."""
    used = 0
    for column_key, column in table.columns.items():
        if column_key.value == key:
            break
        used += column.get_render_width(table)
    padding = 2 * table.cell_padding
    visible = table.size.width - table.styles.scrollbar_size_vertical  # a scrollbar may come with rows
    return max(minimum, visible - used - padding)


def set_column_width(table: DataTable, key: str, width: int) -> None:
    for column_key, column in table.columns.items():
        if column_key.value == key:
            column.width = width
    table._require_update_dimensions = True  # Textual re-measures only when told
    table.refresh()


class CaseTable(DataTable):
    def __init__(self, page: int = 60, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.page = page
        self.held: dict[str, str] = {}
        self.matches: list[Case] = []
        self.input_width = 60

    def on_mount(self) -> None:
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def row_cells(self, case: Case) -> tuple[Text, ...]:
        split_style = {"baseline": "green", "watch": "cyan"}.get(case.split, "yellow")
        split = "batch" if case.id in self.held else case.split
        return (cell(case.id, 20), cell(split, 8, split_style), cell(case.expected, 16),
                cell(case.text, self.input_width), cell(", ".join(case.tags), 16), cell(case.match, 8))

    def on_resize(self) -> None:
        width = room_for(self, "input", MIN_INPUT)
        if width == self.input_width:
            return
        self.input_width = width
        set_column_width(self, "input", width)
        current, matches = self.current_id(), self.matches
        self.matches = []  # the rows are cut to the old width: build them again
        self.clear()
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
