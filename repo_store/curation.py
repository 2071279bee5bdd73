"""Adding, editing and removing pending cases on main. Each write is validated against the case
schema before it touches disk, written atomically, and committed under the repository's lock."""

from __future__ import annotations

import copy
import logging
from typing import Any

from repo_store import cases, checks, gitio, locking
from repo_store.cases import Case
from repo_store.errors import Issue, NoSuchCase, StrawError, UsageError, ValidationFailed
from repo_store.ids import is_safe_id, new_case_id, now_iso, unsafe_id_reason
from repo_store.repo import MAIN, CaseRepo

logger = logging.getLogger(__name__)


def new_case_data(repo: CaseRepo, *, input: str | list[dict[str, str]], expected: Any,
                  match: str = "label", tags: list[str] | None = None, source: str | None = None,
                  notes: str | None = None, meta: dict[str, Any] | None = None,
                  case_id: str | None = None, author: str | None = None,
                  created: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": case_id or new_case_id(),
        "input": input,
        "expected": expected,
        "match": match,
        # repeated tags collapse; anything that is not a list of strings is left for the schema
        "tags": list(dict.fromkeys(tags)) if isinstance(tags, list) and all(
            isinstance(t, str) for t in tags) else (tags if tags is not None else []),
        "created": created or now_iso(),
        "author": author or repo.identity,
    }
    if source:
        data["source"] = source
    if notes:
        data["notes"] = notes
    if meta:
        data["meta"] = meta
    return data


def _short(text: str, width: int = 60) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _conflicts(repo: CaseRepo, new: list[Case],
               replacing: frozenset[str] | set[str] = frozenset()) -> list[Issue]:
    """Cross-case issues that the new cases introduce against the existing ones."""
    return checks.InputIndex(repo.root).conflicts(new, replacing)


def add_cases(repo: CaseRepo, records: list[dict[str, Any]], message: str) -> list[Case]:
    """Validate every record, then write them all as pending cases in one commit — or nothing."""
    repo.require_on_main()
    new: list[Case] = []
    issues: list[Issue] = []
    for data in records:
        try:
            cases.check_new(data, "pending")
            new.append(Case(data, "pending"))
        except ValidationFailed as err:
            issues += err.issues
    if issues:
        raise ValidationFailed(issues)
    with repo.write_lock():
        issues = _conflicts(repo, new)
        if issues:
            raise ValidationFailed(issues)
        written: list[str] = []
        head = gitio.head_commit(repo.root)
        try:
            for case in new:
                target = repo.root / case.path
                if target.exists() or (repo.root / cases.case_path("baseline", case.id)).exists():
                    raise ValidationFailed([Issue(case.path, "$.id", f"duplicate id {case.id!r}")])
                written.append(case.path)  # first: a Ctrl-C raised as the write ends takes it back
                cases.atomic_write(target, cases.serialize(case.data))
            _commit(repo, written, message)
        except BaseException:
            if gitio.head_commit(repo.root) != head:
                raise  # the commit landed: every case is in; nothing to take back
            # Ctrl-C or a failure before the commit: take back every file this call wrote.
            for path in written:
                (repo.root / path).unlink(missing_ok=True)
            gitio.unstage(repo.root, written)
            raise
    return new


def _commit(repo: CaseRepo, paths: list[str], message: str) -> None:
    """The commit that makes a write visible, shielded from Ctrl-C: it lands whole or not at all.
    A Ctrl-C that arrives meanwhile is honoured only if the commit did not land."""
    with locking.deferred_interrupt() as interrupted:
        try:
            gitio.commit_paths(repo.root, paths, message)
        except StrawError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
    if interrupted:
        logger.warning("interrupt arrived while committing; the commit was already complete")


def add_case(repo: CaseRepo, **fields: Any) -> Case:
    data = new_case_data(repo, **fields)
    (case,) = add_cases(repo, [data], f"Add pending case {data['id']}: {_short(str(data['input']))}")
    return case


