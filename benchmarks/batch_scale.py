"""Batch operations at scale: `straw batch create`, `batch diff`, `gate` and `merge` on a generated
repository of 10,000 cases, and `straw verify` / `straw log CASE` on a second one whose main holds
500 merged batches; each straw command timed as a process (start-up included, output to
/dev/null) beside the raw git command line doing comparable work in the same run (median of N runs).

    .venv/bin/python benchmarks/batch_scale.py [--cases 10000] [--merges 500] [--runs 5] [--keep DIR]

Targets (issue 3): `straw batch create` of 20 cases ≤ 1 s; `straw batch diff ID` ≤ 0.5 s;
`straw gate ID` ≤ 0.5 s; `straw merge ID` ≤ 1 s; `straw verify` over 500 merged batches ≤ 5 s;
`straw log CASE` ≤ 0.5 s on a repository with many commits. The targets are absolute: the git
column is there to show what the same work costs the git CLI, not as a ratio target.

Runs that consume state get untimed set-up around them: each `batch create` run's branch is
deleted afterwards (so every run approves the same 20 pending cases), and each `merge` run gets a
freshly created batch with a passing report committed on its branch. The history repository is
built in-process with create_batch, merge_batch and reports of one row per case (as the engine
writes them) whose bytes match reports.encode; building it takes about half of the ~6 minutes.
`batch create` is timed with no cache (every case on main read and schema-checked) and with the
blob cache an earlier read of main left; `verify` with --full (every merged report read) and
after an earlier audit (only commits not yet found good are read)."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Result, Row, print_table, run_rows, timed  # noqa: E402
from benchmarks.repo_scale import ensure_git_identity, git, make_repo, straw_exe  # noqa: E402
from repo_store import batches, gitio, lockfile, matching, merge, reports  # noqa: E402
from repo_store.cases import Case, CaseSet, cache_dir, case_path  # noqa: E402
from repo_store.flips import flips  # noqa: E402
from repo_store.ids import now_iso  # noqa: E402
from repo_store.repo import MAIN, CaseRepo, open_case_repo  # noqa: E402

CREATE_NOTE = ("git switch -c + git mv of the same 20 files + add a manifest + commit + switch back "
               "to main (work tree of {n:,} case files)")
MODEL = "sha256:" + "ab" * 32  # the rule "model" of tests/report_helpers.py
HISTORY_BATCH = 10  # cases per merged batch in the history repository ([batch] min_size)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _check(proc: subprocess.CompletedProcess[bytes], args: Sequence[str]) -> None:
    if proc.returncode != 0:
        shown = " ".join(args) if len(" ".join(args)) < 300 else " ".join(args)[:300] + "…"
        said = proc.stderr.decode(errors="replace") + (proc.stdout or b"").decode(errors="replace")
        raise SystemExit(f"`{shown}` failed (exit {proc.returncode}):\n{said}")


def quiet(args: Sequence[str], cwd: Path) -> None:
    """Run a command with its output to /dev/null; a non-zero exit stops the benchmark."""
    proc = subprocess.run(list(args), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _check(proc, args)


def output(args: Sequence[str], cwd: Path) -> str:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True)
    _check(proc, args)
    return proc.stdout.decode()


# ---- reports and batches --------------------------------------------------------------------------


def passing_report(repo: CaseRepo, batch_id: str, baseline: Sequence[Case],
                   new: Sequence[Case], bench_model: BenchModel | None = None) -> dict[str, Any]:
    """tests/report_helpers.py's `rule_report` with its memorizer (a 'model' that predicts every
    case's expected value): real per-case rows for the baseline and the new cases, a passing
    summary, and the branch's cases tree, as the engine writes them."""
    rows = []
    score = {"baseline": [0, 0], "new": [0, 0]}
    made = bench_model.predict([*baseline, *new]) if bench_model else {}
    for split, group in (("baseline", baseline), ("new", new)):
        for case in group:
            predicted = made[case.id] if bench_model else str(case.expected)
            ok = matching.passes(case.match, case.expected, predicted)
            rows.append({"id": case.id, "split": split, "expected": case.expected,
                         "predicted": predicted, "pass": ok})
            score[split][0] += ok
            score[split][1] += 1
    summary: dict[str, Any] = {k: {"passed": v[0], "total": v[1]} for k, v in score.items()}
    summary["passed"] = all(v[0] == v[1] for v in score.values())
    model = {"hash": bench_model.hash, "base": "tiny", "backend": "classifier"} if bench_model \
        else {"hash": MODEL, "base": "rule", "backend": "rule"}
    # once main names a production model, a tune records flips against it: here production is
    # the same rule or model, so it answered the same (no flips, no blame)
    lock = lockfile.read_lock(repo)
    found = flips(lock["model"], [r for r in rows if r["split"] == "baseline"], rows) if lock \
        else None
    return {
        "kind": "tune", "batch": batch_id, "created": now_iso(),
        "model": model,
        "hyperparameters": {}, "seed": 0,
        "cases_tree": repo.cases_tree(batches.branch_name(batch_id)),
        "main_baseline_tree": gitio.tree_of(repo.git, MAIN, "cases/baseline"),
        "rounds": [{"round": 1, "loss": 0.0, "baseline_pass": 1.0, "new_pass": 1.0, "seconds": 0.0}],
        "best_round": 1, "cases": sorted(rows, key=lambda r: r["pass"]), "summary": summary,
        "previous_model": lock["model"] if lock else None, "blame": [], "bwt": None,
        "warnings": [], "seconds": 0.0, **({"flips": found} if found else {}),
    }


