"""The Cases screen's data: every case with its search text casefolded once, so that filtering
10,000 cases per keystroke is a list comprehension of substring tests. Typing usually extends
the last query, so a query that narrows the previous one only searches the previous matches."""

from __future__ import annotations

from dataclasses import dataclass, field

from repo_store.cases import Case
from tui.text import as_string


@dataclass
class CaseIndex:
    cases: list[Case] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # case id -> open batch holding it
    _hay: list[str] = field(default_factory=list, repr=False)
    _by_id: dict[str, Case] = field(default_factory=dict, repr=False)
    _last: tuple[str, str | None, list[str], list[int]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # pending first (the work queue), oldest first inside each split
        self.cases.sort(key=lambda c: (c.split != "pending", c.created, c.id))
        self._hay = [
            "\n".join((c.id, c.text, as_string(c.expected), " ".join(c.tags),
                       str(c.data.get("source", "")), str(c.data.get("notes", "")))).casefold()
            for c in self.cases
        ]
        self._by_id = {c.id: c for c in self.cases}
        self._counts = {"all": len(self.cases)}
        for case in self.cases:
            self._counts[case.split] = self._counts.get(case.split, 0) + 1

    def labels(self) -> list[str]:
        """The expected values of label cases: what the add/edit form offers."""
        return sorted({c.expected for c in self.cases if c.match == "label" and isinstance(c.expected, str)})

    def tags(self) -> list[str]:
        return sorted({t for c in self.cases for t in c.tags})

    def count(self, split: str) -> int:
        return self._counts.get(split, 0)

    def filter(self, split: str = "all", needle: str = "", tag: str | None = None) -> list[Case]:
        words = needle.casefold().split()
        candidates: range | list[int] = range(len(self.cases))
        if self._last is not None:
            last_split, last_tag, last_words, last_found = self._last
            # every match of the new query matched the last one when each old word is contained
            # in a new word (a word typed further, or a word added)
            if (last_split, last_tag) == (split, tag) and all(
                    any(old in new for new in words) for old in last_words):
                candidates = last_found
        hay, cases = self._hay, self.cases
        found = list(candidates)
        if split != "all":
            found = [i for i in found if cases[i].split == split]
        if tag is not None:
            found = [i for i in found if tag in cases[i].tags]
        for word in words:  # one pass per word: no generator per case
            found = [i for i in found if word in hay[i]]
        self._last = (split, tag, words, found)
        return [cases[i] for i in found]

    def get(self, case_id: str) -> Case | None:
        return self._by_id.get(case_id)
