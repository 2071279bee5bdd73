"""The baseline's history, read back from git: `straw log` (one line per merged batch, from
main's first-parent history and the merge trailers), one case's history, and `straw verify`,
the audit that every baseline change on main came through a passing, matching report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from repo_store import cases, gitio, jsonio
from repo_store.repo import MAIN, CaseRepo

if TYPE_CHECKING:
    from concurrent.futures import Future

SEP, REC, END = "\x1f", "\x1e", "\x1d"
LOG_FORMAT = f"{REC}%H{SEP}%P{SEP}%aI{SEP}%an{SEP}%s{SEP}%(trailers:unfold,only){END}"


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: list[str]
    date: str
    author: str
    subject: str
    trailers: dict[str, str]
    files: list[str]


def _log(repo: CaseRepo, paths: tuple[str, ...], name_only: bool = False) -> list[Commit]:
    """main's first-parent commits touching `paths`, newest first (with the files they changed
    against their first parent when `name_only`)."""
    # the git CLI, not GitPython: `straw log CASE` then never imports it (~80 ms)
    if gitio.rev(repo.root, f"refs/heads/{MAIN}") is None:
        return []
    extra = ["--name-only", "--diff-merges=first-parent"] if name_only else []
    out = gitio.run(repo.root, "log", "--first-parent", f"--format={LOG_FORMAT}", *extra,
                     f"refs/heads/{MAIN}", "--", *paths)
    commits = []
    for chunk in out.split(REC)[1:]:
        head, _, files = chunk.partition(END)
        sha, parents, date, author, subject, trailer_text = head.split(SEP, 5)
        trailers = {}
        for line in trailer_text.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key and " " not in key:
                trailers[key] = value.strip()
        commits.append(Commit(sha, parents.split(), date, author, subject, trailers,
                              [f for f in files.splitlines() if f]))
    return commits


@dataclass(frozen=True)
class LogEntry:
    commit: str
    date: str
    kind: str  # merge | bootstrap | rollback
    batch: str | None
    cases: str
    model: str | None
    baseline: str | None
    new: str | None
    approver: str | None
    subject: str
    bwt: float | None = None  # backward transfer recorded in the merged report

    def line(self) -> str:
        model = (self.model or "-").removeprefix("sha256:")[:12]
        bwt = f"{self.bwt:+.3f}" if self.bwt is not None else "-"
        return (f"{self.date[:10]} {self.commit[:8]} {self.kind:<9} {self.batch or '-':<18} "
                f"+{self.cases:<4} model {model:<12} baseline {self.baseline or '-':<9} "
                f"new {self.new or '-':<7} bwt {bwt:<6} {self.approver or ''}").rstrip()


def baseline_log(repo: CaseRepo) -> list[LogEntry]:
    """One entry per change of the baseline or the production model, newest first."""
    entries = []
    for c in _log(repo, paths=("cases/baseline", "models.lock")):
        t = c.trailers
        if "Straw-Bootstrap" in t:
            kind = "bootstrap"
        elif "Straw-Rollback" in t:
            kind = "rollback"
        elif "Straw-Batch" in t and len(c.parents) > 1:
            kind = "merge"
        else:
            kind = "direct"
        bwt = None
        if kind == "merge" and "Straw-BWT" in t:  # merges since the trailer: no report to read
            bwt = _float_or_none(t["Straw-BWT"])
        elif kind == "merge":
            raw = _object(repo, f"{c.sha}:reports/{t['Straw-Batch']}.json")
            bwt = _report_bwt(raw)
        entries.append(LogEntry(
            c.sha, c.date, kind, t.get("Straw-Batch"),
            t.get("Straw-Cases", t.get("Straw-Baseline-Cases", "0")),
            t.get("Straw-Model"), t.get("Straw-Baseline"), t.get("Straw-New"),
            t.get("Approved-by") or t.get("Rolled-back-by"), c.subject, bwt,
        ))
    return entries


def _report_bwt(raw: bytes | None) -> float | None:
    """The backward transfer a merged report recorded (None: no report, or not one straw wrote)."""
    try:
        report = jsonio.loads(raw) if raw else None
    except ValueError:
        return None
    value = report.get("bwt") if isinstance(report, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "-": the report had no backward transfer
        return None


@dataclass(frozen=True)
class CaseEvent:
    commit: str
    date: str
    author: str
    subject: str
    where: str  # pending | baseline | removed


def case_log(repo: CaseRepo, case_id: str) -> list[CaseEvent]:
    """A case's history on main, newest first: added to pending, edited, merged into baseline."""
    paths = (f"cases/pending/{case_id}.json", f"cases/baseline/{case_id}.json")
    events = []
    for c in _log(repo, paths=paths, name_only=True):
        where = "baseline" if any("baseline" in f for f in c.files) else "pending"
        events.append(CaseEvent(c.sha, c.date, c.author, c.subject, where))
    return events


@dataclass(frozen=True)
class Violation:
    commit: str
    date: str
    subject: str
    changed: list[str]
    why: str

    def line(self) -> str:
        more = len(self.changed) - 3
        shown = ", ".join(self.changed[:3]) + (f" (+{more})" if more > 0 else "")
        return f"{self.commit[:8]} {self.date[:10]} {self.subject!r}: changed {shown}: {self.why}"


