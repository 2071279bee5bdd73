"""A DataTable that holds at most `limit` rows: the screen filters in Python and hands over the
first matches, so 10,000 cases never become 10,000 table rows (the stock DataTable needs about
2 s for that here). Every cell is a `Text`, never markup."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from repo_store.cases import Case
from tui.text import cell

# the input comes right after the expectation: it is what a curator reads first
COLUMNS = (("id", "id", 20), ("split", "split", 8), ("expected", "expected", 16),
           ("input", "input", 60), ("tags", "tags", 16), ("match", "match", 8))


class CaseTable(DataTable):
    def __init__(self, limit: int = 300, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.limit = limit
        self.held: dict[str, str] = {}

    def on_mount(self) -> None:
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def row_cells(self, case: Case) -> tuple[Text, ...]:
        split_style = "green" if case.split == "baseline" else "yellow"
        split = "batch" if case.id in self.held else case.split
        return (cell(case.id, 20), cell(split, 8, split_style), cell(case.expected, 16),
                cell(case.text, 60), cell(", ".join(case.tags), 16), cell(case.match, 8))

    def show(self, found: Iterable[Case]) -> None:
        self.clear()
        rows = []
        keys = []
        for n, case in enumerate(found):
            if n >= self.limit:
                break
            rows.append(self.row_cells(case))
            keys.append(case.id)
        for key, row in zip(keys, rows, strict=True):
            self.add_row(*row, key=key)

    def current_id(self) -> str | None:
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value

    def select_id(self, case_id: str) -> bool:
        try:
            index = self.get_row_index(case_id)
        except Exception:  # noqa: BLE001 - RowDoesNotExist: the case is filtered out
            return False
        self.move_cursor(row=index)
        return True
