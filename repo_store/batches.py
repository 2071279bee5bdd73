"""Batches: approved pending cases on their own branch `batch/<id>`, reviewed like a pull request.

Creating a batch writes ONE commit on a new branch (pending → baseline moves plus the manifest
`batches/<id>.json`) through git plumbing: main and the work tree are not touched. Rejecting
archives the branch as a tag. Branch names and manifests are in batch_branches.py; gating and
batch status in gate.py and batch_status.py; merging in merge.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from repo_store import cases, checks, gitio, jsonio, schemas
from repo_store.batch_branches import (  # batch_id_of, branch_name: kept for older callers
    BRANCH_PREFIX,
    REJECTED_PREFIX,
    Batch,
    batch_id_of,  # noqa: F401
    branch_name,  # noqa: F401
    is_merged,
    manifest_path,
    read_manifest,
    require_batch,
)
from repo_store.cases import Case
from repo_store.errors import (
    Issue,
    NoSuchCase,
    StrawError,
    UsageError,
    ValidationFailed,
)
from repo_store.gate import foreign_changes
from repo_store.ids import new_batch_id, now_iso
from repo_store.repo import MAIN, CaseRepo


def open_batches(repo: CaseRepo) -> list[Batch]:
    found = []
    for branch in gitio.branches(repo.git, f"{BRANCH_PREFIX}*"):
        batch_id = branch.removeprefix(BRANCH_PREFIX)
        if is_merged(repo, batch_id):
            continue
        batch = read_manifest(repo, branch, batch_id)
        if batch:
            found.append(batch)
    return found


def open_batches_holding(repo: CaseRepo, case_ids: set[str]) -> dict[str, str]:
    """{case id: open batch id} for the given cases that an open batch already holds."""
    held: dict[str, str] = {}
    for batch in open_batches(repo):
        for case_id in batch.cases:
            if case_id in case_ids:
                held[case_id] = batch.id
    return held


def _select(repo: CaseRepo, pending: dict[str, Case], baseline: dict[str, Case],
            case_ids: list[str] | None, all_pending: bool) -> list[Case]:
    if case_ids:
        chosen = []
        for case_id in dict.fromkeys(case_ids):
            if case_id in baseline:
                raise UsageError(f"case {case_id} is already in the baseline")
            if case_id not in pending:
                raise NoSuchCase(f"no pending case {case_id!r} on {MAIN} (is it committed?)")
            chosen.append(pending[case_id])
        held = open_batches_holding(repo, {c.id for c in chosen})
        if held:
            case_id, batch_id = next(iter(held.items()))
            raise UsageError(f"case {case_id} is already in open batch {batch_id}")
        return chosen
    held = open_batches_holding(repo, set(pending))
    free = sorted((c for c in pending.values() if c.id not in held), key=lambda c: (c.created, c.id))
    return free if all_pending else free[: repo.verdict_config["batch"]["max_size"]]


def create_batch(repo: CaseRepo, case_ids: list[str] | None = None, title: str = "",
                 allow_small: bool = False, all_pending: bool = False) -> Batch:
    """Approve pending cases (the given ones, or the oldest up to max_size) as `batch/<id>`."""
    with repo.write_lock():
        if gitio.rev(repo.git, f"refs/heads/{MAIN}") is None:
            raise UsageError(f"the repository has no {MAIN} branch yet (run `straw init`)")
        loaded = repo.load_ref(MAIN)
        if loaded.issues:
            raise ValidationFailed(loaded.issues)
        pending = {c.id: c for c in loaded.split("pending")}
        baseline = {c.id: c for c in loaded.split("baseline")}
        bootstrap = all_pending and not baseline
        if all_pending and baseline:
            raise UsageError("--all is for a repository's first batch; main already has a baseline")
        chosen = _select(repo, pending, baseline, case_ids, all_pending)
        low, high = repo.verdict_config["batch"]["min_size"], repo.verdict_config["batch"]["max_size"]
        if not chosen:
            raise UsageError("no pending cases to batch (all are in open batches, or none exist)")
        if not bootstrap:
            if len(chosen) > high:
                raise UsageError(f"a batch holds at most {high} cases ([batch] max_size), not {len(chosen)}")
            if len(chosen) < low and not allow_small:
                raise UsageError(f"a batch needs at least {low} cases ([batch] min_size), only "
                                 f"{len(chosen)} given; pass --allow-small to approve fewer")
        conflicts = [i for i in checks.cross_issues(list(baseline.values()) + chosen)
                     if i.path in {c.path for c in chosen}]
        if conflicts:
            raise ValidationFailed(conflicts)
        batch = Batch(new_batch_id(), title or f"{len(chosen)} cases", [c.id for c in chosen],
                      repo.identity, now_iso(), bootstrap)
        # taken: an open branch, a merged batch whose branch is gone (its manifest is on main),
        # or a rejected one (its tag)
        while (gitio.rev(repo.git, f"refs/heads/{batch.branch}") or is_merged(repo, batch.id)
               or gitio.rev(repo.git, f"refs/tags/{REJECTED_PREFIX}{batch.id}")):
            batch = Batch(new_batch_id(), batch.title, batch.cases, batch.approver, batch.created,
                          bootstrap)
        schemas.check("batch", batch.manifest(), manifest_path(batch.id))
        files = gitio.ls_tree(repo.git, MAIN, cases.CASES_DIR)
        changes: dict[str, bytes | gitio.Blob | None] = {}
        for case in chosen:
            old = cases.case_path("pending", case.id)
            changes[old] = None
            changes[cases.case_path("baseline", case.id)] = gitio.Blob(files[old])
        manifest = json.dumps(batch.manifest(), indent=2, ensure_ascii=False) + "\n"
        changes[manifest_path(batch.id)] = manifest.encode("utf-8")
        message = (f"Batch {batch.id}: approve {len(chosen)} cases for the baseline\n\n"
                   f"{batch.title}\n\nStraw-Batch: {batch.id}\nApproved-by: {batch.approver}")
        gitio.commit_to_branch(repo.git, batch.branch, changes, message,
                               start=f"refs/heads/{MAIN}")
        return batch


def split_cases(repo: CaseRepo, batch_id: str | Batch) -> tuple[list[Case], list[Case]]:
    """(baseline, new) cases of a batch as its branch holds them: `new` is the manifest's cases.
    Pass the Batch when you have it: the branch is then read once."""
    batch = batch_id if isinstance(batch_id, Batch) else require_batch(repo, batch_id)
    loaded = repo.load_ref(batch.branch)
    if loaded.issues:  # named on the branch: the work tree may hold that file elsewhere, or fine
        raise ValidationFailed([Issue(f"{batch.branch}:{i.path}", i.pointer, i.message)
                                for i in loaded.issues])
    new_ids = set(batch.cases)
    in_baseline = loaded.split("baseline")
    new = [c for c in in_baseline if c.id in new_ids]
    missing = new_ids - {c.id for c in new}
    if missing:
        raise StrawError(f"{batch.branch}: manifest names cases not in cases/baseline: "
                         f"{', '.join(sorted(missing))}")
    return [c for c in in_baseline if c.id not in new_ids], new


# ---- review: diff -----------------------------------------------------------------


@dataclass
class CaseChange:
    kind: str  # added | changed | removed | foreign (a file that is not the batch's: the gate refuses)
    case_id: str
    case: dict[str, Any] | None
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, before, after)
    error: str | None = None  # why the case file cannot be read (`case` None), or its earlier one

    @property
    def shown_input(self) -> Any:
        """What a listing shows for the case: its input (text or chat turns), or why its file
        cannot be read."""
        if self.case is None and self.error:
            return f"(unreadable case file: {self.error})"
        return (self.case or {}).get("input", "")


def _fields(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    keys = list(dict.fromkeys([*cases.FIELD_ORDER, *before, *after]))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


def batch_diff(repo: CaseRepo, batch_id: str) -> list[CaseChange]:
    """What merging the batch would do to the baseline, case by case (vs the merge base with
    main, like a pull request): cases added (with field changes made since they were pending),
    baseline cases changed field by field, and baseline cases removed."""
    batch = require_batch(repo, batch_id)
    head = batch.branch if gitio.rev(repo.git, f"refs/heads/{batch.branch}") else MAIN
    base = gitio.run(repo.git, "merge-base", MAIN, head) if head != MAIN else None
    if base is None:  # merged and branch gone: compare the merge commit with its first parent
        raise UsageError(f"batch {batch.id} is merged and its branch is gone; see `straw log`")
    changes: list[CaseChange] = []

    unreadable: dict[str, str] = {}  # blob → why: a hostile file is shown as what it is

    def load(blob: str | None) -> dict[str, Any] | None:
        if blob is None:
            return None
        try:
            data = jsonio.strict_loads(gitio.read_blob(repo.git, blob))
        except jsonio.BadJSON as err:
            unreadable[blob] = str(err)
            return None
        if not isinstance(data, dict):
            unreadable[blob] = "not a JSON object"
            return None
        return data

    # one diff over cases/: an added baseline case's pending version at the base is the
    # matching deletion under cases/pending
    diff = gitio.diff_files(repo.git, base, head, cases.CASES_DIR)
    was_pending = {c.path: c.old for c in diff if c.status == "D"}
    for change in diff:
        if not change.path.startswith(f"{cases.CASES_DIR}/baseline/"):
            continue
        case_id = change.path.rsplit("/", 1)[-1].removesuffix(".json")
        if change.status == "A":
            after = load(change.new)
            before = load(was_pending.get(cases.case_path("pending", case_id)))
            changes.append(CaseChange("added", case_id, after,
                                      _fields(before, after) if before and after else [],
                                      unreadable.get(change.new or "")))
        elif change.status == "D":
            changes.append(CaseChange("removed", case_id, load(change.old), [],
                                      unreadable.get(change.old or "")))
        else:
            before, after = load(change.old), load(change.new)
            was_broken = unreadable.get(change.old or "")
            changes.append(CaseChange("changed", case_id, after,
                                      _fields(before, after) if before and after else [],
                                      unreadable.get(change.new or "")
                                      or (f"its earlier version: {was_broken}" if was_broken else None)))
    changes += [CaseChange("foreign", path, None) for path in foreign_changes(repo, batch)]
    return changes


# ---- reject, update ---------------------------------------------------------------------------


def reject_batch(repo: CaseRepo, batch_id: str, reason: str = "") -> str:
    """Archive the branch as tag `batch-rejected/<id>` (reason in the tag message) and delete the
    branch. Its cases were never moved on main, so they are still pending there: nothing is lost."""
    with repo.write_lock():
        batch = require_batch(repo, batch_id)
        if is_merged(repo, batch.id):
            raise UsageError(f"batch {batch.id} is already merged; its cases are baseline now")
        tag = f"{REJECTED_PREFIX}{batch.id}"
        message = f"Rejected by {repo.identity}: {reason or 'no reason given'}"
        gitio.run(repo.git, "tag", "-a", "-m", message, tag, f"refs/heads/{batch.branch}")
        gitio.run(repo.git, "branch", "-D", batch.branch)
        return tag


def update_batch(repo: CaseRepo, batch_id: str) -> str | None:
    """Merge main into the batch branch (after main moved on). Returns the new commit, or None
    when already up to date. Conflicts are reported by path and nothing is written."""
    with repo.write_lock():
        batch = require_batch(repo, batch_id)
        if is_merged(repo, batch.id):
            raise UsageError(f"batch {batch.id} is already merged; its cases are baseline now")
        head = gitio.rev(repo.git, f"refs/heads/{batch.branch}")
        main = gitio.rev(repo.git, f"refs/heads/{MAIN}")
        assert head and main
        if gitio.run(repo.git, "merge-base", main, head) == main:
            return None
        tree, conflicts = gitio.merge_tree(repo.git, head, main)
        if tree is None:
            raise StrawError(f"{batch.branch}: merging {MAIN} conflicts in {', '.join(conflicts)}; "
                             f"resolve by hand (`git switch {batch.branch}; git merge {MAIN}`)")
        # a case file broken on main, which the merge would carry into the batch (one the branch
        # holds broken already is the branch's own: the tune names it on the branch)
        had = {(i.path, i.message) for i in repo.load_ref(head).issues}
        broken = [i for i in cases.load_ref(repo.git, tree, cache_root=repo.root).issues
                  if (i.path, i.message) not in had]
        if broken:
            more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
            raise StrawError(f"{batch.branch}: merging {MAIN} would bring {broken[0]}{more}; "
                             f"fix it on {MAIN} first (`straw validate`), then update again")
        commit = gitio.commit_tree(repo.git, tree, [head, main],
                                   f"Update batch {batch.id} from {MAIN}\n\nStraw-Batch: {batch.id}")
        gitio.advance_branch(repo.git, batch.branch, commit, head)
        return commit


def push_batch(repo: CaseRepo, batch_id: str, remote: str = "origin") -> str:
    batch = require_batch(repo, batch_id)
    if remote not in [r.name for r in repo.git.remotes]:
        raise UsageError(f"no remote {remote!r} (add one with `git remote add {remote} URL`)")
    gitio.run(repo.git, "push", "--quiet", remote, f"refs/heads/{batch.branch}:refs/heads/{batch.branch}")
    return f"{remote}/{batch.branch}"
