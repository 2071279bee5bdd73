"""The JSON schemas in `schemas/` are the only definition of a case, a batch, a report, the config
and models.lock; this module loads them and turns faults into `Issue`s.

Validation is two-stage because jsonschema is precise but slow (about 1.3 s for 10,000 cases):
a compiled fastjsonschema validator accepts good documents quickly, and only a rejected one is
re-checked by jsonschema for its exact JSON path and message (check-jsonschema's `best_match`)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from repo_store.errors import Issue, ValidationFailed

SCHEMA_NAMES = ("case", "config", "batch", "report", "models_lock")

# RFC 3339 date-time; fastjsonschema's own check is looser, and jsonschema needs an extra package.
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def schema_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_schemas", here.parent / "schemas"):
        if (candidate / "case.schema.json").is_file():
            return candidate
    raise FileNotFoundError("straw's schemas/ folder is missing from the installation")


@cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads((schema_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))


@cache
def _fast(name: str) -> Any:
    import fastjsonschema

    schema = dict(load_schema(name))
    # fastjsonschema speaks draft-07; every keyword these schemas use means the same there.
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(schema, formats={"date-time": _DATE_TIME.pattern})


@cache
def _precise(name: str) -> Any:
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker()

    @checker.checks("date-time")
    def _is_date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(_DATE_TIME.match(value))

    return Draft202012Validator(load_schema(name), format_checker=checker)


def _pointer(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _short(message: str, limit: int = 160) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _summary(instance: Any) -> str:
    """A short stand-in for a value too long to echo (a 1 MB input must not fill the terminal)."""
    if isinstance(instance, str):
        return f"text of {len(instance):,} characters"
    if isinstance(instance, list):
        return f"a list of {len(instance):,} items"
    if isinstance(instance, dict):
        return f"an object of {len(instance):,} keys"
    return type(instance).__name__


def _message(error: Any) -> str:
    if error.validator == "pattern" and error.validator_value == "\\S":
        return "is blank (only whitespace)"
    message = error.message
    shown = repr(error.instance)
    if len(shown) > 60 and shown in message:
        message = message.replace(shown, _summary(error.instance))
    return _short(message)


def _descend(error: Any, validator: Any) -> Any:
    """For oneOf/anyOf, the fault inside the branch whose type fits the value: `'' is too short`
    rather than `'' is not valid under any of the given schemas`."""
    from jsonschema.exceptions import best_match

    while error.validator in ("oneOf", "anyOf") and error.context:
        fitting = {i for i, sub in enumerate(error.validator_value)
                   if isinstance(sub, dict) and "type" in sub
                   and validator.is_type(error.instance, sub["type"])}
        inner = [e for e in error.context if e.relative_schema_path and
                 e.relative_schema_path[0] in fitting]
        if not inner:
            break
        error = best_match(inner)
    return error


def schema_issues(name: str, document: Any, path: str) -> list[Issue]:
    """Every fault of `document` against schema `name`, best match first; [] when valid."""
    import fastjsonschema

    try:
        _fast(name)(document)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    from jsonschema.exceptions import best_match

    validator = _precise(name)
    errors = list(validator.iter_errors(document))
    if not errors:  # the two validators disagree only on exotic input; trust the precise one
        return []
    best = best_match(errors)
    ordered = [best] + [e for e in errors if e is not best]
    issues: list[Issue] = []
    for error in ordered:
        error = _descend(error, validator)
        issue = Issue(path, _pointer(error.absolute_path), _message(error))
        if issue not in issues:  # two allOf branches often report the same fault
            issues.append(issue)
    return issues


def check(name: str, document: Any, path: str) -> None:
    """Raise ValidationFailed unless `document` satisfies schema `name`."""
    issues = schema_issues(name, document, path)
    if issues:
        raise ValidationFailed(issues)
