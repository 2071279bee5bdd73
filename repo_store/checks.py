"""Checks across cases, run before any training: duplicate ids, duplicate inputs, and
contradictions (the same input expected to give different outputs can never pass both)."""

from __future__ import annotations

import json
import marshal
import os
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

from repo_store import jsonio
from repo_store.cases import (
    CASES_DIR,
    MARSHAL_TAG,
    SPLITS,
    Case,
    UnsafeFile,
    atomic_write,
    cache_dir,
    load_marshal,
    read_case_file,
)
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


class InputIndex:
    """{path: [mtime, size, normalised input, id, expected as JSON, match]} for every case file
    in the work tree, kept in cache_dir() keyed by each file's (mtime, size): `straw add` checks
    a new case against 10,000 others by stat-ing files instead of parsing them. Files that
    changed are re-read; a file that does not parse is left to `straw validate`."""

    def __init__(self, root: Path) -> None:
        self.path = cache_dir(root) / f"input-index-{MARSHAL_TAG}.marshal"
        self.entries: dict[str, list[Any]] = load_marshal(self.path)
        fresh: dict[str, list[Any]] = {}
        changed = False
        for split in SPLITS:
            folder = root / CASES_DIR / split
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if not entry.name.endswith(".json"):
                    continue
                rel = f"{CASES_DIR}/{split}/{entry.name}"
                st = entry.stat(follow_symlinks=False)
                old = self.entries.get(rel)
                if old and len(old) == 6 and old[0] == st.st_mtime_ns and old[1] == st.st_size:
                    fresh[rel] = old
                    continue
                changed = True
                try:  # a file refused here is named by `straw validate` and skipped by loads
                    data = jsonio.strict_loads(read_case_file(entry.path))
                    case = Case(data, split)
                    fresh[rel] = [st.st_mtime_ns, st.st_size, normalise(case), case.id,
                                  json.dumps(case.expected, sort_keys=True), str(case.match)]
                except (ValueError, KeyError, TypeError, AttributeError, OSError, UnsafeFile):
                    continue
        changed = changed or len(fresh) != len(self.entries)  # files removed
        self.entries = fresh
        if changed:
            try:  # a cache: no fsync
                atomic_write(self.path, marshal.dumps(fresh), durable=False)
            except (OSError, ValueError):
                pass

    def labels(self) -> set[str]:
        """Every label a `label` case expects (from the index: no case file is read)."""
        return {str(json.loads(entry[4])).strip() for entry in self.entries.values()
                if entry[5] == "label"}

    def conflicts(self, new: list[Case], replacing: frozenset[str] | set[str] = frozenset()) -> list[Issue]:
        """Issues each new case has against the indexed ones (and against each other)."""
        by_key: dict[str, tuple[str, str]] = {}
        ids: dict[str, str] = {}
        for rel, (_, _, key, case_id, expected, _) in self.entries.items():
            if case_id in replacing:
                continue
            by_key.setdefault(key, (case_id, expected))
            ids[case_id] = rel
        issues = []
        for case in new:
            if case.id in ids:
                issues.append(Issue(case.path, "$.id", f"duplicate id: also {ids[case.id]}"))
            key, expected = normalise(case), json.dumps(case.expected, sort_keys=True)
            if key in by_key:
                other_id, other_expected = by_key[key]
                if other_expected != expected:
                    issues.append(Issue(case.path, "$.expected",
                                        f"contradicts {other_id}: same input, expected "
                                        f"{case.expected!r} vs {json.loads(other_expected)!r}"))
                else:
                    issues.append(Issue(case.path, "$.input", f"duplicate of {other_id} (same input)"))
            by_key.setdefault(key, (case.id, expected))
            ids.setdefault(case.id, case.path)
        return issues
