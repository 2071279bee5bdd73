"""`straw verify`: the audit of everything that can change the contract, on the first-parent
history of main (or, where no local main exists, of the checked-out commit or `--ref`):

- every change of `cases/baseline/` is the demo bootstrap (the first change only) or a straw batch
  merge whose report, read from the merged branch tip, passes the report schema, has exactly the
  tip's cases as rows (pass recomputed from each prediction), passes the thresholds committed on
  main before the merge, matches the merged baseline, and whose merge changed nothing but the
  batch's own files and models.lock; no batch id is merged twice;
- every change of `models.lock` is a gated merge promoting the model its report names, a
  rollback to a model promoted before (a score it records must be one of that commit's baseline:
  how many pass, only running the model tells), or the bootstrap (the first model);
- every change of `[gate]`, `[model]` or `[train]` in straw.toml is listed; lowering a gate
  threshold without an `Approved-by:` trailer (`straw config set` writes one) is a violation;
- with `[gate] require_signed = true` before a commit, every batch merge, straw.toml change and
  allowed_signers change must carry a signature that `git verify-commit` accepts against the
  allowed_signers file as committed before it (a commit cannot add its own key);
- history rewritten since the last audit (the last audited tip, kept in the git directory, is no
  longer an ancestor) and a shallow clone (history not read) are said, never passed over.

Batch merges that passed once are remembered by commit id (their verdict cannot change under the
same rules) so a later audit reads only the reports merged since; `--full` reads all again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repo_store import cases, config, gitio, lockfile
from repo_store.batch_branches import manifest_path, read_manifest
from repo_store.errors import StrawError, UsageError
from repo_store.gate import allowed_paths, branch_cases, check_rows
from repo_store.history import Commit, Violation, log_commits
from repo_store.repo import MAIN, CaseRepo
from repo_store.reports import InvalidReport, parse_report, report_path

ALLOWED_SIGNERS = "allowed_signers"  # ssh allowed-signers file, committed at the repository root
VERIFY_RULES = 3  # bump when the checks change: verdicts remembered under older rules are dropped
THRESHOLDS = ("baseline_threshold", "new_threshold")


@dataclass(frozen=True)
class SettingChange:
    commit: str
    date: str
    key: str
    old: Any
    new: Any
    approved_by: str | None

    def line(self) -> str:
        who = f", approved by {self.approved_by}" if self.approved_by else ""
        return f"{self.commit[:8]} {self.date[:10]} {self.key}: {self.old!r} -> {self.new!r}{who}"


@dataclass
class Audit:
    audited: str  # what was read, in words: "main", "HEAD (detached; no local main)", a --ref
    tip: str
    commits: int = 0  # first-parent commits read
    violations: list[Violation] = field(default_factory=list)
    settings: list[SettingChange] = field(default_factory=list)


class PassedMerges:
    """Batch merges already found good, kept in the git directory (no commit can write there)."""

    def __init__(self, repo: CaseRepo, use: bool = True) -> None:
        self.path = cases.cache_dir(repo.root) / f"verified-commits-v{VERIFY_RULES}.txt"
        try:
            text = self.path.read_text("ascii") if use else ""
        except (OSError, UnicodeDecodeError):
            text = ""
        self.known = set(text.split())
        self.added: list[str] = []

    def __contains__(self, sha: str) -> bool:
        return sha in self.known

    def add(self, sha: str) -> None:
        self.added.append(sha)

    def save(self) -> None:
        if self.added:
            try:  # a record of work done: losing it only costs a slower audit
                cases.atomic_write(self.path, "".join(f"{s}\n" for s in sorted(self.known | set(self.added)))
                                   .encode("ascii"), durable=False)
            except OSError:
                pass


def _target(repo: CaseRepo, ref: str | None) -> tuple[str, str]:
    """(what is audited in words, its commit id)."""
    if ref:
        sha = gitio.rev(repo.git, f"{ref}^{{commit}}")
        if sha is None:
            raise UsageError(f"no such commit or branch {ref!r}")
        return ref, sha
    sha = gitio.rev(repo.git, f"refs/heads/{MAIN}")
    if sha:
        return MAIN, sha
    head = gitio.rev(repo.git, "HEAD^{commit}")
    if head is None:
        raise UsageError("nothing to audit: the repository has no commits")
    branch = repo.head_branch
    return (f"HEAD ({branch}; no local {MAIN})" if branch else f"HEAD (detached; no local {MAIN})"), head


def _tip_record(repo: CaseRepo, audited: str) -> Path:
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in audited.split(" ")[0])
    return gitio.common_dir(repo.git_dir) / "straw" / f"audited-{name}"


class _State:
    def __init__(self, repo: CaseRepo) -> None:
        self.repo = repo
        self.promoted: set[str] = set()
        self.merged: dict[str, str] = {}  # batch id -> merge commit
        self.baseline_changed = False
        self._configs: dict[str, config.Config | str] = {}

    def config_at(self, commit: str) -> config.Config | str:
        """main's settings at `commit` (a string: why they could not be read)."""
        if commit not in self._configs:
            try:
                self._configs[commit] = config.committed(self.repo.git, commit)
            except StrawError as err:
                self._configs[commit] = str(err)
        return self._configs[commit]


