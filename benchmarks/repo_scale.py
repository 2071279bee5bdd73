"""Curation at scale: a generated case repository of 10,000 cases, each straw operation timed
beside the raw git command line doing the same file work in the same run (median of N runs).

    .venv/bin/python benchmarks/repo_scale.py [--cases 10000] [--runs 5] [--keep DIR]

Targets (issue 2): load + schema-validate all cases ≤ 1 s; `straw add` ≤ 0.3 s wall including
process start; `straw list` ≤ 0.5 s; each ≤ 2× its git reference. More rows (batch operations)
are added by appending to the list `extra_rows(ctx)` returns, or by passing `rows=` to `run`."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Row, print_table, run_rows  # noqa: E402

LABELS = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed", "pin_blocked",
          "transfer_timing", "refund_not_showing_up", "benign", "prompt_injection", "pii_request"]
TOPICS = ["my card", "a transfer", "the exchange rate", "a refund", "my PIN", "a top-up",
          "my account", "a payment", "the app", "cash withdrawal"]


def straw_exe() -> str:
    exe = Path(sys.executable).parent / "straw"
    return str(exe) if exe.exists() else shutil.which("straw") or "straw"


def ensure_git_identity() -> None:
    """Commits need an identity; on a bare CI machine use a benchmark one (env only)."""
    probe = subprocess.run(["git", "var", "GIT_AUTHOR_IDENT"], capture_output=True)
    if probe.returncode != 0:
        for key, value in (("GIT_AUTHOR_NAME", "straw bench"), ("GIT_AUTHOR_EMAIL", "bench@straw.invalid"),
                           ("GIT_COMMITTER_NAME", "straw bench"),
                           ("GIT_COMMITTER_EMAIL", "bench@straw.invalid")):
            os.environ.setdefault(key, value)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, n: int, pending_share: float = 0.1) -> Path:
    """`straw init` + n valid case files written directly, then one `git add` / `git commit`."""
    from repo_store.cases import case_path, serialize
    from repo_store.setup import init_case_repo

    init_case_repo(path)
    n_pending = int(n * pending_share)
    for i in range(n):
        split = "pending" if i < n_pending else "baseline"
        case_id = f"c-20260101-{i:08x}"
        data = {
            "id": case_id,
            "input": f"Question {i}: what happens with {TOPICS[i % len(TOPICS)]} "
                     f"when I ask for the {i // len(TOPICS)}th time?",
            "expected": LABELS[(i * 7) % len(LABELS)],
            "match": "label",
            "tags": ["bench", TOPICS[i % len(TOPICS)].split()[-1]],
            "source": f"generated #{i}",
            "created": "2026-01-01T00:00:00Z",
            "author": "straw bench <bench@straw.invalid>",
        }
        target = path / case_path(split, case_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(serialize(data))
    git(path, "add", "cases")
    git(path, "commit", "-q", "--no-verify", "-m", f"Generated {n} cases")
    return path


@dataclass
class Context:
    repo: Path
    n: int
    counter: itertools.count = field(default_factory=lambda: itertools.count(int(time.time() * 1000)))
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="straw-bench-")))


def _run(args: list[str], cwd: Path, stdout=subprocess.DEVNULL) -> None:
    proc = subprocess.run(args, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])}… failed: {proc.stderr.decode(errors='replace')}")


def core_rows(ctx: Context) -> list[Row]:
    from repo_store.repo import open_case_repo

    case_repo = open_case_repo(ctx.repo)

    def load() -> None:
        loaded = case_repo.load()
        assert not loaded.issues and len(loaded.cases) >= ctx.n, loaded.issues[:3]

    def read_files() -> None:
        names = subprocess.run(["git", "ls-files", "-z", "cases"], cwd=ctx.repo, check=True,
                               capture_output=True).stdout.split(b"\0")
        for name in names:
            if name.endswith(b".json"):
                with open(ctx.repo / name.decode(), "rb") as fh:
                    json.loads(fh.read())

    def straw_add() -> None:
        i = next(ctx.counter)
        _run([straw_exe(), "add", "--input", f"benchmark add number {i} at {time.time()}",
              "--expected", "benign", "--tag", "bench", "--repo", str(ctx.repo)], ctx.repo)

    def git_add_commit() -> None:
        i = next(ctx.counter)
        rel = f"cases/pending/c-ref-{i}.json"
        (ctx.repo / rel).write_text(json.dumps({
            "id": f"c-ref-{i}", "input": f"reference add number {i}", "expected": "benign",
            "match": "label", "tags": ["bench"], "created": "2026-01-01T00:00:00Z",
            "author": "straw bench <bench@straw.invalid>"}, indent=2) + "\n")
        _run(["git", "add", "--", rel], ctx.repo)
        _run(["git", "commit", "-q", "--no-verify", "-m", f"ref {i}", "--", rel], ctx.repo)

    def straw_list() -> None:
        _run([straw_exe(), "list", "--repo", str(ctx.repo)], ctx.repo)

    def git_list() -> None:
        _run(["sh", "-c", "git ls-files -z cases | xargs -0 cat"], ctx.repo)

    lines = 5_000

    def straw_import() -> None:  # issue 12: no argv limit, one fast-import, files checked out last
        i = next(ctx.counter)
        source = ctx.scratch / f"import-{i}.jsonl"
        source.write_text("".join(json.dumps({"input": f"bulk {i} line {k}", "expected": "benign"})
                                  + "\n" for k in range(lines)))
        _run([straw_exe(), "import", str(source), "--repo", str(ctx.repo)], ctx.repo)

    def git_import() -> None:  # the same files written by hand, then `git add` + `git commit`
        i = next(ctx.counter)
        folder = ctx.repo / "cases/pending"
        for k in range(lines):
            (folder / f"c-ref-{i}-{k}.json").write_text(json.dumps({
                "id": f"c-ref-{i}-{k}", "input": f"ref bulk {i} line {k}", "expected": "benign",
                "match": "label", "created": "2026-01-01T00:00:00Z",
                "author": "straw bench <bench@straw.invalid>"}, indent=2) + "\n")
        _run(["git", "add", "--", "cases/pending"], ctx.repo)
        _run(["git", "commit", "-q", "--no-verify", "-m", f"ref import {i}"], ctx.repo)

    return [
        Row(f"load + validate {ctx.n:,} cases (repo.load)", load, read_files, target_s=1.0),
        Row("straw add (process, validated, committed)", straw_add, git_add_commit, target_s=0.3),
        Row("straw list (process, output to /dev/null)", straw_list, git_list, target_s=0.5),
        Row(f"straw import {lines:,} lines (process, committed)", straw_import, git_import,
            target_s=10.0),
    ]


def extra_rows(ctx: Context) -> list[Row]:
    """Hook for more rows (batch create/diff, …): return Rows built on ctx.repo."""
    return []


def run(n: int = 10_000, runs: int = 5, keep: Path | None = None,
        rows: Callable[[Context], list[Row]] | None = None) -> int:
    ensure_git_identity()
    base = keep or Path(tempfile.mkdtemp(prefix="straw-scale-"))
    repo = base / "repo"
    if not (repo / "straw.toml").exists():
        start = time.perf_counter()
        make_repo(repo, n)
        print(f"generated {n:,} cases in {repo} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    ctx = Context(repo, n)
    try:
        chosen = core_rows(ctx) + extra_rows(ctx) + (rows(ctx) if rows else [])
        results = run_rows(chosen, runs=runs, progress=lambda m: print(m, file=sys.stderr))
        print(f"\n{n:,} cases, median of {runs} runs, {os.cpu_count()} cores\n")
        print_table(results)
        return 0 if all(r.met for r in results) else 1
    finally:
        # the reference writes stray case-like files; a kept repository is left as it is
        shutil.rmtree(ctx.scratch, ignore_errors=True)
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None,
                        help="build (or reuse) the generated repository here instead of a temp folder")
    args = parser.parse_args(argv)
    return run(args.cases, args.runs, args.keep)


if __name__ == "__main__":
    sys.exit(main())
