"""`straw validate`: every file of the repository against its schema, and the cases against each
other (duplicate ids, duplicate inputs, contradictions)."""

from __future__ import annotations

import json

from repo_store import cases, checks, config, jsonio, schemas
from repo_store.errors import Issue, ValidationFailed
from repo_store.repo import CaseRepo

OTHER_FILES = {"batches": "batch", "reports": "report"}
OTHER_FILE_LIMIT = 512 * 1024 * 1024  # a report holds one row per case: ~100 MB at 1,000,000


def _json_file_issues(repo: CaseRepo, rel: str, schema: str) -> list[Issue]:
    raw, issues = cases.read_issue(repo.root / rel, rel, limit=OTHER_FILE_LIMIT)
    if raw is None:
        return issues
    try:  # reports are written by straw's json, which may write NaN for a diverged loss
        document = jsonio.loads(raw) if schema == "report" else jsonio.strict_loads(raw)
    except jsonio.BadJSON as err:
        return [Issue(rel, "$", str(err))]
    except UnicodeDecodeError:
        return [Issue(rel, "$", "not UTF-8 text")]
    except json.JSONDecodeError as err:
        return [Issue(rel, "$", f"malformed JSON: {err.msg} at line {err.lineno}")]
    except (ValueError, RecursionError) as err:
        return [Issue(rel, "$", f"malformed JSON: {str(err).splitlines()[0][:120]}")]
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
