"""Shared fixtures: real git case repositories in temp folders, and ways to run the CLI.

- `case_repo`: an empty case repository (`straw init`), as a `CaseRepo`.
- `demo_repo`: a case repository seeded with the bundled demo cases (`straw init --demo`).
- `cli`: run `straw ...` in-process through `straw.cli.main`, so exit codes and the one-line error
  mapping are the real ones; returns a `CliResult` (exit code, stdout, stderr).
- `straw_bin`: run the installed `straw` script as a subprocess (true end-to-end checks).
- `banking77`: the public banking77 cases in ../shared/data/banking77 (skipped when absent).

Every test runs with a private HOME and a fixed git identity, so commits work on CI as root with no
global git config, and nobody's own git settings leak in."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
if not SHARED_DATA.is_dir():  # a clone in a temp folder (as the README's CI check makes) finds the
    SHARED_DATA = Path("/work/shared/data")  # workplace's copy, as the benchmarks do
VENV_BIN = Path(sys.executable).parent

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_INDEX_FILE", raising=False)
    monkeypatch.delenv("STRAW_GATED_MERGE", raising=False)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(args: list[str], cwd: Path | None = None, capsys: pytest.CaptureFixture | None = None,
            ) -> CliResult:
    """`straw ARGS` in this process, through `straw.cli.main` (the real error → exit-code mapping)."""
    from click.testing import CliRunner

    from straw import cli

    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with runner.isolation() as (out, err, _):
            try:
                cli.main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            stdout = out.getvalue().decode("utf-8", "replace")
            stderr = err.getvalue().decode("utf-8", "replace")
    finally:
        os.chdir(old)
    return CliResult(code, stdout, stderr)


@pytest.fixture
def cli():
    """Call as `cli("list", "--json", repo=path)` or `cli("add", ..., cwd=path)`."""

    def _run(*args: str, repo: Path | None = None, cwd: Path | None = None) -> CliResult:
        argv = list(args)
        if repo is not None:
            argv += ["--repo", str(repo)]
        return run_cli(argv, cwd=cwd)

    return _run


def straw_executable() -> str:
    exe = VENV_BIN / "straw"
    return str(exe) if exe.exists() else "straw"


@pytest.fixture
def straw_bin():
    """Run the installed `straw` script as a subprocess; returns CompletedProcess (text)."""

    def _run(*args: str, cwd: Path | None = None, timeout: float = 60, **kwargs):
        return subprocess.run([straw_executable(), *args], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, env=os.environ.copy(), **kwargs)

    return _run


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Plain git in `repo` (text output)."""
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=check)


def commit_count(repo: Path) -> int:
    return int(git(repo, "rev-list", "--count", "HEAD").stdout.strip())


@pytest.fixture
def make_case_repo(tmp_path: Path):
    """Factory: `make_case_repo(name="repo", demo=False)` → CaseRepo in a fresh temp folder."""
    from repo_store.setup import init_case_repo

    def _make(name: str = "repo", demo: bool = False):
        repo, _ = init_case_repo(tmp_path / name, demo=demo)
        return repo

    return _make


@pytest.fixture
def case_repo(make_case_repo):
    """An empty case repository (`straw init`): straw.toml, hooks, cases/pending/, one commit."""
    return make_case_repo("cases-repo")


@pytest.fixture
def demo_repo(make_case_repo):
    """A case repository seeded with the bundled demo set (`straw init --demo`)."""
    return make_case_repo("demo-repo", demo=True)


@pytest.fixture
def banking77() -> Path:
    """The folder ../shared/data/banking77 beside the checkout (cases.jsonl, holdout.jsonl)."""
    path = SHARED_DATA / "banking77"
    if not (path / "cases.jsonl").is_file():
        pytest.skip(f"{path} is missing (shared data lives beside the checkout)")
    return path


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT classifier (random weights, the embedded tokenizer), built once per session."""
    from tuning.testing import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, tiny_classifier: Path) -> Path:
    """A repository whose production model (the tiny classifier, tuned and merged through the
    gate) passes its 10-case baseline: built once per test module, whose tests copy it."""
    from prod_helpers import IDENTITY, good_repo

    for key, value in IDENTITY.items():  # module scope: before the per-test git identity
        os.environ.setdefault(key, value)
    return good_repo(tmp_path_factory.mktemp("good") / "repo", tiny_classifier).root


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module (`pytestmark = pytest.mark.usefixtures(...)`): on a
    shared 2-core CI box two OpenMP threads contend with the other processes and run ~3× slower;
    with the machine to itself one thread costs little here."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
