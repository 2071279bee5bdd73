"""Adding, editing and removing pending cases on main. Each write is validated against the case
schema before it touches disk, written atomically, and committed under the repository's lock."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from repo_store import cases, checks, gitio, jsonio, locking
from repo_store.cases import Case
from repo_store.errors import Issue, NoSuchCase, StrawError, UsageError, ValidationFailed
from repo_store.ids import is_safe_id, new_case_id, now_iso, unsafe_id_reason
from repo_store.repo import MAIN, CaseRepo
from repo_store.safe_text import printable

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
    """A commit subject's excerpt: controls escaped (git refuses NUL; terminals obey ESC)."""
    line = " ".join(printable(str(text), keep_lines=False).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _conflicts(repo: CaseRepo, new: list[Case], replacing: frozenset[str] | set[str] = frozenset(),
               warn: Callable[[str], None] | None = None) -> list[Issue]:
    """Cross-case issues that the new cases introduce against the existing ones; with `warn`,
    also a warning for each label no other case uses."""
    index = checks.InputIndex(repo.root)
    if warn is not None:
        for warning in label_warnings(new, index.labels()):
            warn(warning)
    return index.conflicts(new, replacing)


UNFINISHED = "refs/straw/unfinished-write"  # a commit of new cases not yet in the work tree


def add_cases(repo: CaseRepo, records: list[dict[str, Any]], message: str,
              warn: Callable[[str], None] | None = None, split: str = "pending") -> list[Case]:
    """Validate every record, then commit them all to `split` (pending or watch) in one commit —
    or nothing.

    The commit is written with plumbing first (one `git fast-import`, no file in the work tree,
    no argv limit), main is moved with a compare-and-swap `update-ref`, and only then does git
    check the files out. A process killed before the ref moves leaves nothing but unreferenced
    objects; one killed after it leaves UNFINISHED, which the next write (or `straw` command)
    finishes and says so: never a half-written set of untracked case files."""
    repo.require_on_main()
    if split not in cases.CURATED:
        raise UsageError(f"cases are added to {' or '.join(cases.CURATED)}, not {split!r}")
    new: list[Case] = []
    issues: list[Issue] = []
    for data in records:
        try:
            cases.check_new(data, split)
            new.append(Case(data, split))
        except ValidationFailed as err:
            issues += err.issues
    if issues:
        raise ValidationFailed(issues)
    with repo.write_lock():
        note = finish_interrupted_write(repo)
        if note:
            logger.warning(note)
        issues = _conflicts(repo, new, warn=warn)
        if issues:
            raise ValidationFailed(issues)
        for case in new:
            for elsewhere in cases.SPLITS:
                other = repo.root / cases.case_path(elsewhere, case.id)
                if other.exists() or other.is_symlink():
                    raise ValidationFailed([Issue(case.path, "$.id", f"duplicate id {case.id!r}: "
                                                  f"also {cases.case_path(elsewhere, case.id)}")])
        head = gitio.head_commit(repo.root)
        try:
            commit = gitio.fast_import(repo.root, UNFINISHED, head,
                                       {c.path: cases.serialize(c.data) for c in new}, message)
        except OSError as err:  # ENOSPC, EROFS, EACCES while feeding git
            raise StrawError(f"cannot write to {repo.git_dir}: {err.strerror or err}; "
                             f"nothing was written") from None
        with locking.deferred_interrupt() as interrupted:
            gitio.run(repo.root, "update-ref", "-m", f"straw: {message[:60]}",
                       f"refs/heads/{MAIN}", commit, head or "0" * 40)
            try:
                _check_out(repo, head, commit)
            except StrawError as err:
                raise StrawError(f"cases committed as {commit[:8]} on {MAIN}, but the work tree was "
                                 f"not updated ({err}); the next straw command finishes it") from None
        if interrupted:
            logger.warning("interrupt arrived while committing; the commit was already complete")
        try:  # each fast-import writes a pack: let git repack once they add up, as commit does
            gitio.run(repo.root, "gc", "--auto", "--quiet")
        except StrawError:
            pass  # housekeeping only
    return new


def _check_out(repo: CaseRepo, old: str | None, new: str) -> None:
    """Bring the index and work tree from `old` to `new` (a two-tree merge: other staged or
    local edits survive), then drop the UNFINISHED marker."""
    if old:
        gitio.run(repo.root, "read-tree", "-m", "-u", old, new)
    else:
        gitio.run(repo.root, "read-tree", "-u", "--reset", new)
    gitio.run(repo.root, "update-ref", "-d", UNFINISHED)


def finish_interrupted_write(repo: CaseRepo) -> str | None:
    """Finish a write of new cases that was killed after main moved (see add_cases), or drop the
    marker of one killed before. Returns what was done, for the user, or None."""
    # refs live in the common git dir (a linked worktree points there)
    if not (gitio.common_dir(repo.git_dir) / UNFINISHED).is_file():
        return None  # the common case costs a stat or two (the ref is never packed: it lives
        #              for the seconds between two commands of one write)
    with repo.write_lock():
        commit = gitio.rev(repo.root, UNFINISHED)
        if commit is None:
            return None
        if gitio.rev(repo.root, f"refs/heads/{MAIN}") != commit:
            gitio.run(repo.root, "update-ref", "-d", UNFINISHED)  # main never moved: nothing landed
            return None
        parent = gitio.rev(repo.root, f"{commit}^")
        lock = repo.git_dir / "index.lock"
        stale = lock.exists()
        if stale:  # left by the killed checkout: straw holds the write lock and the marker is ours
            lock.unlink()
        added = [p for p in gitio.run(repo.root, "diff-tree", "-r", "-z", "--name-only",
                                       "--no-renames", "--diff-filter=A", f"{parent}", commit
                                       ).split("\0") if p] if parent else []
        indexed = set(gitio.run(repo.root, "ls-files", "-z", "--", cases.CASES_DIR).split("\0"))
        for path in added:  # partial files of the killed checkout: every path is a new, unique id
            if path not in indexed:
                (repo.root / path).unlink(missing_ok=True)
        _check_out(repo, parent, commit)
        return (f"finished an interrupted write of {len(added)} case file(s): commit {commit[:8]} "
                f"was on {MAIN} but not in the work tree" + ("; removed its stale .git/index.lock"
                                                             if stale else ""))


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


def add_case(repo: CaseRepo, warn: Callable[[str], None] | None = None, split: str = "pending",
             **fields: Any) -> Case:
    data = new_case_data(repo, **fields)
    (case,) = add_cases(repo, [data], f"Add {split} case {data['id']}: {_short(str(data['input']))}",
                        warn=warn, split=split)
    return case


def label_warnings(new: list[Case], labels: set[str]) -> list[str]:
    """A warning per new `label` case whose label no other case expects (a typo, most likely),
    naming the known labels; none when no labels exist yet."""
    known = sorted(labels)
    warnings = []
    for case in new:
        label = str(case.expected).strip()
        if case.match != "label" or not known or label in labels:
            continue
        import difflib

        close = difflib.get_close_matches(label, known, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        shown = ", ".join(known[:30]) + (f" (+{len(known) - 30} more)" if len(known) > 30 else "")
        warnings.append(f"label {label!r} is new: no other case expects it; {hint}known labels: {shown}")
    return warnings


def get_case(repo: CaseRepo, case_id: str) -> Case:
    if not is_safe_id(case_id):
        raise UsageError(unsafe_id_reason(case_id))
    for split in cases.SPLITS:
        path = repo.root / cases.case_path(split, case_id)
        if path.exists() or path.is_symlink():
            raw, issues = cases.read_issue(path, cases.case_path(split, case_id))
            if raw is not None:
                case, issues = cases.parse(raw, cases.case_path(split, case_id), split)
            if issues:
                raise ValidationFailed(issues)
            assert case is not None
            return case
    raise NoSuchCase(f"no case {case_id!r} in {', '.join(f'cases/{s}' for s in cases.SPLITS)}")


def _curated(repo: CaseRepo, case_id: str) -> Case:
    """A pending or watch case (the splits a person writes to directly), safe to rewrite."""
    case = get_case(repo, case_id)
    if case.split not in cases.CURATED:
        raise UsageError(f"{case.path}: baseline cases change only through a batch "
                         f"(`straw batch create`); edit a pending case instead")
    if gitio.dirty_paths(repo.root, case.path):
        raise UsageError(f"{case.path} has uncommitted changes: commit or discard them first")
    return case


def edit_case(repo: CaseRepo, case_id: str, changes: dict[str, Any]) -> Case:
    repo.require_on_main()
    with repo.write_lock():
        case = _curated(repo, case_id)
        if "id" in changes and changes["id"] != case_id:
            raise UsageError(f"{case.path}::$.id: a case keeps its id (add a new case instead)")
        data = copy.deepcopy(case.data)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        content = cases.check_new(data, case.split)
        updated = Case(data, case.split)
        issues = _conflicts(repo, [updated], replacing={case_id})
        if issues:
            raise ValidationFailed(issues)
        old = (repo.root / case.path).read_bytes()
        head = gitio.head_commit(repo.root)
        try:
            cases.atomic_write(repo.root / case.path, content)
            _commit(repo, [case.path], f"Edit {case.split} case {case_id}")
        except BaseException:
            if gitio.head_commit(repo.root) == head:
                cases.atomic_write(repo.root / case.path, old)
                gitio.unstage(repo.root, [case.path])
            raise
        return updated


def remove_case(repo: CaseRepo, case_id: str) -> Case:
    repo.require_on_main()
    with repo.write_lock():
        case = _curated(repo, case_id)
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
            _commit(repo, [case.path], f"Remove {case.split} case {case_id}: {_short(case.text)}")
        except BaseException:
            if gitio.head_commit(repo.root) == head:
                cases.atomic_write(target, old)
                gitio.unstage(repo.root, [case.path])
            raise
        return case


def removed_case(repo: CaseRepo, case_id: str) -> Case:
    """A pending or watch case as it was just before its last removal on main (for
    `straw restore`)."""
    if not is_safe_id(case_id):
        raise UsageError(f"{case_id!r} is not a case id: {unsafe_id_reason(case_id)}")
    if not gitio.rev(repo.root, f"refs/heads/{MAIN}"):
        raise NoSuchCase(f"{MAIN} has no commits: nothing to restore")
    for split, what in (("baseline", "was merged into the baseline"), ("pending", "is pending"),
                        ("watch", "is in watch")):
        if gitio.rev(repo.root, f"refs/heads/{MAIN}:{cases.case_path(split, case_id)}"):
            raise NoSuchCase(f"case {case_id} {what} on {MAIN}: nothing to restore")
    for split in cases.CURATED:
        path = cases.case_path(split, case_id)
        # main's own history (first parent): the last commit on main that took the file away
        commit = gitio.run(repo.root, "log", "-1", "--first-parent", "--diff-filter=D",
                           "--format=%H", "--diff-merges=first-parent", "--no-patch",
                           f"refs/heads/{MAIN}", "--", path)
        if commit:
            raw = gitio.run(repo.root, "show", f"{commit}^:{path}").encode("utf-8")
            case, issues = cases.parse(raw, path, split)  # it may have been removed for being broken
            if case is None:
                raise ValidationFailed(issues)
            return case
    raise NoSuchCase(f"no removal of {cases.case_path('pending', case_id)} or "
                     f"{cases.case_path('watch', case_id)} on {MAIN}: nothing to restore")


def restore_case(repo: CaseRepo, case: Case) -> Case:
    """Undo a removal: the same case, same id, back in its split (pending or watch)."""
    split = case.split if case.split in cases.CURATED else "pending"
    (added,) = add_cases(repo, [case.data], f"Restore {split} case {case.id}", split=split)
    return added


def parse_expected(match: str, text: str) -> Any:
    """An expected value typed as text (`straw add --expected`, the TUI's form) as its match
    rule wants it: `json` a JSON document, `one_of` a JSON list or `a | b | c`, any other rule
    the text itself. Strict JSON (jsonio): `NaN` or `1e999` would be written as a case file
    straw then refuses to read. Raises ValueError with a one-line reason."""
    if match == "json":
        try:
            return jsonio.strict_loads(text)
        except jsonio.BadJSON as err:
            raise ValueError(f"not valid JSON for the json rule: {str(err).removeprefix('malformed JSON: ')}"
                             ) from None
    if match == "one_of":
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                value = jsonio.strict_loads(stripped)
            except jsonio.BadJSON as err:
                raise ValueError(f"not a valid JSON list: {str(err).removeprefix('malformed JSON: ')}"
                                 ) from None
            if isinstance(value, list):
                return value
        return [part.strip() for part in text.split("|") if part.strip()]
    return text
