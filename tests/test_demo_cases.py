"""The bundled demo case set (cases/) is valid and shaped as the demo expects."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
SCHEMA = ROOT / "schemas" / "case.schema.json"
HEBREW = re.compile(r"[\u0590-\u05FF]")


def _load(split: str) -> dict[Path, dict]:
    return {
        p: json.loads(p.read_text(encoding="utf-8")) for p in sorted((CASES / split).glob("*.json"))
    }


BASELINE = _load("baseline")
PENDING = _load("pending")
ALL = {**BASELINE, **PENDING}


def _text(case: dict) -> str:
    inp = case["input"]
    if isinstance(inp, str):
        return inp
    return "\n".join(f"{m['role']}: {m['content']}" for m in inp)


def _normalised(case: dict) -> str:
    return " ".join(_text(case).lower().split())


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_every_file_under_cases_is_a_case_file():
    stray = [p for p in CASES.rglob("*") if p.is_file() and p not in ALL]
    assert not stray, f"unexpected files under cases/: {stray}"


@pytest.mark.parametrize("path", sorted(ALL), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case_validates_against_schema(path: Path, validator: Draft202012Validator):
    errors = sorted(validator.iter_errors(ALL[path]), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_ids_equal_file_stems():
    bad = [p.name for p, c in ALL.items() if c.get("id") != p.stem]
    assert not bad, f"id does not match file name: {bad}"


def test_ids_unique_across_splits():
    dupes = set(p.stem for p in BASELINE) & set(p.stem for p in PENDING)
    assert not dupes


def test_no_duplicate_normalised_inputs():
    counts = Counter(_normalised(c) for c in ALL.values())
    dupes = [text for text, n in counts.items() if n > 1]
    assert not dupes, f"duplicate inputs: {dupes}"


def test_split_sizes():
    assert 90 <= len(BASELINE) <= 120
    assert 36 <= len(PENDING) <= 44


def test_pending_brings_new_label_self_harm():
    baseline_labels = {c["expected"] for c in BASELINE.values()}
    pending_labels = {c["expected"] for c in PENDING.values()}
    assert "self_harm" in pending_labels
    assert "self_harm" not in baseline_labels


def test_hebrew_cases_present():
    hebrew = [p for p, c in ALL.items() if HEBREW.search(_text(c))]
    assert len(hebrew) >= 5