def _lock_at(repo: CaseRepo, commit: str) -> dict[str, Any] | str | None:
    try:
        return lockfile.read_lock(repo, commit)
    except StrawError as err:
        return f"unreadable {lockfile.LOCK_FILE}: {err}"


def _batch_merge(state: _State, c: Commit, passed: PassedMerges) -> str | None:
    """Why a batch merge did not come through the gate (None: it did)."""
    repo = state.repo
    batch_id = c.trailers["Straw-Batch"]
    if batch_id in state.merged:
        return f"batch {batch_id} merged twice (first in {state.merged[batch_id][:8]})"
    state.merged[batch_id] = c.sha
    tip, first_parent = c.parents[1], c.parents[0]
    if c.sha in passed:  # found good before under these rules: only what later commits rely on
        lock = _lock_at(repo, c.sha)
        if isinstance(lock, dict) and lockfile.LOCK_FILE in c.files:
            state.promoted.add(lock["model"])
        return None
    try:
        batch = read_manifest(repo, tip, batch_id)
    except (StrawError, ValueError) as err:
        return f"batch {batch_id}'s {manifest_path(batch_id)} is unreadable ({err})"
    if batch is None:
        return f"batch {batch_id} was merged without its {manifest_path(batch_id)}"
    foreign = [f for f in c.files if f not in allowed_paths(batch) | {lockfile.LOCK_FILE}]
    if foreign:
        return f"the merge of batch {batch_id} also changed {foreign[0]}, which a batch may not change"
    where = f"{tip[:8]}:{report_path(batch_id)}"
    raw = gitio.read_file(repo.git, tip, report_path(batch_id))
    if raw is None:
        return f"batch {batch_id} was merged without a report"
    try:
        report = parse_report(raw, where)
    except InvalidReport as err:
        return f"batch {batch_id}: {err}"
    lock = _lock_at(repo, c.sha)
    if isinstance(lock, dict) and lockfile.LOCK_FILE in c.files:
        if lock["model"] != report["model"]["hash"]:
            return (f"the merge of batch {batch_id} promotes {lock['model'][:19]}, but its report "
                    f"names {report['model']['hash'][:19]}")
        state.promoted.add(lock["model"])
    if report["batch"] != batch_id:
        return f"batch {batch_id} was merged with the report of batch {report['batch']!r}"
    if report["cases_tree"] != gitio.tree_of(repo.git, tip, "cases"):
        return f"batch {batch_id}'s report does not match the merged cases (stale report)"
    if gitio.tree_of(repo.git, c.sha, "cases/baseline") != gitio.tree_of(repo.git, tip, "cases/baseline"):
        return f"the merge's baseline differs from what batch {batch_id}'s report validated"
    try:
        score = check_rows(report, branch_cases(repo, batch, tip), where)
    except InvalidReport as err:
        return f"batch {batch_id}: {err}"
    except StrawError as err:
        return f"batch {batch_id}: its cases are unreadable ({err})"
    settings = state.config_at(first_parent)
    if isinstance(settings, str):
        return f"straw.toml before the merge of batch {batch_id} is unreadable: {settings}"
    gate = settings["gate"]
    for split, key in (("baseline", "baseline_threshold"), ("new", "new_threshold")):
        s = score[split]
        if (s["passed"] / s["total"] if s["total"] else 1.0) < gate[key]:
            return (f"batch {batch_id} was merged with a failing report: {split} "
                    f"{s['passed']}/{s['total']} is below {MAIN}'s {key} {gate[key]}")
    passed.add(c.sha)
    return None


def _rollback_score(state: _State, c: Commit, lock: dict[str, Any]) -> str | None:
    """A rollback may record the score its model was measured at on the baseline of that commit
    (`straw rollback` runs it first). What can be checked without running the model: the score
    is one score (the lock's and the trailer's agree), of that commit's baseline, and possible.
    Whether the model does pass that many only running it tells (`straw monitor` does)."""
    score = lock.get("baseline")
    trailer = c.trailers.get("Straw-Baseline")
    if score is None and trailer is None:
        return None
    claimed = f"{score['passed']}/{score['total']}" if isinstance(score, dict) else None
    if claimed != trailer:
        return (f"rollback {c.sha[:8]}: its Straw-Baseline trailer ({trailer or 'none'}) and "
                f"{lockfile.LOCK_FILE}'s baseline ({claimed or 'none'}) disagree")
    assert isinstance(score, dict)
    total = sum(p.endswith(".json") for p in gitio.ls_tree(state.repo.git, c.sha,
                                                             f"{cases.CASES_DIR}/baseline"))
    if score["total"] != total or not 0 <= score["passed"] <= total:
        return (f"rollback {c.sha[:8]} claims {claimed} baseline cases pass, but main had {total} "
                f"baseline cases then")
    return None


