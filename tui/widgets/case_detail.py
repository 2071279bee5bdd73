"""One case, every field, as literal text."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from repo_store.cases import Case
from tui.text import labelled


def case_text(case: Case, held_by: str | None = None) -> Text:
    data = case.data
    pairs = [("id", case.id), ("split", case.split + (f" (in open batch {held_by})" if held_by else "")),
             ("input", case.input), ("expected", case.expected), ("match", case.match),
             ("tags", ", ".join(case.tags) or "-")]
    pairs += [(k, data[k]) for k in ("source", "notes", "created", "author") if data.get(k)]
    if data.get("meta"):
        pairs.append(("meta", data["meta"]))
    return labelled(pairs)


class CaseDetail(Static):
    shown: tuple[Case | None, str | None] | None = None

    def show(self, case: Case | None, held_by: str | None = None) -> None:
        if self.shown is not None and self.shown[0] is case and self.shown[1] == held_by:
            return  # typing often keeps the same first row: no re-render, no layout pass
        self.shown = (case, held_by)
        self.update(case_text(case, held_by) if case else Text("no case selected", style="dim"))
