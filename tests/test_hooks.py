"""The git hooks `straw init` installs: plain git cannot commit an invalid case file, nor change
cases/baseline/ on main outside a gated merge; `--no-verify` gets past them (and `straw verify`
audits for that later)."""

from __future__ import annotations

import json

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
    """Reinstall the hooks as if the venv that installed them was moved away; PATH finds `python3`
    in `shims` first, as `python3` (a shell script)."""
    import os
    import stat
    import sys
    from unittest import mock

    with mock.patch.object(sys, "executable", str(repo.root / "gone-venv" / "bin" / "python")):
        hooks.install(repo.git_dir)
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