def _lock_change(state: _State, c: Commit) -> str | None:
    """Why a models.lock change outside a batch merge is not allowed (None: it is)."""
    lock = _lock_at(state.repo, c.sha)
    if lock is None:
        return f"{lockfile.LOCK_FILE} was removed"
    if isinstance(lock, str):
        return lock
    model = lock["model"]
    if model in state.promoted:  # a rollback to a model a gated merge (or the bootstrap) promoted
        return _rollback_score(state, c, lock)
    if "Straw-Bootstrap" in c.trailers and not state.promoted and lock.get("reason") == "bootstrap":
        state.promoted.add(model)  # the first production model: nothing was promoted before it
        return None
    return (f"{lockfile.LOCK_FILE} set to model {model[:19]}, which no gated merge promoted "
            f"(nor the bootstrap)")


def _settings_change(state: _State, c: Commit, audit: Audit) -> str | None:
    before = state.config_at(c.parents[0]) if c.parents else config.DEFAULTS
    after = state.config_at(c.sha)
    if isinstance(after, str):
        return f"straw.toml is unreadable: {after}"
    if isinstance(before, str):
        return None  # the commit that broke it was named already
    approved = c.trailers.get("Approved-by")
    lowered = []
    for section in ("gate", "model", "train"):
        for key in sorted(set(before[section]) | set(after[section])):
            old, new = before[section].get(key), after[section].get(key)
            if old != new:
                audit.settings.append(SettingChange(c.sha, c.date, f"{section}.{key}", old, new, approved))
                if section == "gate" and key in THRESHOLDS and isinstance(old, int | float) \
                        and isinstance(new, int | float) and new < old:
                    lowered.append(f"gate.{key} {old} -> {new}")
    if lowered and not approved:
        return (f"lowers {', '.join(lowered)} without an Approved-by trailer (use `straw config set`)")
    return None


def _signature(state: _State, c: Commit) -> str | None:
    """Why a commit that main required to be signed is not signed acceptably (None: it is)."""
    if not c.parents:
        return None
    settings = state.config_at(c.parents[0])
    if isinstance(settings, str) or not settings["gate"].get("require_signed"):
        return None
    signers = gitio.read_file(state.repo.git, c.parents[0], ALLOWED_SIGNERS)
    if not signers:
        return f"main requires signed commits, but has no {ALLOWED_SIGNERS} file to check them with"
    why = gitio.verify_commit(state.repo.git, c.sha, signers)
    return None if why is None else f"not signed by a key in {ALLOWED_SIGNERS} ({why[:120]})"


def audit(repo: CaseRepo, ref: str | None = None, full: bool = False) -> Audit:
    audited, tip = _target(repo, ref)
    result = Audit(audited, tip)
    record = _tip_record(repo, audited)
    try:
        last = record.read_text("ascii").strip()
    except OSError:
        last = ""
    if last and gitio.rev(repo.git, last) and not gitio.is_ancestor(repo.git, last, tip):
        result.violations.append(Violation(tip, "", f"{audited} at {tip[:8]}", [],
                                           f"history rewritten: {last[:8]}, audited before, is no "
                                           f"longer in {audited}'s history"))
    elif last and not gitio.rev(repo.git, last):
        result.violations.append(Violation(tip, "", f"{audited} at {tip[:8]}", [],
                                           f"history rewritten: {last[:8]}, audited before, no longer "
                                           f"exists"))
    shallow = gitio.run(repo.git, "rev-parse", "--is-shallow-repository") == "true"
    state = _State(repo)
    passed = PassedMerges(repo, use=not full)
    commits = list(reversed(log_commits(repo, tip)))
    result.commits = len(commits)
    for c in commits:
        baseline = any(f.startswith("cases/baseline/") for f in c.files)
        why: str | None = None
        if len(c.parents) > 1 and c.trailers.get("Straw-Batch"):
            why = _batch_merge(state, c, passed)
        elif baseline:
            if "Straw-Bootstrap" in c.trailers and not state.baseline_changed:
                why = None
            elif "Straw-Bootstrap" in c.trailers:
                why = "a bootstrap commit is accepted only as the baseline's first change"
            else:
                why = "not a straw batch merge (direct change of the baseline)"
        elif lockfile.LOCK_FILE in c.files:
            why = _lock_change(state, c)
        if why is None and config.CONFIG_FILE in c.files:
            why = _settings_change(state, c, result)
        is_merge = len(c.parents) > 1 and bool(c.trailers.get("Straw-Batch"))
        if why is None and (is_merge or config.CONFIG_FILE in c.files or ALLOWED_SIGNERS in c.files):
            why = _signature(state, c)
        state.baseline_changed |= baseline
        if why:
            result.violations.append(Violation(c.sha, c.date, c.subject, c.files, why))
    if shallow:
        result.violations.append(Violation(tip, "", f"{audited} at {tip[:8]}", [],
                                           "shallow clone: the history before its oldest commit "
                                           "was not read (`git fetch --unshallow`)"))
    passed.save()
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        cases.atomic_write(record, f"{tip}\n".encode("ascii"), durable=False)
    except OSError:
        pass
    return result


def verify_history(repo: CaseRepo, full: bool = False, ref: str | None = None) -> list[Violation]:
    return audit(repo, ref, full).violations