class BenchModel:
    """A real tiny classifier (random weights) saved in the repository's model store, so that
    `straw gate` finds it and `straw merge` reruns it on every case of the branch, as with any
    tuned model. It fails most cases: the repository's main commits thresholds of 0."""

    def __init__(self, root: Path) -> None:
        from tuning import backends
        from tuning.backends.base import Example, settings_from_config
        from tuning.model_store import ModelStore
        from tuning.testing import build_tiny_classifier

        repo = open_case_repo(root)
        if repo.verdict_config["gate"]["baseline_threshold"] != 0.0:
            from repo_store.config_set import set_value

            set_value(repo, "gate.baseline_threshold", "0.0")
            set_value(repo, "gate.new_threshold", "0.0")
            repo = open_case_repo(root)
        tiny = build_tiny_classifier(Path(tempfile.mkdtemp(prefix="straw-tiny-")) / "model")
        model_s, train_s = settings_from_config(repo.verdict_config)
        model_s.base, model_s.max_length = str(tiny), 32
        self.backend = backends.create(model_s, train_s)
        self.backend.load(tiny)
        self.backend.prepare([Example(c.input, str(c.expected), c.id) for c in repo.load().cases])
        self.hash = ModelStore(repo.model_store).save(
            self.backend, {"base": str(tiny), "created": now_iso(), "max_length": 32})

    def predict(self, cases: Sequence[Case]) -> dict[str, str]:
        preds = self.backend.predict([c.input for c in cases])
        return {c.id: p.text for c, p in zip(cases, preds, strict=True)}


def gated_batch(root: Path, bench_model: BenchModel | None = None) -> str:
    """A new batch of the oldest free pending cases with a passing report on its branch (what
    `straw batch create` + `straw tune` leave); returns its id."""
    repo = open_case_repo(root)  # fresh: straw processes moved refs since the last one
    batch = batches.create_batch(repo, title="benchmark batch")
    baseline, new = batches.split_cases(repo, batch.id)
    report = passing_report(repo, batch.id, baseline, new, bench_model)
    reports.write_report(repo, batch.id, report)
    lock = lockfile.read_lock(repo)
    if lock and bench_model:  # the tune's predictions of the production model, in its cache
        from tuning.backends.base import Prediction
        from tuning.cases_io import PredictionCache, input_key
        from tuning.model_store import ModelStore

        answered = {r["id"]: r["predicted"] for r in report["cases"]}
        PredictionCache(ModelStore(repo.model_store), lock["model"]).put(
            {input_key(c, 32): Prediction(answered[c.id]) for c in baseline})
    return batch.id