def _object(repo: CaseRepo, name: str) -> bytes | None:
    try:
        return gitio.read_blob(repo.git, name)
    except Exception:  # noqa: BLE001 - a missing path reads as "no such object"
        return None


VERIFY_RULES = 1  # bump when the checks below change: verdicts cached under older rules are dropped


class PassedMerges:
    """Baseline-changing commits already found to pass `verify`, in the git directory
    (cases.cache_dir: a pushed commit cannot vouch for itself). A merge's id names the merge,
    its tree and its second parent (so also the report it was merged with): its verdict cannot
    change under the same rules. An audit then reads only the reports merged since the last one;
    reading and parsing 500 reports of 10,000 rows is seconds. Failures and bootstraps are never
    cached; `--full` ignores the file."""

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
        if not self.added:
            return
        try:  # a cache: no fsync, a lost write only costs a slower audit
            cases.atomic_write(self.path, "".join(f"{s}\n" for s in sorted(self.known | set(self.added)))
                               .encode("ascii"), durable=False)
        except OSError:
            pass


REPORTS_PER_READ = 25  # merged reports per `git cat-file --batch` run (~1 MB each at 10,000 cases)


def verify_history(repo: CaseRepo, full: bool = False) -> list[Violation]:
    """Every first-parent commit of main that changed cases/baseline/ must be the demo bootstrap
    (first baseline change only) or a straw merge whose report passed and matched its tree.
    Commits that passed an earlier audit are not read again unless `full`."""
    from concurrent.futures import ThreadPoolExecutor

    violations = []
    passed = PassedMerges(repo, use=not full)
    todo = []
    for index, c in enumerate(reversed(_log(repo, paths=("cases/baseline",), name_only=True))):
        changed = [f for f in c.files if f.startswith("cases/baseline/") and f.endswith(".json")]
        if changed and c.sha not in passed:
            todo.append((c, changed, index == 0))
    chunks = [todo[i:i + REPORTS_PER_READ] for i in range(0, len(todo), REPORTS_PER_READ)]
    # the next chunk's reports come through git's pipe while this one is parsed (git and the
    # pipe run outside the GIL): reading 500 reports otherwise adds ~1 s to parsing them
    with ThreadPoolExecutor(max_workers=1) as reader:
        def read(k: int) -> Future[dict[str, bytes | None]]:
            return reader.submit(_merged_reports, repo, [c for c, _, _ in chunks[k]])

        ahead = read(0) if chunks else None
        for k, chunk in enumerate(chunks):
            merged = ahead.result()  # type: ignore[union-attr]
            ahead = read(k + 1) if k + 1 < len(chunks) else None
            for c, changed, first in chunk:
                why = _violation(repo, c, first, merged.get(c.sha))
                if why:
                    violations.append(Violation(c.sha, c.date, c.subject, changed, why))
                elif "Straw-Bootstrap" not in c.trailers:
                    # a bootstrap's verdict rests on being first, which a shallow clone can fake
                    passed.add(c.sha)
    passed.save()
    return violations


def _merged_reports(repo: CaseRepo, commits: list[Commit]) -> dict[str, bytes | None]:
    """{merge commit: the report on its batch branch's tip (None: no such file)}, read in one go."""
    names = {c.sha: f"{c.parents[1]}:reports/{c.trailers['Straw-Batch']}.json" for c in commits
             if len(c.parents) > 1 and c.trailers.get("Straw-Batch")}
    found = gitio.read_objects(repo.git, list(dict.fromkeys(names.values())))
    return {sha: found[name] for sha, name in names.items()}


def _violation(repo: CaseRepo, c: Commit, first: bool, raw: bytes | None) -> str | None:
    """Why a commit that changed the baseline did not come through the gate (None: it did).
    `raw`: the report its batch branch held when merged."""
    if "Straw-Bootstrap" in c.trailers:
        return None if first else "a bootstrap commit is accepted only as the baseline's first change"
    batch = c.trailers.get("Straw-Batch")
    if len(c.parents) < 2 or not batch:
        return "not a straw batch merge (direct change of the baseline)"
    tip = c.parents[1]
    if raw is None:
        return f"batch {batch} was merged without a report"
    try:
        report = jsonio.loads(raw)
    except ValueError:  # not UTF-8 or not JSON
        return f"batch {batch} was merged with a report that is not JSON"
    summary = report.get("summary") if isinstance(report, dict) else None
    if not isinstance(summary, dict) or not summary.get("passed"):
        return f"batch {batch} was merged with a failing report"
    if report.get("cases_tree") != gitio.tree_of(repo.git, tip, "cases"):
        return f"batch {batch}'s report does not match the merged cases (stale report)"
    if gitio.tree_of(repo.git, c.sha, "cases/baseline") != gitio.tree_of(repo.git, tip, "cases/baseline"):
        return f"the merge's baseline differs from what batch {batch}'s report validated"
    return None
