"""Import and export in the formats other trainers and eval tools read: JSONL (one case per line)
and CSV. Export → import round-trips losslessly: CSV cells that hold non-text values (chat
messages, one_of lists, JSON expectations, tags, meta) carry them as JSON in `*_json` columns."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from repo_store import cases as case_files
from repo_store import curation, jsonio
from repo_store.cases import FIELD_ORDER, Case
from repo_store.errors import Issue, UsageError, ValidationFailed
from repo_store.repo import CaseRepo
from repo_store.safe_text import printable

CSV_COLUMNS = ["id", "split", "input", "input_json", "expected", "expected_json", "match",
               "tags_json", "source", "created", "author", "notes", "meta_json"]


def _records_jsonl(text: str, name: str) -> list[tuple[str, Any]]:
    out = []
    # split on "\n" only: str.splitlines() also splits at U+2028 and U+0085, which JSON strings
    # may hold raw
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            out.append((where, jsonio.strict_loads(line.removesuffix("\r"))))
        except jsonio.BadJSON as err:
            reason = str(err).replace(" at line 1 column", " at column")
            raise ValidationFailed([Issue(where, "$", reason)]) from None
    return out


def _records_csv(text: str, name: str) -> list[tuple[str, Any]]:
    out = []
    # csv refuses cells over 128 KiB with an opaque error; let them through so that the schema
    # names the field and its size instead.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise ValidationFailed([Issue(f"{name}:1", "$", f"column {repeated[0]!r} appears more than "
                                                        f"once in the header")])
    while True:
        start = reader.line_num + 1  # a quoted cell may span lines: name the row's first line
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise ValidationFailed([Issue(f"{name}:{start}", "$", f"bad CSV: {err}")]) from None
        where = f"{name}:{start}"
        if None in row:  # DictReader's key for cells past the header
            raise ValidationFailed([Issue(where, "$", f"{len(header) + len(row[None])} fields, the "
                                                      f"header has {len(header)}")])
        record: dict[str, Any] = {}
        for key, value in row.items():
            if key is None or value in (None, ""):
                continue
            value = _unguard(value)
            if key.endswith("_json"):
                try:
                    record[key.removesuffix("_json")] = jsonio.strict_loads(value)
                except jsonio.BadJSON as err:
                    reason = str(err).replace(" at line 1 column", " at column")
                    raise ValidationFailed([Issue(where, f"$.{key}", reason)]) from None
            else:
                record[key] = value
        out.append((where, record))
    return out


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection). Export
# puts a `'` before such a cell, and before a cell that already starts with `'` and one of
# them, so that import can take exactly one `'` off again: the round trip stays lossless.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _guard(value: str) -> str:
    if value.startswith(FORMULA_START) or (value.startswith("'") and value[1:].startswith(
            (*FORMULA_START, "'"))):
        return "'" + value
    return value


def _unguard(value: str) -> str:
    if value.startswith("'") and value[1:].startswith((*FORMULA_START, "'")):
        return value[1:]
    return value


def read_records(path: Path) -> list[tuple[str, Any]]:
    """[(file:line, record)] from a .jsonl or .csv file."""
    name = str(path)
    if not path.is_file():
        raise UsageError(f"{name}: no such file")
    try:  # newline="": a "\r\n" inside a quoted CSV cell is data, not a line end to translate
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as err:
        raise ValidationFailed([Issue(name, "$", f"not UTF-8 text (byte {err.start})")]) from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _records_jsonl(text, name)
    if suffix == ".csv":
        return _records_csv(text, name)
    raise UsageError(f"{name}: unknown format {suffix or '(none)'}; use .jsonl or .csv")


def to_case_data(repo: CaseRepo, record: Any, where: str) -> dict[str, Any]:
    """A record as a case: known fields kept, anything else moved into `meta`."""
    if not isinstance(record, dict):
        raise ValidationFailed([Issue(where, "$", "a record must be a JSON object")])
    for needed in ("input", "expected"):
        if needed not in record:
            raise ValidationFailed([Issue(where, f"$.{needed}", "is required")])
    known = {k: v for k, v in record.items() if k in FIELD_ORDER}
    extra = {k: v for k, v in record.items() if k not in FIELD_ORDER and k != "split"}
    given_meta = known.pop("meta", None)
    if given_meta is not None and not isinstance(given_meta, dict):
        raise ValidationFailed([Issue(where, "$.meta", "must be a JSON object")])
    meta = dict(given_meta or {})
    meta.update(extra)
    if "source" in known and not isinstance(known["source"], str):
        meta["source"] = known.pop("source")
    data = curation.new_case_data(
        repo, input=known.pop("input"), expected=known.pop("expected"),
        match=known.pop("match", "label"), case_id=known.pop("id", None),
        author=known.pop("author", None), created=known.pop("created", None),
        tags=known.get("tags"),
    )
    # optional fields exactly as given (an empty `meta` or `notes` survives a round trip)
    for key in ("source", "notes"):
        if key in known:
            data[key] = known[key]
    if "tags" not in known:
        data.pop("tags", None)
    if meta or "meta" in record:
        data["meta"] = meta
    return data


def split_note(path: Path, split: str) -> str | None:
    """What an import did with the records' own `split` fields (an export writes one per row):
    they are ignored — the baseline changes only through a batch — and the user is told so."""
    given = Counter(str(r.get("split")) for _, r in read_records(path)
                    if isinstance(r, dict) and r.get("split") not in (None, "", split))
    if not given:
        return None
    said = ", ".join(f"{n} said {name!r}" for name, n in sorted(given.items()))
    return (f"{path}: the rows' own split field was ignored ({said}); every case is {split} "
            f"now: the baseline changes only through a batch")


def import_file(repo: CaseRepo, path: Path, split: str = "pending") -> list[Case]:
    """Every record becomes a case of `split` (pending or watch), in one commit; one bad record
    refuses the whole file (each fault named by file:line and JSON path)."""
    records = read_records(path)
    datas: list[dict[str, Any]] = []
    issues: list[Issue] = []
    lines: dict[str, str] = {}  # case id → the line it came from
    for where, record in records:
        try:
            data = to_case_data(repo, record, where)
            case_files.check_new(data, split)
            if data["id"] in lines:
                raise ValidationFailed([Issue(where, "$.id", f"duplicate id {data['id']!r}: also "
                                                             f"{lines[data['id']]}")])
            lines[data["id"]] = where
            datas.append(data)
        except ValidationFailed as err:
            # name the line of the file being imported, not the case file it would have become
            issues += [Issue(where, issue.pointer, issue.message) for issue in err.issues]
    if issues:
        raise ValidationFailed(issues)
    if not datas:
        raise UsageError(f"{path}: no records")
    try:
        return curation.add_cases(repo, datas, f"Import {len(datas)} {split} cases from {path.name}",
                                  split=split)
    except ValidationFailed as err:  # against the repository's cases: name the line and the file
        by_path = {case_files.case_path(split, d["id"]): lines[d["id"]] for d in datas}
        raise ValidationFailed([Issue(by_path.get(i.path, i.path), i.pointer, i.message)
                                for i in err.issues]) from None


def export_jsonl(cases: Iterable[Case]) -> str:
    # printable(): C1 controls as \u0080-\u009f (json leaves them raw), the same JSON value
    return "".join(printable(json.dumps({**c.data, "split": c.split}, ensure_ascii=False)) + "\n"
                   for c in cases)


def export_csv(cases: Iterable[Case]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for case in cases:
        d = case.data
        row: dict[str, Any] = {"id": d["id"], "split": case.split, "match": d["match"],
                               "source": d.get("source", ""), "created": d["created"],
                               "author": d["author"], "notes": d.get("notes", "")}
        for key in ("input", "expected"):
            if isinstance(d[key], str):
                row[key] = d[key]
            else:
                row[f"{key}_json"] = json.dumps(d[key], ensure_ascii=False)
        if "tags" in d:
            row["tags_json"] = json.dumps(d["tags"], ensure_ascii=False)
        if "meta" in d:
            row["meta_json"] = json.dumps(d["meta"], ensure_ascii=False)
        writer.writerow({key: _guard(value) if isinstance(value, str) else value
                         for key, value in row.items()})
    return buffer.getvalue()
