"""Table columns sized to the table's width: a column
cut at the table's edge ("baselin", a tags column of one "t") reads as broken, a narrower or
missing one does not. Each column has the width it wants and the least it can do with; one
column takes what the others leave. `FittedTable` keeps its rows' values, so it can cut them
again to new widths when it is resized."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tui.text import cell

PAD = 2  # a DataTable pads each cell with one space on either side


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # wanted; for the column that grows, the least it keeps while others give way
    least: int | None = None  # narrowest it may get (None: its width)
    optional: bool = False  # left out when the table is still too narrow at its least

    @property
    def floor(self) -> int:
        return self.width if self.least is None else self.least


def fit(columns: Sequence[Column], room: int, grow: str, give_way: Sequence[str] = ()) -> dict[str, int]:
    """Width per column shown, in table order, for `room` cells. While too wide, the columns in
    `give_way` (first to last) shrink to their least, optional ones then go; the `grow` column
    takes what is left over (unless it went too), or shrinks to its least when that is still
    not enough."""
    spec = {c.key: c for c in columns}
    widths = {c.key: c.width for c in columns}
    over = sum(w + PAD for w in widths.values()) - room
    for key in give_way:
        if over <= 0:
            break
        give = min(over, widths[key] - spec[key].floor)
        widths[key] -= give
        over -= give
        if over > 0 and spec[key].optional:
            over -= widths.pop(key) + PAD
    if grow in widths:  # it may have given way too
        widths[grow] = max(spec[grow].floor, widths[grow] - over)
    return widths


def row_cells(widths: Mapping[str, int], values: Mapping[str, Any]) -> list[Text]:
    """One row's cells for the columns shown: a Text as it is, a (value, style) pair or a value
    cut to its column (tui.text.cell: never markup, right-to-left in display order)."""
    cells = []
    for key, width in widths.items():
        value = values[key]
        if isinstance(value, Text):
            cells.append(value)
        elif isinstance(value, tuple):
            cells.append(cell(value[0], width, value[1]))
        else:
            cells.append(cell(value, width))
    return cells


def room(table: DataTable) -> int:
    """The table's visible width: a vertical scrollbar may come with the rows."""
    return table.size.width - table.styles.scrollbar_size_vertical


class FittedTable(DataTable):
    """A DataTable whose columns `fit` its width; rows are given as values per column key."""

    def __init__(self, columns: Sequence[Column], grow: str, give_way: Sequence[str] = (),
                 **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.specs, self.grow, self.give_way = tuple(columns), grow, tuple(give_way)
        self.widths: dict[str, int] = {}
        self.values: dict[str, dict[str, Any]] = {}  # row key → its values, in row order

    def on_resize(self) -> None:
        widths = fit(self.specs, room(self), self.grow, self.give_way)
        if widths != self.widths:
            self.widths = widths
            row = self.cursor_row
            self.clear(columns=True)
            for spec in self.specs:
                if spec.key in widths:
                    self.add_column(spec.label, key=spec.key, width=widths[spec.key])
            self._add(self.values.items(), row)

    def set_rows(self, rows: Iterable[tuple[str, dict[str, Any]]], cursor_row: int = 0) -> None:
        """Show these rows (key, values); the cursor on `cursor_row`, or the last row."""
        self.values = dict(rows)
        self.clear()
        self._add(self.values.items(), cursor_row)

    def _add(self, rows: Iterable[tuple[str, dict[str, Any]]], cursor_row: int) -> None:
        if not self.widths:  # not sized yet: on_resize adds them
            return
        for key, values in rows:
            self.add_row(*row_cells(self.widths, values), key=key)
        if self.row_count:
            self.move_cursor(row=min(cursor_row, self.row_count - 1))

    def set_value(self, row: str, column: str, value: Any) -> None:
        """Change one cell (kept for the next refit too); a column left out just keeps it."""
        self.values[row][column] = value
        if column in self.widths:
            self.update_cell(row, column, row_cells({column: self.widths[column]}, {column: value})[0])