class _MainInMemory(CaseRepo):
    """A CaseRepo whose main cases are parsed once and then kept current in memory while the
    history is built, so that each real `create_batch` does not re-read 10,000 files from git
    (the build's cost, not a measured one). Everything written goes through the library."""

    def __init__(self, repo: CaseRepo) -> None:
        super().__init__(repo.root, repo.git_dir, repo.config)
        self.main_cases = super().load_ref(MAIN)

    def load_ref(self, ref: str) -> CaseSet:
        return self.main_cases if ref == MAIN else super().load_ref(ref)

    def merged(self, case_ids: set[str]) -> None:
        self.main_cases = CaseSet([Case(c.data, "baseline") if c.id in case_ids else c
                                   for c in self.main_cases.cases])


class _ReportWriter:
    """reports.write_report's commit, with the report's JSON put together from per-row pieces
    that are encoded once: `json.dumps(indent=2)` runs Python's pure-Python encoder, about 0.2 s
    for a 10,000-row report, which 500 times over was most of the build. The bytes and message are
    the writer's own: every `check_every`-th report goes through reports.write_report (schema
    check included) and is compared with this encoding."""

    PLACEHOLDER = "\x00rows\x00"

    def __init__(self, check_every: int = 100) -> None:
        self.check_every = check_every
        self.written = 0
        self.rows: dict[tuple[str, str, bool], str] = {}

    def encode(self, report: dict[str, Any]) -> bytes:
        head = json.dumps({**report, "cases": [self.PLACEHOLDER]}, indent=2, ensure_ascii=False)
        rows = []
        for row in report["cases"]:
            key = (row["id"], row["split"], row["pass"])  # expected/predicted are fixed per case
            text = self.rows.get(key)
            if text is None:
                text = json.dumps(row, indent=2, ensure_ascii=False).replace("\n", "\n    ")
                self.rows[key] = text
            rows.append(text)
        body = head.replace(json.dumps(self.PLACEHOLDER), ",\n    ".join(rows))
        return (body + "\n").encode("utf-8")

    def write(self, repo: CaseRepo, batch_id: str, report: dict[str, Any]) -> None:
        path, branch = reports.report_path(batch_id), batches.branch_name(batch_id)
        passed = "passed" if report["summary"]["passed"] else "failed"
        message = (f"Report for batch {batch_id}: {reports.score_line(report)} ({passed})\n\n"
                   f"Straw-Batch: {batch_id}\nStraw-Model: {report['model']['hash']}")
        self.written += 1
        if self.written % self.check_every != 1:
            gitio.commit_to_branch(repo.git, branch, {path: self.encode(report)}, message)
            return
        reports.write_report(repo, batch_id, report)
        if gitio.read_file(repo.git, branch, path) != self.encode(report):
            raise SystemExit(f"{branch}: the fast report encoding differs from reports.encode")
        if git(repo.root, "log", "-1", "--format=%B", branch).strip() != message:
            raise SystemExit(f"{branch}: the fast report commit message differs from write_report's")


def build_history(path: Path, n: int, merges: int) -> None:
    """n generated cases (the baseline part committed as a bootstrap, so that `straw verify`
    accepts it), then `merges` batches of HISTORY_BATCH pending cases, each created with
    create_batch, given a passing report (see _ReportWriter) and merged with merge_batch."""
    n_pending = merges * HISTORY_BATCH
    if n_pending > n * 0.9:
        raise SystemExit(f"--merges {merges} needs {n_pending:,} pending cases; --cases {n:,} has "
                         f"room for {int(n * 0.9) // HISTORY_BATCH} merges")
    start = time.perf_counter()
    make_repo(path, n, pending_share=(n_pending + 0.5) / n)
    git(path, "commit", "--amend", "-q", "--no-verify", "-m",
        f"Generated {n} cases\n\nStraw-Bootstrap: benchmark\nStraw-Baseline-Cases: {n - n_pending}")
    repo = _MainInMemory(open_case_repo(path))
    repo.verdict_config["batch"]["max_size"] = HISTORY_BATCH  # in memory only; straw.toml is unchanged
    writer = _ReportWriter()
    # HEAD off main while merging: merge_batch then skips its dirty-work-tree check and leaves the
    # work tree alone (the same commits, ~40 s less build); main is checked out at the end
    git(path, "checkout", "-q", "--detach")
    say(f"history: generated {n:,} cases ({n - n_pending:,} baseline) in {path} "
        f"({time.perf_counter() - start:.1f} s); merging {merges} batches of {HISTORY_BATCH}…")
    for k in range(merges):
        batch = batches.create_batch(repo, title=f"history batch {k + 1}")
        ids = set(batch.cases)
        baseline = [c for c in repo.main_cases.cases if c.split == "baseline"]
        new = [Case(c.data, "baseline") for c in repo.main_cases.cases if c.id in ids]
        report = passing_report(repo, batch.id, baseline, new)
        writer.write(repo, batch.id, report)
        # the rule's own predictions as its rerun: the store's merge checks them against the
        # report (the real rerun of a stored model is timed on the 10,000-case repository)
        tip = gitio.rev(repo.git, f"refs/heads/{batch.branch}")
        assert tip
        answered = {r["id"]: r["predicted"] for r in report["cases"]}
        production = (lockfile.read_lock(repo) or {}).get("model")  # the rule, after merge 1
        merge.merge_batch(repo, batch.id, rerun=merge.Rerun(
            batch.id, tip, MODEL, answered, production,
            {c.id: answered[c.id] for c in baseline} if production else {}))
        repo.merged(ids)
        if (k + 1) % 50 == 0 or k + 1 == merges:
            say(f"history: {k + 1}/{merges} batches merged ({time.perf_counter() - start:.0f} s)")
    git(path, "checkout", "-q", MAIN)


