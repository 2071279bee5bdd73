"""The git hooks `straw init` installs: plain git cannot commit an invalid case file, nor change
cases/baseline/ on main outside a gated merge; `--no-verify` gets past them (and `straw verify`
audits for that later)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import commit_count, git

from repo_store import curation, hooks


def _commit(repo, *args: str):
    return git(repo.root, "commit", "-q", *args, check=False)


def test_hooks_are_installed_and_executable(case_repo) -> None:
    for name in hooks.HOOKS:
        path = case_repo.git_dir / "hooks" / name
        assert hooks.MARKER in path.read_text()
        assert path.stat().st_mode & 0o111


def test_plain_commit_of_invalid_case_is_refused_with_the_cli_message(case_repo, cli) -> None:
    path = case_repo.root / "cases/pending/c-bad.json"
    path.write_text(json.dumps({"id": "c-bad", "input": "x", "expected": "y", "match": "fuzzy",
                                "created": "2026-01-01T00:00:00Z", "author": "me"}))
    cli_says = cli("validate", repo=case_repo.root).stdout.splitlines()[0]
    git(case_repo.root, "add", "cases/pending/c-bad.json")
    before = commit_count(case_repo.root)
    result = _commit(case_repo, "-m", "sneak in a bad case")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == f"straw pre-commit: {cli_says}"
    assert cli_says.startswith("cases/pending/c-bad.json::$.match: 'fuzzy' is not one of")
    assert commit_count(case_repo.root) == before


def test_plain_commit_of_malformed_case_is_refused(case_repo) -> None:
    (case_repo.root / "cases/pending/c-broken.json").write_text("{")
    git(case_repo.root, "add", "-A")
    result = _commit(case_repo, "-m", "broken")
    assert result.returncode != 0 and "c-broken.json::$: malformed JSON" in result.stderr


def test_plain_commit_of_valid_pending_case_goes_through(case_repo) -> None:
    data = curation.new_case_data(case_repo, input="hand written", expected="ok", case_id="c-hand")
    (case_repo.root / "cases/pending/c-hand.json").write_text(json.dumps(data))
    git(case_repo.root, "add", "-A")
    result = _commit(case_repo, "-m", "hand-written case")
    assert result.returncode == 0, result.stderr


def test_direct_baseline_change_on_main_is_refused(demo_repo) -> None:
    case = demo_repo.load().split("baseline")[0]
    path = demo_repo.root / case.path
    path.write_text(json.dumps({**case.data, "notes": "quietly changed"}, indent=2))
    git(demo_repo.root, "add", case.path)
    result = _commit(demo_repo, "-m", "tweak the baseline")
    assert result.returncode != 0
    assert result.stderr.startswith(f"straw pre-commit: {case.path}: the baseline on main changes only "
                                    f"through a gated batch merge")
    # deleting a baseline case is a change too
    git(demo_repo.root, "reset", "-q", "--hard")
    git(demo_repo.root, "rm", "-q", case.path)
    assert _commit(demo_repo, "-m", "drop a baseline case").returncode != 0


def test_no_verify_gets_through(demo_repo) -> None:
    case = demo_repo.load().split("baseline")[0]
    (demo_repo.root / case.path).write_text(json.dumps({**case.data, "notes": "forced"}, indent=2))
    git(demo_repo.root, "add", case.path)
    before = commit_count(demo_repo.root)
    result = _commit(demo_repo, "--no-verify", "-m", "forced past the hook")
    assert result.returncode == 0, result.stderr
    assert commit_count(demo_repo.root) == before + 1


def test_baseline_change_on_a_batch_branch_is_not_refused(demo_repo) -> None:
    git(demo_repo.root, "switch", "-q", "-c", "batch/try")
    case = demo_repo.load().split("baseline")[0]
    (demo_repo.root / case.path).write_text(json.dumps({**case.data, "notes": "on a branch"}, indent=2))
    git(demo_repo.root, "add", case.path)
    assert _commit(demo_repo, "-m", "branch change").returncode == 0


def test_hand_made_merge_into_main_touching_baseline_is_refused(demo_repo) -> None:
    git(demo_repo.root, "switch", "-q", "-c", "side")
    case = demo_repo.load().split("baseline")[0]
    (demo_repo.root / case.path).write_text(json.dumps({**case.data, "notes": "merged by hand"}, indent=2))
    git(demo_repo.root, "commit", "-q", "-am", "side change")
    git(demo_repo.root, "switch", "-q", "main")
    data = curation.new_case_data(demo_repo, input="main moved on", expected="benign")
    curation.add_cases(demo_repo, [data], "main moves")
    result = git(demo_repo.root, "merge", "--no-ff", "-m", "merge side", "side", check=False)
    assert result.returncode != 0
    assert "straw pre-merge-commit" in result.stderr and case.path in result.stderr
    git(demo_repo.root, "merge", "--abort", check=False)


def test_straw_writes_are_not_blocked_by_its_own_hooks(demo_repo, cli) -> None:
    result = cli("add", "--input", "straw itself commits", "--expected", "benign", repo=demo_repo.root)
    assert result.exit_code == 0, result.output


def _hook_with_a_gone_python(repo, shims, python3: str) -> dict[str, str]:
    """Install the hooks from an interpreter at a path that is then removed, as when the venv that
    installed them was moved away; PATH finds `python3` in `shims` first, as `python3` (a shell
    script)."""
    import os
    import shutil
    import stat
    import subprocess
    import sys
    import sysconfig

    gone = repo.root.parent / "gone-venv" / "bin"
    gone.mkdir(parents=True)
    (gone / "python").symlink_to(sys.executable)
    path = os.pathsep.join([str(Path(__file__).resolve().parents[1]), sysconfig.get_paths()["purelib"]])
    subprocess.run([str(gone / "python"), "-c", "import sys; from repo_store import hooks; "
                    "hooks.install(__import__('pathlib').Path(sys.argv[1]))", str(repo.git_dir)],
                   env={**os.environ, "PYTHONPATH": path}, check=True)
    shutil.rmtree(gone.parent)
    shims.mkdir()
    shim = shims / "python3"
    shim.write_text(f"#!/bin/sh\n{python3}\n")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}


def _commit_bad_case(repo, env):
    import subprocess

    (repo.root / "cases/pending/c-bad.json").write_text("{")
    git(repo.root, "add", "-A")
    return subprocess.run(["git", "commit", "-q", "-m", "bad"], cwd=repo.root, env=env,
                          capture_output=True, text=True)


def test_hooks_fall_back_to_a_python3_with_straw_when_the_venv_is_gone(case_repo, tmp_path) -> None:
    import sys

    env = _hook_with_a_gone_python(case_repo, tmp_path / "shims", f'exec "{sys.executable}" "$@"')
    result = _commit_bad_case(case_repo, env)
    assert result.returncode != 0 and "c-bad.json::$: malformed JSON" in result.stderr


def test_hooks_without_any_straw_python_warn_and_let_the_commit_through(case_repo, tmp_path) -> None:
    env = _hook_with_a_gone_python(case_repo, tmp_path / "shims", "exit 1")  # a python3 without straw
    before = commit_count(case_repo.root)
    result = _commit_bad_case(case_repo, env)
    assert result.returncode == 0
    assert "checks skipped" in result.stderr and "gone-venv" in result.stderr
    assert commit_count(case_repo.root) == before + 1


def test_plain_commit_of_a_case_in_both_baseline_and_pending_is_refused(demo_repo) -> None:
    case = demo_repo.load().split("baseline")[0]
    copy = demo_repo.root / "cases/pending" / f"{case.id}.json"
    copy.write_bytes((demo_repo.root / case.path).read_bytes())
    git(demo_repo.root, "add", "-A")
    result = _commit(demo_repo, "-m", "same case twice")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        f"straw pre-commit: cases/pending/{case.id}.json::$.id: case {case.id!r} is also in "
        f"cases/baseline (a case is baseline or pending, never both)")


def test_plain_commit_of_a_malformed_models_lock_is_refused(case_repo) -> None:
    lock = case_repo.root / "models.lock"
    lock.write_text('{"model": "sha256:' + "0" * 64 + '", "model": "x"}')
    git(case_repo.root, "add", "models.lock")
    result = _commit(case_repo, "-m", "hand-made lock")
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == "straw pre-commit: models.lock::$: duplicate key 'model'"
    lock.write_text(json.dumps({"model": "sha256:nope", "backend": "classifier", "base": "embedded",
                                "promoted": "2026-01-01T00:00:00Z", "reason": "merge"}))
    git(case_repo.root, "add", "models.lock")
    result = _commit(case_repo, "-m", "hand-made lock")
    assert result.returncode != 0 and "models.lock::$.model: 'sha256:nope' does not match" in result.stderr


def test_plain_commit_of_a_symlinked_case_is_refused(case_repo) -> None:
    (case_repo.root / "cases/pending/zero.json").symlink_to("/dev/zero")
    git(case_repo.root, "add", "-A")
    result = _commit(case_repo, "-m", "symlink")
    assert result.returncode != 0
    assert "cases/pending/zero.json::$: is a symbolic link (refused, not followed)" in result.stderr


def test_init_chains_the_users_own_pre_commit_hook(tmp_path) -> None:
    from repo_store.setup import init_case_repo

    root = tmp_path / "r"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    hook = root / ".git/hooks/pre-commit"
    ran = tmp_path / "user-hook-ran"
    hook.write_text(f"#!/bin/sh\necho \"$@\" >> {ran}\n[ ! -f {tmp_path}/refuse ]\n")
    hook.chmod(0o755)
    repo, _ = init_case_repo(root)
    init_case_repo(root)  # again: the chain stays, the user's hook is not replaced by ours
    assert hooks.MARKER not in (root / ".git/hooks/pre-commit.pre-straw").read_text()
    ran.unlink(missing_ok=True)  # init's own commit may have run it
    (root / "notes.txt").write_text("x")
    git(root, "add", "notes.txt")
    assert _commit(repo, "-m", "plain").returncode == 0
    assert ran.exists()  # the user's hook ran
    (tmp_path / "refuse").write_text("")
    (root / "notes.txt").write_text("y")
    git(root, "add", "notes.txt")
    refused = _commit(repo, "-m", "the user's hook says no")
    assert refused.returncode != 0  # and its verdict counts
    ran.unlink()
    (root / "cases/pending/c-bad.json").write_text("{")
    git(root, "add", "-A")
    result = _commit(repo, "-m", "bad case")
    assert result.returncode != 0 and "malformed JSON" in result.stderr
    assert not ran.exists()  # straw refused first; the user's hook was not needed
