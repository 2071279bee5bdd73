"""Settings that decide verdicts: `straw config` prints main's committed ones, `straw config set`
changes one as an approved commit (comments kept), verify lists [gate]/[model]/[train] changes
and names a lowered threshold nobody approved; history rewritten since the last audit is said;
the model store lives in the git directory; exit codes CI can trust (eval, tune --baseline)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from report_helpers import merge_by_rule, rule_report, stored_tiny_model

from repo_store import audit, batches
from repo_store.lockfile import read_lock
from repo_store.repo import CaseRepo, open_case_repo
from repo_store.reports import write_report
from repo_store.setup import init_case_repo
from straw.cli import main as straw_main


@pytest.fixture
def repo(tmp_path: Path) -> CaseRepo:
    case_repo, _ = init_case_repo(tmp_path / "cases", demo=True)
    return case_repo


def git(repo: CaseRepo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo.root, check=True, capture_output=True,
                          text=True).stdout.strip()


def straw(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        straw_main(list(args))
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_config_prints_mains_settings_and_notes_an_uncommitted_edit(
        repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = straw(capsys, "config", "--repo", str(repo.root))
    assert code == 0 and "[gate]" in out and "baseline_threshold = 1.0" in out and "note:" not in out
    toml = repo.root / "straw.toml"
    toml.write_text(toml.read_text().replace("baseline_threshold = 1.0", "baseline_threshold = 0.5"))
    code, out = straw(capsys, "config", "--json", "--repo", str(repo.root))
    assert code == 0 and json.loads(out.split("\nnote:")[0])["gate"]["baseline_threshold"] == 1.0
    assert "not committed on main: commit it first" in out


def test_config_set_keeps_comments_commits_with_approval_and_refuses_bad_values(
        repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo.root)
    code, out = straw(capsys, "config", "set", "gate.new_threshold", "0.9", "--repo", root)
    assert code == 0 and "1.0 -> 0.9" in out
    text = (repo.root / "straw.toml").read_text()
    assert "new_threshold = 0.9" in text and "# rounds of train + validate before giving up" in text
    message = git(repo, "log", "-1", "--format=%B")
    assert "Approved-by: " in message and "Straw-Config: gate.new_threshold" in message
    assert git(repo, "status", "--porcelain") == ""
    code, out = straw(capsys, "config", "set", "gate.nope", "1", "--repo", root)
    assert code == 2 and "unknown setting 'gate.nope'" in out
    code, out = straw(capsys, "config", "set", "train.batch_size", "sixteen", "--repo", root)
    assert code == 1 and "train.batch_size" in out
    assert "batch_size = 16" in (repo.root / "straw.toml").read_text()  # nothing written


def test_verify_lists_setting_changes_and_names_an_unapproved_lowering(
        repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo.root)
    assert straw(capsys, "config", "set", "train.seed", "7", "--repo", root)[0] == 0
    code, out = straw(capsys, "verify", "--repo", root)
    assert code == 0 and "setting " in out and "train.seed: 0 -> 7" in out
    toml = repo.root / "straw.toml"
    toml.write_text(toml.read_text().replace("baseline_threshold = 1.0", "baseline_threshold = 0.5"))
    git(repo, "commit", "-q", "--no-verify", "-am", "relax")
    code, out = straw(capsys, "verify", "--repo", root)
    assert code == 1 and "'relax'" in out and "lowers gate.baseline_threshold 1.0 -> 0.5 without an " \
                                               "Approved-by trailer" in out


def test_verify_says_when_history_was_rewritten_since_the_last_audit(repo: CaseRepo) -> None:
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, rule_report(repo, batch.id))
    merge_by_rule(repo, batch.id)
    assert audit.verify_history(repo) == []
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # main rewritten: the merge is gone
    git(repo, "commit", "-q", "--allow-empty", "-m", "something else")
    (violation,) = audit.verify_history(repo)
    assert "history rewritten" in violation.why
    assert audit.verify_history(repo) == []  # said once; the new tip is what was audited


def test_the_model_store_lives_in_the_git_directory_shared_by_worktrees(repo: CaseRepo,
                                                                        tmp_path: Path) -> None:
    assert repo.model_store == repo.root / ".git" / "straw" / "models"
    git(repo, "worktree", "add", "-q", str(tmp_path / "other"), "-b", "other")
    other = open_case_repo(tmp_path / "other")
    assert other.model_store.resolve() == repo.model_store.resolve()


def test_eval_exits_1_when_it_prints_failed(repo: CaseRepo, tiny_classifier: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    model, _ = stored_tiny_model(repo, tiny_classifier)  # random weights: fails most cases
    code, out = straw(capsys, "eval", "--model", model, "--repo", str(repo.root))
    assert code == 1 and "FAILED" in out


def test_tune_baseline_never_promotes_a_model_that_fails_a_case(
        repo: CaseRepo, tiny_classifier: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo.root)
    for key, value in (("model.base", json.dumps(str(tiny_classifier))), ("model.max_length", "16"),
                       ("train.max_iterations", "1"), ("train.epochs_per_round", "1"),
                       ("train.batch_size", "64")):
        assert straw(capsys, "config", "set", key, value, "--repo", root)[0] == 0
    code, out = straw(capsys, "tune", "--baseline", "--quiet", "--repo", root)
    assert code == 1 and "not promoted" in out
    assert read_lock(open_case_repo(repo.root)) is None


def _ssh_key(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True)
    return key, (folder / f"{name}.pub").read_text().strip()


def test_signed_approvals_with_real_ssh_keys(repo: CaseRepo, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    key, public = _ssh_key(tmp_path, "ada")
    _, stranger = _ssh_key(tmp_path, "eve")
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key))
    (repo.root / "allowed_signers").write_text(f'author@example.com namespaces="git" {public}\n')
    git(repo, "add", "allowed_signers")
    git(repo, "commit", "-q", "--no-verify", "-m", "who may approve")
    root = str(repo.root)
    assert straw(capsys, "config", "set", "gate.require_signed", "true", "--repo", root)[0] == 0
    assert "Good" in subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={repo.root}/allowed_signers",
                                     "verify-commit", "HEAD"], cwd=repo.root, capture_output=True,
                                    text=True).stderr
    repo = open_case_repo(repo.root)
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, rule_report(repo, batch.id))
    merge_by_rule(repo, batch.id)  # signed by straw with the user's key
    assert audit.verify_history(repo, full=True) == []
    # an unsigned settings change, then one signed by a key nobody allowed: both named
    toml = repo.root / "straw.toml"
    toml.write_text(toml.read_text().replace("seed = 0", "seed = 1"))
    git(repo, "commit", "-q", "--no-verify", "-am", "unsigned tweak")
    (violation,) = audit.verify_history(repo)
    assert "unsigned tweak" in violation.line() and "not signed by a key in allowed_signers" in violation.why
    other_key = tmp_path / "eve"
    toml.write_text(toml.read_text().replace("seed = 1", "seed = 2"))
    git(repo, "-c", f"user.signingkey={other_key}", "commit", "-q", "-S", "--no-verify", "-am",
        "signed by a stranger")
    assert stranger  # eve's key exists but is not in allowed_signers
    violations = audit.verify_history(repo)
    assert [v.subject for v in violations] == ["unsigned tweak", "signed by a stranger"]