# ---- timing with untimed set-up -----------------------------------------------------------------


def _nothing() -> None:
    pass


@dataclass
class Staged:
    """A Row whose every run needs untimed work around it (a fresh batch to merge, a created
    branch to delete). Straw and reference runs are interleaved, as in `run_rows`."""

    row: Row
    before_straw: Callable[[], object] = _nothing
    after_straw: Callable[[], object] = _nothing
    before_reference: Callable[[], object] = _nothing
    after_reference: Callable[[], object] = _nothing


def run_staged(items: Sequence[Staged], runs: int = 5, warmup: int = 1,
               progress: Callable[[str], None] | None = None) -> list[Result]:
    results = []
    for item in items:
        row = item.row
        if progress:
            progress(f"timing {row.name} ({runs} runs, untimed set-up around each)…")
        straw_runs: list[float] = []
        reference_runs: list[float] = []
        for i in range(warmup + runs):
            item.before_straw()
            straw_s = timed(row.straw)
            item.after_straw()
            reference_s = None
            if row.reference:
                item.before_reference()
                reference_s = timed(row.reference)
                item.after_reference()
            if i >= warmup:
                straw_runs.append(straw_s)
                if reference_s is not None:
                    reference_runs.append(reference_s)
        results.append(Result(row, statistics.median(straw_runs),
                              statistics.median(reference_runs) if reference_runs else None,
                              straw_runs, reference_runs))
    return results


# ---- rows on the 10,000-case repository ---------------------------------------------------------


