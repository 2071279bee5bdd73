"""The light install for CI: validate, list, batch diff, gate, verify and log run with torch,
transformers and the rest of `straw[train]` unimportable (a sys.meta_path finder refuses them,
as a venv without them would), and an engine command says which extra to install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_helpers import model_tuned
from report_helpers import merge_by_rule, rule_report

from repo_store import batches
from repo_store.repo import CaseRepo
from repo_store.reports import write_report
from straw.cli import ENGINE_MODULES

ROOT = Path(__file__).resolve().parents[1]

RUNNER = """
import sys

BLOCKED = set(sys.argv[1].split(","))


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Blocker())
from straw.cli import main

try:
    main(sys.argv[2:])
finally:
    heavy = sorted(m for m in BLOCKED if m in sys.modules)
    print("IMPORTED:" + ",".join(heavy), file=sys.stderr)
"""


def light(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUNNER, ",".join(sorted(ENGINE_MODULES)), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ci_commands_run_without_the_engine(demo_repo: CaseRepo, tiny_classifier: Path) -> None:
    root = str(demo_repo.root)
    first = batches.create_batch(demo_repo)
    write_report(demo_repo, first.id, rule_report(demo_repo, first.id))
    merge_by_rule(demo_repo, first.id)
    # the gate checks the report's model in the store (hashing its files: no engine needed)
    demo_repo, second, _ = model_tuned(demo_repo, tiny_classifier)
    case_id = first.cases[0]

    runs = {
        "validate": (light("validate", "--repo", root), 0),
        "list": (light("list", "--json", "--repo", root), 0),
        "batch diff": (light("batch", "diff", "latest", "--json", "--repo", root), 0),
        "batch show": (light("batch", "show", second.id, "--repo", root), 0),
        "gate": (light("gate", "latest", "--json", "--repo", root), 0),
        "verify": (light("verify", "--repo", root), 0),
        "log": (light("log", "--repo", root), 0),
        "log CASE": (light("log", case_id[:-1], "--repo", root), 0),
        "pr-body": (light("batch", "pr-body", "latest", "--repo", root), 0),
    }
    for name, (proc, code) in runs.items():
        assert proc.returncode == code, f"{name}: {proc.stderr}"
        assert proc.stderr.rstrip().endswith("IMPORTED:"), f"{name} imported {proc.stderr}"
    assert len(json.loads(runs["list"][0].stdout)) == 140
    assert json.loads(runs["gate"][0].stdout)["passed"] is True
    assert {c["case_id"] for c in json.loads(runs["batch diff"][0].stdout)} == set(second.cases)
    assert json.loads(runs["gate"][0].stdout)["batch"] == second.id
    assert "merge" in runs["log"][0].stdout and "baseline" in runs["log CASE"][0].stdout


def test_engine_command_names_the_extra(demo_repo: CaseRepo) -> None:
    batches.create_batch(demo_repo)
    proc = light("tune", "latest", "--repo", str(demo_repo.root))
    assert proc.returncode == 2
    first = proc.stderr.splitlines()[0]
    assert first.startswith("straw: this command needs the training engine") and "straw[train]" in first


def test_a_command_module_that_needs_the_engine_at_import_names_the_extra() -> None:
    from straw.cli import BrokenCommand, missing_engine_module

    try:
        try:
            raise ModuleNotFoundError("No module named 'transformers'", name="transformers")
        except ImportError as err:
            raise BrokenCommand("command 'x' cannot be loaded") from err
    except BrokenCommand as broken:
        assert missing_engine_module(broken) == "transformers"
    assert missing_engine_module(ModuleNotFoundError("x", name="yaml")) is None  # a bug: exit 3
