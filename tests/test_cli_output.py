"""Output for people and scripts on real repositories: --json with numbers as numbers, the PR
body's wording and escaping, help text on every option, `straw log` width, `init --demo`'s next
steps, and status colours only on a terminal without NO_COLOR."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click
import pytest
from cli_helpers import model_tuned, on_a_terminal
from conftest import straw_executable
from report_helpers import merge_by_rule, rule_report

from repo_store import batches, curation, gitio
from repo_store.repo import CaseRepo
from repo_store.reports import write_report


def tuned(repo: CaseRepo, **kwargs: object) -> batches.Batch:
    batch = batches.create_batch(repo, **kwargs)  # type: ignore[arg-type]
    write_report(repo, batch.id, rule_report(repo, batch.id))
    return batch


def test_json_outputs_carry_numbers(demo_repo: CaseRepo, cli, tiny_classifier: Path) -> None:  # noqa: ANN001
    root = str(demo_repo.root)
    demo_repo, batch, model = model_tuned(demo_repo, tiny_classifier, title="crisis")
    report = json.loads(gitio.read_file(demo_repo.git, batch.branch, f"reports/{batch.id}.json") or b"")
    base, new = report["summary"]["baseline"], report["summary"]["new"]
    assert isinstance(base["passed"], int) and base["total"] == 100 and new["total"] == 20

    gate = cli("gate", batch.id, "--json", "--repo", root)
    assert gate.exit_code == 0, gate.stdout + gate.stderr
    data = json.loads(gate.stdout)
    assert data["passed"] is True and data["status"] == "passing" and data["report"]["model"] == model
    assert data["report"]["summary"]["baseline"] == base

    header, row = cli("batch", "list", "--repo", root).stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "CASES", "CREATED", "APPROVER", "TITLE"]
    assert row.split()[:3] == [batch.id, "passing", "20"] and row.endswith("crisis")
    shown = json.loads(cli("batch", "show", batch.id, "--json", "--repo", root).stdout)
    assert shown["report"]["summary"]["new"] == new
    assert shown["report"]["rounds"] == 1
    assert len(shown["report"]["failing"]) == 120 - base["passed"] - new["passed"]

    merged = cli("merge", batch.id, "--json", "--repo", root)
    assert merged.exit_code == 0, merged.stderr
    data = json.loads(merged.stdout)
    assert data["batch"] == batch.id and data["lock"]["baseline"] == base

    log = json.loads(cli("log", "--json", "--repo", root).stdout)
    assert log[0]["kind"] == "merge" and log[0]["cases"] == 20
    assert log[0]["baseline"] == base and log[0]["new"] == new
    assert log[1]["kind"] == "bootstrap" and isinstance(log[1]["cases"], int)

    verify = cli("verify", "--json", "--repo", root)
    assert verify.exit_code == 0
    audit = json.loads(verify.stdout)
    assert audit["ok"] is True and audit["violations"] == [] and audit["audited"] == "main"
    assert isinstance(audit["commits"], int) and audit["commits"] >= 4
    assert [(c["key"], c["old"], c["new"]) for c in audit["settings"]] == [
        ("gate.baseline_threshold", 1.0, 0.0), ("gate.new_threshold", 1.0, 0.0)]

    valid = cli("validate", "--json", "--repo", root)
    assert valid.exit_code == 0
    data = json.loads(valid.stdout)
    assert data["ok"] is True and data["cases"] == 140 and data["issues"] == []


def test_json_outputs_keep_their_exit_codes_on_failure(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    root = str(demo_repo.root)
    batch = batches.create_batch(demo_repo)
    gate = cli("gate", batch.id, "--json", "--repo", root)
    assert gate.exit_code == 1
    assert json.loads(gate.stdout)["status"] == "open" and json.loads(gate.stdout)["report"] is None
    # a baseline file committed straight to main: verify fails, and says why in JSON
    data = {**demo_repo.load().split("baseline")[0].data, "id": "sneaked", "input": "a sneaked case"}
    (demo_repo.root / "cases/baseline/sneaked.json").write_text(json.dumps(data))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "sneak", "--no-verify"], cwd=root, check=True)
    verify = cli("verify", "--json", "--repo", root)
    assert verify.exit_code == 1
    data = json.loads(verify.stdout)
    assert data["ok"] is False and data["violations"][0]["changed"] == ["cases/baseline/sneaked.json"]
    (demo_repo.root / "cases/pending/broken.json").write_text("{")
    valid = cli("validate", "--json", "--repo", root)
    assert valid.exit_code == 1
    issues = json.loads(valid.stdout)["issues"]
    assert any(i["path"] == "cases/pending/broken.json" for i in issues)


def test_pr_body_wording_and_escaping(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    root = str(demo_repo.root)
    case = curation.add_case(demo_repo, input='<img src=x onerror="alert(1)"> refund <b>now</b>',
                             expected="billing")
    batch = tuned(demo_repo, case_ids=[case.id], allow_small=True, title="<script>t</script>")
    body = cli("batch", "pr-body", batch.id, "--repo", root).stdout
    assert "**Gate:** ✅ passes: baseline 100/100" in body
    assert "passes — passes" not in body and "passes: passes" not in body
    assert "<img" not in body and "<b>" not in body and "<script>" not in body
    assert "&lt;img src=x" in body and "&lt;script&gt;t&lt;/script&gt;" in body

    merge_by_rule(demo_repo, batch.id)
    merged = cli("batch", "pr-body", batch.id, "--repo", root).stdout
    assert "**Gate:** 🔀 merged into main" in merged
    assert "❌" not in merged and "straw merge" not in merged and "joined the baseline" in merged


def _walk(command: click.Command, path: str = "straw"):  # noqa: ANN202
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{path} {name} failed to load"
            yield from _walk(sub, f"{path} {name}")


def test_every_command_and_option_has_help_text() -> None:
    from straw.cli import cli

    missing = []
    seen = 0
    for path, command in _walk(cli):
        if not (command.help or command.short_help):
            missing.append(f"{path}: no docstring")
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                seen += 1
                if not (param.help or "").strip():
                    missing.append(f"{path} {param.opts[0]}")
    assert seen > 60  # the walk reached every command's options
    assert missing == []


def test_help_explains_bwt_and_straw_bwt(cli) -> None:  # noqa: ANN001
    log_help = cli("log", "--help").stdout
    assert "bwt -" in log_help and "Straw-BWT: -" in log_help and "backward transfer" in log_help
    assert "Straw-BWT" in cli("merge", "--help").stdout


def test_log_lines_fit_100_columns(demo_repo: CaseRepo, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    long_mail = "a.very.long.approver.name.from.the.customer.success.team@subsidiary.example.com"
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", long_mail)
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", long_mail)
    batch = batches.create_batch(demo_repo)
    write_report(demo_repo, batch.id, {**rule_report(demo_repo, batch.id), "bwt": -0.125})
    merge_by_rule(demo_repo, batch.id)
    header, *lines = cli("log", "--repo", str(demo_repo.root)).stdout.splitlines()
    assert header.split() == ["DATE", "COMMIT", "KIND", "BATCH", "ADDED", "MODEL", "BASELINE", "NEW",
                              "BWT", "APPROVER"]
    assert len(lines) == 2 and lines[0].split()[2] == "merge"
    assert max(len(line) for line in [header, *lines]) <= 100
    assert lines[0].split()[3:9] == [batch.id, "+20", "abababab", "100/100", "20/20", "-0.125"]
    assert lines[0].endswith("Test Author")  # the e-mail is left out, never the numbers
    full = json.loads(cli("log", "--json", "--repo", str(demo_repo.root)).stdout)
    assert full[0]["approver"] == f"Test Author <{long_mail}>"


def test_init_demo_says_what_to_do_next(tmp_path: Path, cli) -> None:  # noqa: ANN001
    result = cli("init", str(tmp_path / "cases"), "--demo")
    assert result.exit_code == 0
    assert "What to do next" in result.stdout and "straw batch create" in result.stdout
    assert "straw tune latest" in result.stdout
    plain = cli("init", str(tmp_path / "plain"))
    assert "What to do next" not in plain.stdout


def test_status_words_in_colour_only_on_a_terminal(demo_repo: CaseRepo) -> None:
    batch = tuned(demo_repo)
    args = ["batch", "show", batch.id, "--repo", str(demo_repo.root)]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = on_a_terminal(args, env)
    assert "\x1b[32mpassing\x1b[0m" in coloured
    assert "\x1b[" not in on_a_terminal(args, {**env, "NO_COLOR": "1"})
    piped = subprocess.run([straw_executable(), *args], capture_output=True, text=True, env=env)
    assert piped.returncode == 0 and "status   passing:" in piped.stdout and "\x1b[" not in piped.stdout


def test_shell_completion_offers_batch_and_case_ids(demo_repo: CaseRepo) -> None:
    batch = batches.create_batch(demo_repo)
    env = {**os.environ, "_STRAW_COMPLETE": "bash_complete", "STRAW_REPO": str(demo_repo.root)}

    def complete(words: str) -> list[str]:
        proc = subprocess.run([straw_executable()], capture_output=True, text=True, check=True,
                              env={**env, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)})
        return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if "," in line]

    assert complete("straw gate ") == sorted([batch.id, "latest"])
    assert complete(f"straw batch show {batch.id[:8]}") == [batch.id]
    case = demo_repo.load().split("pending")[-1]
    assert complete(f"straw show {case.id[:-2]}") == [case.id]
    script = subprocess.run([straw_executable()], capture_output=True, text=True,
                            env={**os.environ, "_STRAW_COMPLETE": "bash_source"})
    assert "_straw_completion" in script.stdout
