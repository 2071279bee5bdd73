"""The app's screens in the order of their number keys: (mode, title, what it is for)."""

from __future__ import annotations

SCREENS_IN_ORDER = (
    ("cases", "Cases", "Baseline and pending cases: search, add, edit, delete"),
    ("batches", "Batches", "Approve pending cases as a batch branch"),
    ("pulls", "Pull requests", "Batch branches: diff, report, tune, merge, reject"),
    ("history", "History", "The baseline's log, one line per merged batch"),
    ("monitor", "Monitor", "The production model and its pass rate over versions"),
)
