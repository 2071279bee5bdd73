"""The GitHub Action's shell script (ci/action.sh) run locally as a CI job would run it: in a fresh
clone checked out detached at the pull request's head (branches only as origin/*), with a temp
GITHUB_STEP_SUMMARY; plus the action and pre-commit manifests parse and point at real things."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml
from cli_helpers import model_tuned
from conftest import VENV_BIN

from repo_store import batches
from repo_store.repo import CaseRepo

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "ci" / "action.sh"


def ci_clone(origin: CaseRepo, tmp_path: Path, head: str) -> Path:
    """What actions/checkout with fetch-depth 0 leaves: a clone, HEAD detached at the PR head."""
    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(origin.root), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", "--detach", f"origin/{head}"], cwd=clone, check=True)
    return clone


def run_action(clone: Path, tmp_path: Path, head_ref: str) -> tuple[int, str, str]:
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_HEAD_REF": head_ref, "GITHUB_STEP_SUMMARY": str(summary), "STRAW_REPO": str(clone)}
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr, summary.read_text()


def test_passing_batch_pull_request(demo_repo: CaseRepo, tmp_path: Path, tiny_classifier: Path) -> None:
    demo_repo, batch, model = model_tuned(demo_repo, tiny_classifier, title="crisis routing")
    clone = ci_clone(demo_repo, tmp_path, batch.branch)
    # the gate checks the report's model by its content hash: a runner without the model store
    # is refused, naming the model
    code, out, summary = run_action(clone, tmp_path, batch.branch)
    assert code == 1 and f"model {model} is not in the model store" in summary
    # with the store restored (an actions/cache step, or [model].store on shared storage)
    relative = demo_repo.model_store.relative_to(demo_repo.root)
    shutil.copytree(demo_repo.model_store, clone / relative)
    code, out, summary = run_action(clone, tmp_path, batch.branch)
    assert code == 0, out
    assert "✅ **verify**" in summary and f"✅ **gate** {batch.id}: passes" in summary
    assert f"## Batch `{batch.id}`: crisis routing" in summary and "| added |" in summary


def test_unvalidated_batch_is_refused_with_the_reason(demo_repo: CaseRepo, tmp_path: Path) -> None:
    batch = batches.create_batch(demo_repo)
    clone = ci_clone(demo_repo, tmp_path, batch.branch)
    code, out, summary = run_action(clone, tmp_path, batch.branch)
    assert code == 1
    assert f"❌ **gate** refused {batch.id} (exit 1)" in summary and "straw tune" in summary
    assert "**Gate:** ⏳ not tuned yet" in summary  # the PR body still lands in the summary


def test_other_pull_requests_only_verify(demo_repo: CaseRepo, tmp_path: Path) -> None:
    subprocess.run(["git", "branch", "docs/typo", "main"], cwd=demo_repo.root, check=True)
    clone = ci_clone(demo_repo, tmp_path, "docs/typo")
    code, _, summary = run_action(clone, tmp_path, "docs/typo")
    assert code == 0 and "✅ **verify**" in summary and "**gate**" not in summary
    # a baseline change pushed straight to main fails the audit, whatever the pull request
    sneaked = demo_repo.root / "cases/baseline/sneaked.json"
    data = demo_repo.load().split("baseline")[0].data
    import json

    sneaked.write_text(json.dumps({**data, "id": "sneaked", "input": "a sneaked case"}))
    subprocess.run(["git", "add", "-A"], cwd=demo_repo.root, check=True)
    subprocess.run(["git", "commit", "-qm", "sneak", "--no-verify"], cwd=demo_repo.root, check=True)
    clone = ci_clone(demo_repo, tmp_path / "again", "main")
    code, _, summary = run_action(clone, tmp_path, "")
    assert code == 1 and "❌ **verify** failed (exit 1)" in summary and "sneaked" in summary


def test_action_and_pre_commit_manifests() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    runs = " ".join(step.get("run", "") for step in action["runs"]["steps"])
    assert "ci/action.sh" in runs and all(s.get("shell") == "bash" for s in action["runs"]["steps"]
                                          if "run" in s)
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"straw-validate", "straw-baseline-guard", "straw-verify"}
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        command = hook["entry"].split()
        assert command[0] in ("straw", "python")  # installed by pre-commit from this package
