"""`straw validate`: every file of the repository against its schema, and the cases against each
other (duplicate ids, duplicate inputs, contradictions)."""

from __future__ import annotations

import json

from repo_store import checks, config, schemas
from repo_store.errors import Issue, ValidationFailed
from repo_store.repo import CaseRepo

OTHER_FILES = {"batches": "batch", "reports": "report"}


def _json_file_issues(repo: CaseRepo, rel: str, schema: str) -> list[Issue]:
    raw = (repo.root / rel).read_bytes()
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return [Issue(rel, "$", "not UTF-8 text")]
    except json.JSONDecodeError as err:
        return [Issue(rel, "$", f"malformed JSON: {err.msg} at line {err.lineno}")]
    return schemas.schema_issues(schema, document, rel)


def validate_repo(repo: CaseRepo) -> list[Issue]:
    loaded = repo.load()
    issues = list(loaded.issues) + checks.cross_issues(loaded.cases)
    try:
        config.load(repo.root)
    except ValidationFailed as err:
        issues += err.issues
    for folder, schema in OTHER_FILES.items():
        for path in sorted((repo.root / folder).glob("*.json")):
            issues += _json_file_issues(repo, f"{folder}/{path.name}", schema)
    if (repo.root / "models.lock").exists():
        issues += _json_file_issues(repo, "models.lock", "models_lock")
    return issues
