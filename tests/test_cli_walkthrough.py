"""What a new user's walkthrough tripped over, each as the user met it: a merged batch tuned
again, a broken case carried into a batch, an import that moved every case to pending without a
word, a setting that is never read, a rejected batch that could not be shown, exit codes that
said "ok" for a wrong id, a typo in straw.toml that stopped `straw list`, and an error naming a
file that was never written. Real repositories, the real CLI; no model is trained here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import git
from report_helpers import merge_by_rule, rule_report

from repo_store import batches, gitio
from repo_store.errors import UsageError, ValidationFailed
from repo_store.repo import CaseRepo
from repo_store.reports import write_report
from tuning.tune_data import batch_data

Cli = Any  # the conftest `cli` fixture: cli(*args, repo=PATH) -> CliResult


def tuned(repo: CaseRepo) -> batches.Batch:
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, rule_report(repo, batch.id))
    return batch


def test_a_merged_batch_is_not_tuned_or_updated_again(demo_repo: CaseRepo, cli: Cli) -> None:
    batch = tuned(demo_repo)
    merge_by_rule(demo_repo, batch.id)
    tip = gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}")
    assert tip is not None, "the branch outlives the merge: that is how the bug could happen"
    with pytest.raises(UsageError, match="already merged: nothing to tune"):
        batch_data(demo_repo, batch.id)
    result = cli("tune", batch.id, repo=demo_repo.root)
    assert result.exit_code == 2 and "already merged" in result.stderr
    update = cli("batch", "update", batch.id, repo=demo_repo.root)
    assert update.exit_code == 2 and "already merged" in update.stderr
    assert gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}") == tip


def break_on_main(repo: CaseRepo, case_id: str) -> None:
    """A case file broken by hand and committed past the hook, as a hurried user might."""
    path = repo.root / "cases" / "pending" / f"{case_id}.json"
    path.write_text('{"id": "' + case_id + '", "input": ', encoding="utf-8")
    git(repo.root, "add", str(path))
    git(repo.root, "commit", "-q", "--no-verify", "-m", "oops")


def test_batch_update_refuses_to_carry_a_broken_case_and_writes_nothing(demo_repo: CaseRepo,
                                                                         cli: Cli) -> None:
    batch = batches.create_batch(demo_repo)
    tip = gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}")
    break_on_main(demo_repo, batch.cases[0])  # one of the batch's own cases, edited on main
    result = cli("batch", "update", batch.id, repo=demo_repo.root)
    assert result.exit_code == 1
    assert f"{batch.branch}: merging main would bring " in result.stderr
    assert "malformed JSON" in result.stderr and "fix it on main first" in result.stderr
    assert gitio.rev(demo_repo.git, f"refs/heads/{batch.branch}") == tip


def test_a_broken_case_on_a_batch_branch_is_named_with_the_branch(demo_repo: CaseRepo,
                                                                   cli: Cli) -> None:
    batch = batches.create_batch(demo_repo)
    git(demo_repo.root, "switch", "-q", batch.branch)
    broken = demo_repo.root / "cases" / "baseline" / f"{batch.cases[0]}.json"
    broken.write_text("{", encoding="utf-8")
    git(demo_repo.root, "commit", "-q", "--no-verify", "-am", "broken on the branch")
    git(demo_repo.root, "switch", "-q", "main")
    with pytest.raises(ValidationFailed) as failed:
        batches.split_cases(demo_repo, batch.id)
    # on main that case is still pending and fine: the message must say where it is broken
    assert str(failed.value).startswith(f"{batch.branch}:cases/baseline/{batch.cases[0]}.json::$")
    # main moves on: updating is not refused for what the branch broke itself (main is fine)
    assert cli("add", "--input", "a question added on main", "--expected", "billing",
               repo=demo_repo.root).exit_code == 0
    update = cli("batch", "update", batch.id, repo=demo_repo.root)
    assert update.exit_code == 0, update.stderr


def test_import_says_that_the_rows_own_split_was_ignored(demo_repo: CaseRepo, cli: Cli,
                                                         make_case_repo: Any, tmp_path: Path) -> None:
    exported = tmp_path / "all.jsonl"
    assert cli("export", "-o", str(exported), repo=demo_repo.root).exit_code == 0
    splits = [json.loads(line)["split"] for line in exported.read_text().splitlines()]
    other = make_case_repo("other")
    result = cli("import", str(exported), repo=other.root)
    assert result.exit_code == 0, result.output
    assert f"imported {len(splits)} pending cases" in result.stdout
    assert f"{splits.count('baseline')} said 'baseline'" in result.stderr
    assert "the baseline changes only through a batch" in result.stderr
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"input": "a new question", "expected": "billing"}) + "\n")
    quiet = cli("import", str(plain), repo=other.root)
    assert quiet.exit_code == 0 and "note" not in quiet.stderr and "1 pending case from" in quiet.stdout


def test_a_setting_that_is_never_read_cannot_be_set(demo_repo: CaseRepo, cli: Cli) -> None:
    before = gitio.rev(demo_repo.git, "main")
    result = cli("config", "set", "monitor.alert_command", "mail ops", repo=demo_repo.root)
    assert result.exit_code == 2
    assert "never read from straw.toml" in result.stderr and "git config straw.alertCommand" in result.stderr
    assert gitio.rev(demo_repo.git, "main") == before
    shown = cli("config", repo=demo_repo.root).stdout
    assert "alert_command = ''  # ignored" in shown
    unknown = cli("config", "set", "monitor.nope", "1", repo=demo_repo.root)
    assert unknown.exit_code == 2 and "monitor.alert_command" not in unknown.stderr


def test_a_rejected_batch_can_still_be_shown(demo_repo: CaseRepo, cli: Cli) -> None:
    batch = tuned(demo_repo)
    assert cli("reject", batch.id, "--reason", "labels disputed", repo=demo_repo.root).exit_code == 0
    shown = cli("batch", "show", batch.id, repo=demo_repo.root)
    assert shown.exit_code == 0, shown.stderr
    assert "rejected" in shown.stdout and "labels disputed" in shown.stdout
    assert "report   model" in shown.stdout  # the last report, from the archive tag
    as_json = json.loads(cli("batch", "show", batch.id, "--json", repo=demo_repo.root).stdout)
    assert as_json["status"] == "rejected"
    gate = cli("gate", batch.id, repo=demo_repo.root)  # nothing can act on it
    assert gate.exit_code == 2 and "rejected" in gate.stderr


def test_a_wrong_id_exits_2_everywhere(demo_repo: CaseRepo, cli: Cli, tmp_path: Path) -> None:
    log = cli("log", "c-nope", repo=demo_repo.root)
    assert log.exit_code == 2 and "no case 'c-nope'" in log.stderr
    pending = demo_repo.load().split("pending")[0].id
    ok = cli("log", pending, repo=demo_repo.root)  # a real case: its history, exit 0
    assert ok.exit_code == 0 and "pending  Add 40 demo pending cases" in ok.stdout
    exported = cli("export-model", "zzzz", str(tmp_path / "out"), repo=demo_repo.root)
    assert exported.exit_code == 2 and "'zzzz' is not a model hash" in exported.stderr
    batch = tuned(demo_repo)  # no production model yet: the report has no flips
    flips = cli("flips", batch.id, repo=demo_repo.root)
    assert flips.exit_code == 2 and "no production model" in flips.stderr


def test_a_typo_in_straw_toml_stops_only_what_reads_it(demo_repo: CaseRepo, cli: Cli) -> None:
    config = demo_repo.root / "straw.toml"
    config.write_text(config.read_text() + "\n[train]\nepoch_per_round = 3\n"
                      if "[train]" not in config.read_text()
                      else config.read_text().replace("[train]", "[train]\nepoch_per_round = 3", 1))
    listed = cli("list", "--split", "pending", repo=demo_repo.root)
    assert listed.exit_code == 0 and listed.stdout.count("\n") > 10
    validated = cli("validate", repo=demo_repo.root)
    assert validated.exit_code == 1 and "straw.toml::$.train" in validated.output
    assert "epoch_per_round" in validated.output


def test_a_refused_add_names_no_file(demo_repo: CaseRepo, cli: Cli) -> None:
    before = sorted((demo_repo.root / "cases" / "pending").iterdir())
    taken = demo_repo.load().split("pending")[0]
    for given in ("", taken.input):
        result = cli("add", "--input", given, "--expected", "billing", repo=demo_repo.root)
        assert result.exit_code == 1
        assert result.stderr.startswith("straw: the new case (nothing written)::$.")
        assert "cases/pending/" not in result.stderr
    assert sorted((demo_repo.root / "cases" / "pending").iterdir()) == before


def test_init_again_and_an_empty_monitor_log_say_so(demo_repo: CaseRepo, cli: Cli) -> None:
    again = cli("init", str(demo_repo.root), "--demo")
    assert again.exit_code == 0 and "demo cases not copied" in again.stdout
    assert "What to do next" not in again.stdout  # the first batch is not next in a used repo
    runs = cli("log", "--monitor", repo=demo_repo.root)
    assert runs.exit_code == 0 and runs.stdout == ""
    assert "no monitor runs recorded" in runs.stderr


def test_list_shows_a_one_of_expected_as_json(demo_repo: CaseRepo, cli: Cli) -> None:
    added = cli("add", "--input", "pick one of two", "--expected", "billing|benign", "--match",
                "one_of", repo=demo_repo.root)
    assert added.exit_code == 0, added.stderr
    listed = cli("list", "--search", "pick one of two", repo=demo_repo.root).stdout
    assert '["billing", "beni…' in listed and "['billing'" not in listed  # cut at 18 columns


def test_an_expected_json_value_straw_could_not_read_back_is_refused(demo_repo: CaseRepo,
                                                                     cli: Cli) -> None:
    """`NaN` and `1e999` parse with json.loads and would be written as a case file that straw's
    strict reader then refuses: the CLI and the TUI's form share curation.parse_expected."""
    before = sorted((demo_repo.root / "cases" / "pending").iterdir())
    for value in ("NaN", '{"score": 1e999}'):
        result = cli("add", "--input", f"a question {value}", "--expected", value, "--match", "json",
                     repo=demo_repo.root)
        assert result.exit_code == 2 and "--expected: not valid JSON for the json rule" in result.stderr
    assert sorted((demo_repo.root / "cases" / "pending").iterdir()) == before
    assert cli("validate", repo=demo_repo.root).exit_code == 0