class BatchRows:
    """The straw commands and their git references on the 10,000-case repository, with the state
    that runs pass on to their set-up (the batch to merge, the branch to delete)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counter = itertools.count(1)
        self.created: dict[str, Any] = {}
        self.model = BenchModel(root)
        self.gate_batch = gated_batch(self.root, self.model)
        self.merge_batch = ""
        self.ref_branch = ""

    # batch create: `straw batch create` (oldest free pending, up to max_size = 20)
    def straw_create(self) -> None:
        self.created = json.loads(output([straw_exe(), "batch", "create", "--json", "--repo",
                                          str(self.root)], self.root))

    def drop_cache(self) -> None:
        for cached in cache_dir(self.root).glob("blob-cases-*"):
            cached.unlink()

    def drop_created(self) -> None:
        git(self.root, "branch", "-D", self.created["branch"])

    def git_create(self) -> None:
        """The same 20 cases moved on a new branch with the porcelain a person would use."""
        k = next(self.counter)
        self.ref_branch = f"ref/create-{k}"
        manifest = f"batches/ref-{k}.json"
        (self.root / "batches").mkdir(exist_ok=True)
        (self.root / manifest).write_text(json.dumps({"id": f"ref-{k}", "cases": self.created["cases"]},
                                                     indent=2) + "\n")
        moved = " ".join(case_path("pending", c) for c in self.created["cases"])
        quiet(["sh", "-c", f"git switch -q -c {self.ref_branch} && git mv {moved} cases/baseline/ && "
                           f"git add {manifest} && git commit -q --no-verify -m 'Batch ref-{k}' && "
                           f"git switch -q {MAIN}"], self.root)

    def drop_ref_branch(self) -> None:
        git(self.root, "branch", "-D", self.ref_branch)

    # batch diff / gate on one batch with a passing report
    def straw_diff(self) -> None:
        quiet([straw_exe(), "batch", "diff", self.gate_batch, "--repo", str(self.root)], self.root)

    def git_diff(self) -> None:
        quiet(["git", "diff", "--no-renames", f"{MAIN}...{batches.branch_name(self.gate_batch)}",
               "--", "cases"], self.root)

    def straw_gate(self) -> None:
        quiet([straw_exe(), "gate", self.gate_batch, "--repo", str(self.root)], self.root)

    def git_gate(self) -> None:
        b = batches.branch_name(self.gate_batch)
        quiet(["sh", "-c", f"git cat-file -p {b}:{reports.report_path(self.gate_batch)} >/dev/null && "
                           f"git rev-parse {b}:cases {MAIN}:cases/baseline"], self.root)

    # merge: a fresh gated batch per run; the reference merges a branch of 20 moved cases
    def prepare_merge(self) -> None:
        self.merge_batch = gated_batch(self.root, self.model)

    def straw_merge(self) -> None:
        quiet([straw_exe(), "merge", self.merge_batch, "--repo", str(self.root)], self.root)

    def prepare_git_merge(self) -> None:
        """Branch ref/merge-<k>: the 20 newest pending cases moved to the baseline plus a
        manifest, one plumbing commit on main (straw takes the oldest, so they never meet)."""
        repo = open_case_repo(self.root)
        files = gitio.ls_tree(repo.git, MAIN, "cases/pending")
        chosen = sorted((p for p in files if p.endswith(".json")), reverse=True)[:20]
        k = next(self.counter)
        self.ref_branch = f"ref/merge-{k}"
        changes: dict[str, bytes | gitio.Blob | None] = {}
        for old in chosen:
            changes[old] = None
            changes[old.replace("cases/pending/", "cases/baseline/", 1)] = gitio.Blob(files[old])
        changes[f"batches/ref-{k}.json"] = (json.dumps({"id": f"ref-{k}", "cases": chosen}) + "\n").encode()
        gitio.commit_to_branch(repo.git, self.ref_branch, changes, f"Batch ref-{k}",
                               start=f"refs/heads/{MAIN}")

    def git_merge(self) -> None:
        quiet(["git", "merge", "-q", "--no-ff", "--no-verify", "-m", f"Merge {self.ref_branch}",
               self.ref_branch], self.root)


# ---- rows on the history repository -------------------------------------------------------------


def middle_case(root: Path) -> tuple[str, int]:
    """(a case that the middle batch of main's history merged, number of merged batches)."""
    ids = [line for line in git(root, "log", "--first-parent", "--format=%(trailers:key=Straw-Batch,"
                                      "valueonly)", MAIN).split() if line]
    manifest = json.loads(git(root, "show", f"{MAIN}:{batches.manifest_path(ids[len(ids) // 2])}"))
    return manifest["cases"][0], len(ids)


def check_diff(root: Path, gate_batch: str) -> None:
    """Untimed: the diff that is timed shows the batch's 20 added cases (reported, not fatal)."""
    diff = json.loads(output([straw_exe(), "batch", "diff", gate_batch, "--json", "--repo", str(root)],
                             root))
    added = sum(1 for c in diff if c["kind"] == "added")
    if added != 20 or len(diff) != 20:
        say(f"WARNING: straw batch diff {gate_batch}: {len(diff)} changes, {added} added; expected 20 added")


def check_log(history: Path, case_id: str) -> None:
    """Untimed: `straw log CASE` shows the case's pending add and its merge into the baseline."""
    events = json.loads(output([straw_exe(), "log", case_id, "--json", "--repo", str(history)], history))
    if [e["where"] for e in events] != ["baseline", "pending"]:
        say(f"WARNING: straw log {case_id}: expected a merge into the baseline then the pending add, "
            f"got {[(e['where'], e['subject']) for e in events]}")


def wait_for_gc(root: Path, limit_s: float = 300) -> None:
    """A `git gc --auto` that straw's last writes started in the background would otherwise run
    beside the timed commands (gc.pid exists while it runs)."""
    start = time.perf_counter()
    quiet_since = start  # gc --auto drops gc.pid while it forks into the background: wait for 2 s
    while time.perf_counter() - quiet_since < 2 and time.perf_counter() - start < limit_s:
        if (root / ".git" / "gc.pid").exists():
            quiet_since = time.perf_counter()
        time.sleep(0.2)
    if time.perf_counter() - start > 3:
        say(f"waited {time.perf_counter() - start:.0f} s for a background git gc in {root}")


def loose_objects(root: Path) -> str:
    counts = dict(line.split(": ", 1) for line in git(root, "count-objects", "-v").splitlines())
    return f"{int(counts['count']):,} loose objects, {int(counts['size']) / 1024:.0f} MiB"


def audit_rows(history: Path, case_id: str) -> list[Row]:
    """`straw verify --full` (every merged report read), `straw verify` after an earlier audit
    (the --full row's runs leave its cache of good commits) and `straw log CASE` on the history
    repository; verify's output is checked on every run (a violation is reported, not fatal)."""
    merged = sum(1 for line in git(history, "log", "--first-parent", "--format=%(trailers:key=Straw-Batch,"
                                            "valueonly)", MAIN).splitlines() if line.strip())
    commits = int(git(history, "rev-list", "--count", MAIN))
    warned: set[str] = set()

    def straw_verify(*flags: str) -> None:
        proc = subprocess.run([straw_exe(), "verify", *flags, "--repo", str(history)], cwd=history,
                              capture_output=True, text=True)
        said = proc.stdout + proc.stderr
        if (proc.returncode != 0 or not proc.stdout.startswith("ok")) and said not in warned:
            warned.add(said)
            say(f"WARNING: straw verify exit {proc.returncode}: {said[:2000]}")

    paths = [case_path("pending", case_id), case_path("baseline", case_id)]

    def git_log() -> None:
        quiet(["git", "log", "--first-parent", "--name-only", "--diff-merges=first-parent",
               "--format=%H %P%n%(trailers:unfold,only)", MAIN, "--", "cases/baseline"], history)

    note = ("git log --first-parent --name-only main -- cases/baseline (the log verify starts "
            "from; straw then reads the merged reports and compares trees)")
    return [
        Row(f"straw verify --full ({merged} merged batches, every report read)",
            lambda: straw_verify("--full"), git_log, target_s=5.0, target_ratio=None, note=note),
        Row(f"straw verify ({merged} merged batches, after an earlier audit)", straw_verify,
            git_log, target_s=5.0, target_ratio=None, note=note),
        Row(f"straw log ({merged} merged batches)",
            lambda: quiet([straw_exe(), "log", "--repo", str(history)], history),
            lambda: quiet(["git", "log", "--first-parent", "--format=%H %s%n%(trailers:unfold,only)",
                           MAIN, "--", "cases/baseline", "models.lock"], history),
            target_s=None, target_ratio=None,
            note="git log --first-parent main -- cases/baseline models.lock (with trailers)"),
        Row(f"straw log CASE ({commits:,} commits)",
            lambda: quiet([straw_exe(), "log", case_id, "--repo", str(history)], history),
            lambda: quiet(["git", "log", "--first-parent", "--oneline", MAIN, "--", *paths], history),
            target_s=0.5, target_ratio=None,
            note="git log --first-parent --oneline main -- cases/{pending,baseline}/CASE.json"),
    ]


def run(n: int = 10_000, merges: int = 500, runs: int = 5, keep: Path | None = None) -> int:
    ensure_git_identity()
    started = time.perf_counter()
    base = keep or Path(tempfile.mkdtemp(prefix="straw-batch-scale-"))
    root, history = base / "repo", base / "history"
    try:
        if not (root / "straw.toml").exists():
            start = time.perf_counter()
            make_repo(root, n)
            say(f"generated {n:,} cases in {root} ({time.perf_counter() - start:.1f} s)")
        pending = len(gitio.ls_tree(open_case_repo(root).git, MAIN, "cases/pending")) - 1  # .gitkeep
        needed = 20 + 2 * 20 * (runs + 1)  # the diff/gate batch, then straw's and git's merges
        if pending < needed:
            raise SystemExit(f"{root} has {pending} pending cases; {runs} runs need {needed} "
                             f"(more --cases, or a fresh --keep folder)")
        if not (history / "straw.toml").exists():
            build_history(history, n, merges)
        case_id, merged = middle_case(history)
        ctx = BatchRows(root)
        check_diff(root, ctx.gate_batch)

        create_cold = Staged(Row(f"straw batch create (20 of {pending:,} pending, no cache)",
                                 ctx.straw_create, ctx.git_create, target_s=1.0, target_ratio=None,
                                 note=CREATE_NOTE.format(n=n)),
                             before_straw=ctx.drop_cache, after_straw=ctx.drop_created,
                             after_reference=ctx.drop_ref_branch)
        create = Staged(Row(f"straw batch create (20 of {pending:,} pending)", ctx.straw_create,
                            ctx.git_create, target_s=1.0, target_ratio=None,
                            note=CREATE_NOTE.format(n=n)),
                        after_straw=ctx.drop_created, after_reference=ctx.drop_ref_branch)
        review = [
            Row("straw batch diff ID (20 cases added)", ctx.straw_diff, ctx.git_diff, target_s=0.5,
                target_ratio=None, note="git diff --no-renames main...batch/ID -- cases (full patch)"),
            Row("straw gate ID (passing report, rows rechecked, model hashed)", ctx.straw_gate,
                ctx.git_gate, target_s=0.5, target_ratio=None,
                note="git cat-file -p batch/ID:reports/ID.json + git rev-parse "
                     "batch/ID:cases main:cases/baseline"),
        ]
        merging = Staged(Row(f"straw merge ID (gate + tiny model rerun on {n:,} cases + merge)",
                             ctx.straw_merge, ctx.git_merge, target_s=1.0, target_ratio=None,
                             note="git merge --no-ff --no-verify of a branch moving 20 cases, "
                                  "HEAD on main (set-up untimed: a gated batch / a prepared branch)"),
                         before_straw=ctx.prepare_merge, before_reference=ctx.prepare_git_merge)
        progress = say
        wait_for_gc(root)
        results = run_staged([create_cold, create], runs, progress=progress)
        results += run_rows(review, runs, progress=progress)
        results += run_staged([merging], runs, progress=progress)
        # the history repository was just written: its files are warm, so no warm-up runs here
        wait_for_gc(history)
        as_built = loose_objects(history)
        check_log(history, case_id)
        results += run_rows(audit_rows(history, case_id), runs, warmup=0, progress=progress)

        print(f"\n{n:,} cases, median of {runs} runs, {os.cpu_count()} cores; straw = one process "
              f"(start-up included), output to /dev/null\n")
        print_table(results)
        print(f"\nThe first four rows run on the {n:,}-case repository (HEAD on main). verify and log "
              f"run on a second one of {n:,} cases whose main holds {merged} merged batches of "
              f"{HISTORY_BATCH} (built in-process with create_batch and merge_batch; each merged report "
              f"holds one row per case, as the engine writes them), as built: {as_built} (straw's "
              f"writes run `git gc --auto`). `batch create` with no cache reads and checks every "
              f"case on main; otherwise the blob cache that any earlier read of main filled.\n")
        seen: set[str] = set()
        for r in results:
            if r.row.note not in seen:
                seen.add(r.row.note)
                print(f"- {r.row.name.split(' (')[0]}: git reference = {r.row.note}")
        say(f"\ntotal {time.perf_counter() - started:.0f} s")
        return 0 if all(r.met for r in results) else 1
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--merges", type=int, default=500,
                        help="merged batches in the repository for verify and log CASE")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None,
                        help="build (or reuse, as they are) the two repositories here instead of "
                             "a temp folder")
    args = parser.parse_args(argv)
    return run(args.cases, args.merges, args.runs, args.keep)


if __name__ == "__main__":
    sys.exit(main())