def get_case(repo: CaseRepo, case_id: str) -> Case:
    if not is_safe_id(case_id):
        raise UsageError(unsafe_id_reason(case_id))
    for split in cases.SPLITS:
        path = repo.root / cases.case_path(split, case_id)
        if path.exists():
            case, issues = cases.parse(path.read_bytes(), cases.case_path(split, case_id), split)
            if issues:
                raise ValidationFailed(issues)
            assert case is not None
            return case
    raise NoSuchCase(f"no case {case_id!r} in cases/baseline or cases/pending")


def _pending(repo: CaseRepo, case_id: str) -> Case:
    case = get_case(repo, case_id)
    if case.split != "pending":
        raise UsageError(f"{case.path}: baseline cases change only through a batch "
                         f"(`straw batch create`); edit a pending case instead")
    if gitio.dirty_paths(repo.root, case.path):
        raise UsageError(f"{case.path} has uncommitted changes: commit or discard them first")
    return case


def edit_case(repo: CaseRepo, case_id: str, changes: dict[str, Any]) -> Case:
    repo.require_on_main()
    with repo.write_lock():
        case = _pending(repo, case_id)
        if "id" in changes and changes["id"] != case_id:
            raise UsageError(f"{case.path}::$.id: a case keeps its id (add a new case instead)")
        data = copy.deepcopy(case.data)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        content = cases.check_new(data, "pending")
        updated = Case(data, "pending")
        issues = _conflicts(repo, [updated], replacing={case_id})
        if issues:
            raise ValidationFailed(issues)
        old = (repo.root / case.path).read_bytes()
        head = gitio.head_commit(repo.root)
        try:
            cases.atomic_write(repo.root / case.path, content)
            _commit(repo, [case.path], f"Edit pending case {case_id}")
        except BaseException:
            if gitio.head_commit(repo.root) == head:
                cases.atomic_write(repo.root / case.path, old)
                gitio.unstage(repo.root, [case.path])
            raise
        return updated


def remove_case(repo: CaseRepo, case_id: str) -> Case:
    repo.require_on_main()
    with repo.write_lock():
        case = _pending(repo, case_id)
        from repo_store.batches import open_batches_holding

        holders = open_batches_holding(repo, {case_id})
        if holders:
            raise UsageError(f"{case.path}: case is in open batch {holders[case_id]}; "
                             f"reject that batch first")
        target = repo.root / case.path
        old = target.read_bytes()
        head = gitio.head_commit(repo.root)
        try:
            target.unlink()
            _commit(repo, [case.path], f"Remove pending case {case_id}: {_short(case.text)}")
        except BaseException:
            if gitio.head_commit(repo.root) == head:
                cases.atomic_write(target, old)
                gitio.unstage(repo.root, [case.path])
            raise
        return case


def removed_case(repo: CaseRepo, case_id: str) -> Case:
    """A pending case as it was just before its last removal on main (for `straw restore`)."""
    if not is_safe_id(case_id):
        raise UsageError(f"{case_id!r} is not a case id: {unsafe_id_reason(case_id)}")
    path = cases.case_path("pending", case_id)
    if not gitio.rev(repo.root, f"refs/heads/{MAIN}"):
        raise NoSuchCase(f"{MAIN} has no commits: nothing to restore")
    for split, what in (("baseline", "was merged into the baseline"), ("pending", "is pending")):
        if gitio.rev(repo.root, f"refs/heads/{MAIN}:{cases.case_path(split, case_id)}"):
            raise NoSuchCase(f"case {case_id} {what} on {MAIN}: nothing to restore")
    # main's own history (first parent): the last commit on main that took the file away
    commit = gitio.run(repo.root, "log", "-1", "--first-parent", "--diff-filter=D", "--format=%H",
                        "--diff-merges=first-parent", "--no-patch", f"refs/heads/{MAIN}",
                        "--", path)
    if not commit:
        raise NoSuchCase(f"no removal of {path} on {MAIN}: nothing to restore")
    raw = gitio.run(repo.root, "show", f"{commit}^:{path}").encode("utf-8")
    case, issues = cases.parse(raw, path, "pending")  # it may have been removed for being broken
    if case is None:
        raise ValidationFailed(issues)
    return case


def restore_case(repo: CaseRepo, case: Case) -> Case:
    """Undo a removal: the same case, same id, back in pending."""
    (added,) = add_cases(repo, [case.data], f"Restore pending case {case.id}")
    return added