def test_a_rollback_reason_with_control_bytes_cannot_break_the_log(demo_repo: CaseRepo,
                                                                   cli: Cli) -> None:
    from repo_store import history, lockfile

    models = ["sha256:" + "a1" * 32, "sha256:" + "a2" * 32]
    for model in models:
        batch = batches.create_batch(demo_repo)
        write_report(demo_repo, batch.id, rule_report(demo_repo, batch.id, model=model))
        merge_by_rule(demo_repo, batch.id, model=model)
    result = cli("rollback", models[0][7:19], "--force", "--reason", "bad\x1ebytes\x1d here",
                 repo=demo_repo.root)
    assert result.exit_code == 0, result.stderr
    log = history.baseline_log(demo_repo)  # the log splits records on those bytes
    assert log[0].kind == "rollback" and log[0].reason == "bad\\u001ebytes\\u001d here"
    assert cli("log", repo=demo_repo.root).exit_code == 0
    assert lockfile.read_lock(demo_repo)["model"] == models[0]  # type: ignore[index]


def test_verify_names_a_rollback_score_that_cannot_be_true(demo_repo: CaseRepo, cli: Cli) -> None:
    """A rollback records the score straw measured; one committed by hand with plain git is a
    claim: verify checks what it can without running the model (one score, of that baseline)."""
    from repo_store import lockfile

    models = ["sha256:" + "b1" * 32, "sha256:" + "b2" * 32]
    for model in models:
        batch = batches.create_batch(demo_repo)
        write_report(demo_repo, batch.id, rule_report(demo_repo, batch.id, model=model))
        merge_by_rule(demo_repo, batch.id, model=model)
    total = len(demo_repo.load_ref("main").split("baseline"))
    target = lockfile.earlier_version(demo_repo, models[0]).lock
    lockfile.rollback_to(demo_repo, target, "measured", {"passed": total - 3, "total": total})
    assert cli("verify", repo=demo_repo.root).exit_code == 0  # what straw writes passes
    lock = {**target, "reason": "rollback", "baseline": {"passed": 999, "total": 999}}
    (demo_repo.root / "models.lock").write_text(json.dumps(lock, indent=2) + "\n")
    git(demo_repo.root, "commit", "-q", "--no-verify", "-am",
        f"Roll back\n\nforged\n\nStraw-Rollback: x\nStraw-Model: {models[0]}\n"
        f"Straw-Baseline: 999/999\nRolled-back-by: M <m@x>")
    verified = cli("verify", repo=demo_repo.root)
    assert verified.exit_code == 1
    assert f"claims 999/999 baseline cases pass, but main had {total} baseline cases" in verified.output
