"""A batch's diff vs main, case by case: added cases (with edits made since pending), baseline
cases changed field by field, removed cases. All literal text."""

from __future__ import annotations

from rich.text import Text

from repo_store.batches import CaseChange
from tui.text import cell

MARK = {"added": ("+", "green"), "changed": ("~", "yellow"), "removed": ("-", "red")}


def diff_text(changes: list[CaseChange]) -> Text:
    if not changes:
        return Text("no case changes vs main", style="dim")
    counts = {k: sum(1 for c in changes if c.kind == k) for k in MARK}
    out = Text(" · ".join(f"{n} {k}" for k, n in counts.items() if n) + "\n\n", style="bold")
    for change in changes:
        mark, style = MARK.get(change.kind, ("?", ""))
        out.append(f"{mark} {change.kind} {change.case_id}\n", style=f"bold {style}")
        data = change.case or {}
        if change.error:
            out.append(f"    unreadable case file: {change.error}\n", style="red")
        if change.kind in ("added", "removed"):
            for name in ("input", "expected", "match"):
                if name in data:
                    out.append(f"    {name}: ", style="dim")
                    out.append_text(cell(data[name], 200))
                    out.append("\n")
            if data.get("tags"):
                out.append("    tags: ", style="dim")
                out.append(", ".join(data["tags"]) + "\n")
        for name, before, after in change.fields:
            label = "since pending" if change.kind == "added" else "changed"
            out.append(f"    {name} ({label}): ", style="yellow")
            out.append_text(cell(before if before is not None else "∅", 90, "red"))
            out.append(" → ")
            out.append_text(cell(after if after is not None else "∅", 90, "green"))
            out.append("\n")
        out.append("\n")
    return out
