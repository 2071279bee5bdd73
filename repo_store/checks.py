"""Checks across cases, run before any training: duplicate ids, duplicate inputs, and
contradictions (the same input expected to give different outputs can never pass both)."""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict

from repo_store.cases import Case
from repo_store.errors import Issue


def normalise(case: Case) -> str:
    text = case.input if isinstance(case.input, str) else json.dumps(case.input, sort_keys=True)
    if not text.isascii():  # NFKC leaves ASCII as it is; skip its cost on most inputs
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def cross_issues(cases: list[Case]) -> list[Issue]:
    issues: list[Issue] = []
    seen: dict[str, Case] = {}
    for case in cases:
        if case.id in seen:
            issues.append(Issue(case.path, "$.id", f"duplicate id: also {seen[case.id].path}"))
        seen[case.id] = case
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        groups[normalise(case)].append(case)
    for group in groups.values():
        first = group[0]
        for other in group[1:]:
            if json.dumps(other.expected, sort_keys=True) != json.dumps(first.expected, sort_keys=True):
                issues.append(Issue(
                    other.path, "$.expected",
                    f"contradicts {first.id}: same input, expected {other.expected!r} vs "
                    f"{first.expected!r}",
                ))
            else:
                issues.append(Issue(other.path, "$.input", f"duplicate of {first.id} (same input)"))
    return issues
