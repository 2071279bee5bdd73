"""The Cases screen's data: every case with its search text casefolded once, so that filtering
10,000 cases per keystroke is a list comprehension of substring tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from repo_store.cases import Case
from tui.text import as_string


@dataclass
class CaseIndex:
    cases: list[Case] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # case id -> open batch holding it
    _hay: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        # pending first (the work queue), oldest first inside each split
        self.cases.sort(key=lambda c: (c.split != "pending", c.created, c.id))
        self._hay = [
            "\n".join((c.id, c.text, as_string(c.expected), " ".join(c.tags),
                       str(c.data.get("source", "")), str(c.data.get("notes", "")))).casefold()
            for c in self.cases
        ]

    def tags(self) -> list[str]:
        return sorted({t for c in self.cases for t in c.tags})

    def count(self, split: str) -> int:
        return sum(1 for c in self.cases if split == "all" or c.split == split)

    def filter(self, split: str = "all", needle: str = "", tag: str | None = None) -> list[Case]:
        words = needle.casefold().split()
        hay = self._hay
        return [c for i, c in enumerate(self.cases)
                if (split == "all" or c.split == split)
                and (tag is None or tag in c.tags)
                and all(w in hay[i] for w in words)]

    def get(self, case_id: str) -> Case | None:
        return next((c for c in self.cases if c.id == case_id), None)
