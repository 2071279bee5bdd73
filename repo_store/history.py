"""The baseline's history, read back from git: `straw log` (one line per merged batch, from
main's first-parent history and the merge trailers) and one case's history. The audit of that
history, `straw verify`, is audit.py."""

from __future__ import annotations

from dataclasses import dataclass

from repo_store import gitio, jsonio
from repo_store.repo import MAIN, CaseRepo

SEP, REC, END = "\x1f", "\x1e", "\x1d"
LOG_FORMAT = f"{REC}%H{SEP}%P{SEP}%aI{SEP}%an{SEP}%s{SEP}%(trailers:unfold,only){SEP}%b{END}"


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: list[str]
    date: str
    author: str
    subject: str
    trailers: dict[str, str]
    files: list[str]
    body: str = ""  # the message after the subject, trailers included

    @property
    def first_paragraph(self) -> str:
        """The body's first paragraph, unless it is the trailers (a rollback's reason)."""
        first = self.body.strip().split("\n\n", 1)[0].strip()
        return "" if first and all(": " in line for line in first.splitlines()) and \
            first.splitlines()[0].partition(": ")[0] in self.trailers else first


def log_commits(repo: CaseRepo, tip: str, paths: tuple[str, ...] = ()) -> list[Commit]:
    """Every first-parent commit of `tip` (touching `paths`, when given), newest first, with the
    files each changed against its first parent."""
    return _log(repo, paths, name_only=True, tip=tip)


def _log(repo: CaseRepo, paths: tuple[str, ...], name_only: bool = False,
         tip: str = f"refs/heads/{MAIN}") -> list[Commit]:
    """main's first-parent commits touching `paths`, newest first (with the files they changed
    against their first parent when `name_only`)."""
    # the git CLI, not GitPython: `straw log CASE` then never imports it (~80 ms)
    if gitio.rev(repo.root, tip) is None:
        return []
    extra = ["--name-only", "--diff-merges=first-parent"] if name_only else []
    out = gitio.run(repo.root, "log", "--first-parent", f"--format={LOG_FORMAT}", *extra,
                    tip, "--", *paths)
    commits = []
    for chunk in out.split(REC)[1:]:
        head, _, files = chunk.partition(END)
        sha, parents, date, author, subject, trailer_text, body = head.split(SEP, 6)
        trailers = {}
        for line in trailer_text.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key and " " not in key:
                trailers[key] = value.strip()
        commits.append(Commit(sha, parents.split(), date, author, subject, trailers,
                              [f for f in files.splitlines() if f], body))
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
    reason: str | None = None  # a rollback's why, from its commit message

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
            (c.first_paragraph or None) if kind == "rollback" else None,
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
        changed = f": changed {shown}" if shown else ""
        return f"{self.commit[:8]} {self.date[:10]} {self.subject!r}{changed}: {self.why}".replace("  ", " ")


def _object(repo: CaseRepo, name: str) -> bytes | None:
    try:
        return gitio.read_blob(repo.git, name)
    except Exception:  # noqa: BLE001 - a missing path reads as "no such object"
        return None
