"""Monitor, rollback, compare and the customer report on a real repository with real (tiny)
models: a good model merged through the gate, then a bad deploy of models.lock that the monitor
catches and rolls back, with `git log` showing the rollback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from conftest import git
from prod_helpers import bad_model, copy_repo, deploy_by_hand

from repo_store import config, curation, history, lockfile, monitor_log
from repo_store.customer_report import render_html
from repo_store.errors import UsageError
from repo_store.forgetting import bwt, mcnemar
from repo_store.gitio import commit_paths
from repo_store.repo import CaseRepo, open_case_repo
from tuning.compare import compare_models
from tuning.evaluate import evaluate
from tuning.model_store import ModelStore
from tuning.monitor import run_monitor


@pytest.fixture
def repo(good: Path, tmp_path: Path) -> CaseRepo:
    return copy_repo(good, tmp_path / "repo")


_bad_model = bad_model
_bad_deploy = deploy_by_hand


def test_healthy_model_is_recorded_off_main(repo: CaseRepo) -> None:
    main_before = git(repo.root, "rev-parse", "main").stdout
    result = run_monitor(repo)
    assert result.healthy and result.passed == result.total == 10
    entries = monitor_log.read_entries(repo)
    assert entries[-1]["action"] == "ok" and entries[-1]["model"] == result.model
    assert git(repo.root, "rev-parse", "main").stdout == main_before  # an ok run: no commit on main
    assert "(ok)" in git(repo.root, "log", "-1", "--format=%s", monitor_log.BRANCH).stdout
    assert git(repo.root, "status", "--porcelain").stdout == ""


def test_bad_deploy_alerts_and_rolls_back(repo: CaseRepo, tmp_path: Path) -> None:
    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    bad = _bad_model(repo)
    _bad_deploy(repo, bad)
    marker, deployed = tmp_path / "alert.txt", tmp_path / "deployed.txt"
    git(repo.root, "config", "straw.alertCommand", f"cat > {marker}")
    git(repo.root, "config", "straw.deployCommand",
        f'echo "$STRAW_MODEL_HASH $STRAW_MODEL_DIR" > {deployed}')

    result = run_monitor(repo)
    assert result.action == "rollback" and result.rolled_back_to == good_model
    assert result.passed < result.total and result.failing
    assert lockfile.read_lock(repo)["model"] == good_model  # type: ignore[index]
    assert "ALERT" in marker.read_text() and bad[:19] in marker.read_text()
    entry = monitor_log.read_entries(repo)[-1]
    assert entry["action"] == "rollback" and entry["model"] == bad
    model_hash, folder = deployed.read_text().split()
    assert model_hash == good_model and (Path(folder) / "config.json").is_file()
    assert json.loads((Path(folder) / "config.json").read_text())["id2label"]
    log = history.baseline_log(repo)
    assert log[0].kind == "rollback" and log[0].model == good_model
    assert run_monitor(repo).healthy  # production is good again


def test_no_passing_rollback_target_changes_nothing(repo: CaseRepo) -> None:
    bad = _bad_model(repo)
    _bad_deploy(repo, bad)
    before = lockfile.read_lock(repo)
    # the good model is gone from the store: nothing earlier can be evaluated
    import shutil

    good_model = [v.lock["model"] for v in lockfile.lock_history(repo) if v.lock["model"] != bad][0]
    shutil.rmtree(ModelStore(repo.model_store).folder(good_model))
    result = run_monitor(repo)
    assert result.action == "alert" and result.rolled_back_to is None
    assert lockfile.read_lock(repo) == before
    assert "nothing changed" in result.summary()


def test_failing_alert_command_is_reported_and_result_recorded(repo: CaseRepo) -> None:
    _bad_deploy(repo, _bad_model(repo))
    git(repo.root, "config", "straw.alertCommand", "echo boom >&2; exit 7")
    main_before = git(repo.root, "rev-parse", "main").stdout
    result = run_monitor(open_case_repo(repo.root), rollback=False)
    assert result.action == "alert"
    assert any("exited 7" in n and "boom" in n for n in result.notes)
    assert monitor_log.read_entries(repo)[-1]["notes"] == result.notes
    assert git(repo.root, "rev-parse", "main").stdout != main_before  # an alert is a commit on main
    assert git(repo.root, "show", f"main:{monitor_log.LOG_FILE}").stdout.count("\n") == 1


def test_a_committed_alert_command_never_runs(repo: CaseRepo, tmp_path: Path, cli) -> None:  # noqa: ANN001
    _bad_deploy(repo, _bad_model(repo))
    pwned = tmp_path / "pwned"
    config.write(repo.root, {"monitor": {"alert_command": f"touch {pwned}"}})
    commit_paths(repo.root, ["straw.toml"], "pulled from someone")
    result = cli("monitor", "--no-rollback", repo=repo.root)
    assert result.exit_code == 1 and "ALERT" in result.stderr
    assert "alert_command is ignored" in result.stderr and "git config straw.alertCommand" in result.stderr
    assert not pwned.exists()


def test_a_pulled_prediction_cache_is_not_believed(repo: CaseRepo) -> None:
    """Issue 12 item 9: a cache claiming every answer is wrong changes nothing; the model runs."""
    from tuning.cases_io import input_key

    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    cache = ModelStore(repo.model_store).root / "predictions" / f"{good_model[7:]}.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("".join(json.dumps({"key": input_key(c, 16), "predicted": "nonsense"}) + "\n"
                             for c in repo.load_ref("main").cases))
    assert run_monitor(repo).healthy


def test_monitor_refusals(repo: CaseRepo, tmp_path: Path, cli) -> None:  # noqa: ANN001
    from repo_store.setup import init_case_repo

    empty, _ = init_case_repo(tmp_path / "empty")
    with pytest.raises(UsageError, match="no production model yet"):
        run_monitor(empty)
    assert cli("monitor", "--repo", str(empty.root)).exit_code == 2
    _bad_deploy(repo, "sha256:" + "0" * 64)
    with pytest.raises(UsageError, match="not in the model store"):
        run_monitor(repo)


def test_two_monitors_at_once_both_record(repo: CaseRepo) -> None:
    errors: list[BaseException] = []

    def one() -> None:
        try:
            run_monitor(open_case_repo(repo.root))
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(monitor_log.read_entries(repo)) == 2
    assert git(repo.root, "rev-list", "--count", monitor_log.BRANCH).stdout.strip() == "2"


def test_compare_and_mcnemar(repo: CaseRepo) -> None:
    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    bad = _bad_model(repo)
    c = compare_models(repo, good_model, bad, "baseline")
    assert c.shared == 10 and c.a_passed == 10 and c.b_passed < 10
    assert len(c.broken) == 10 - c.b_passed and not c.fixed
    assert c.test.p_value < 0.05 or len(c.broken) < 6
    assert mcnemar([True] * 5, [True] * 5).p_value == 1.0
    assert mcnemar([True] * 10, [False] * 10).p_value == pytest.approx(2 / 1024)


def test_bwt_from_merged_reports(repo: CaseRepo) -> None:
    report = evaluate(repo, None, "baseline")
    now = {row["id"]: row["pass"] for row in report["cases"]}
    assert bwt(repo, now) == 0.0  # still passes everything the batch passed when merged
    assert bwt(repo, {k: False for k in now}) == -1.0


def test_customer_report_escapes_and_lists_every_case(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    curation.add_case(repo, input="[bold]שלום[/] <script>x</script>", expected="greeting")
    lock = lockfile.read_lock(repo)
    report = evaluate(repo, None, "baseline")
    page = render_html(lock, report, {c.id: c for c in repo.load().cases})  # type: ignore[arg-type]
    assert page.count('<tr class="passing"><td>') + page.count('<tr class="failing"><td>') == 10
    assert "dir=\"auto\"" in page
    out = repo.root / "contract.html"
    result = cli("report", "--html", "-o", str(out), "--repo", str(repo.root))
    assert result.exit_code == 0 and "10/10" in result.stdout and out.read_text().startswith("<!doctype")


def test_rollback_by_hand_from_the_cli(repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    from straw.cli import main

    def straw(*args: str) -> int:
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--repo", str(repo.root)])
        return int(exit_info.value.code or 0)

    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    assert straw("rollback", good_model[7:19]) == 2  # the current model
    assert "production already" in capsys.readouterr().err
    _bad_deploy(repo, "sha256:" + "cd" * 32)
    assert straw("rollback", "abcdef123") == 2
    assert f"earlier versions: {good_model[7:19]}" in capsys.readouterr().err
    assert straw("rollback", good_model[7:19], "--reason", "hotfix misroutes billing") == 0
    assert good_model[:19] in capsys.readouterr().out
    assert lockfile.read_lock(repo)["model"] == good_model  # type: ignore[index]
    log = history.baseline_log(repo)
    assert log[0].kind == "rollback" and log[0].model == good_model
    assert log[0].reason == "hotfix misroutes billing"  # History's detail shows it
    assert all(e.reason is None for e in log if e.kind != "rollback")
    assert "hotfix misroutes billing" in last_commit_message(repo)
    # measured on today's baseline before the commit, never copied from the old model's day
    assert "Straw-Baseline: 10/10" in last_commit_message(repo)
    assert lockfile.read_lock(repo)["baseline"] == {"passed": 10, "total": 10}  # type: ignore[index]


def test_rollback_by_hand_to_a_model_below_the_threshold_needs_force(
        repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    from straw.cli import main

    def straw(*args: str) -> int:
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--repo", str(repo.root), "--quiet"])
        return int(exit_info.value.code or 0)

    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    bad = _bad_model(repo)
    _bad_deploy(repo, bad)
    _bad_deploy(repo, good_model)  # production is good again; the bad one is in the history
    main_before = git(repo.root, "rev-parse", "main").stdout
    assert straw("rollback", bad[7:19]) == 1
    refused = capsys.readouterr().err
    assert f"{bad[:19]} passes " in refused and "/10 of main's baseline cases" in refused
    assert "--force" in refused and "would roll it back again" in refused
    assert git(repo.root, "rev-parse", "main").stdout == main_before
    assert straw("rollback", bad[7:19], "--force") == 0
    out, err = capsys.readouterr()
    assert f"production is {bad[:19]} again" in out and "below the monitor's threshold" in err
    assert lockfile.read_lock(repo)["model"] == bad  # type: ignore[index]
    passed = lockfile.read_lock(repo)["baseline"]["passed"]  # type: ignore[index]
    assert passed < 10 and f"Straw-Baseline: {passed}/10" in last_commit_message(repo)


def test_rollback_by_hand_to_a_model_that_cannot_run_here(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    """The emergency path: a model whose stored files no longer hash to its name cannot be
    checked; the refusal is one line (exit 2), and --force rolls back without a score."""
    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    bad = _bad_model(repo)
    _bad_deploy(repo, bad)
    _bad_deploy(repo, good_model)
    folder = ModelStore(repo.model_store).folder(bad)
    weights = max(folder.rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else -1)
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    main_before = git(repo.root, "rev-parse", "main").stdout
    refused = cli("rollback", bad[7:19], repo=repo.root)
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"{bad[:19]} cannot be checked on main's baseline here: " in refused.stderr
    assert "--force rolls back all the same" in refused.stderr
    assert git(repo.root, "rev-parse", "main").stdout == main_before
    forced = cli("rollback", bad[7:19], "--force", repo=repo.root)
    assert forced.exit_code == 0, forced.stderr
    assert f"production is {bad[:19]} again" in forced.stdout and "not checked (" in forced.stdout
    assert lockfile.read_lock(repo)["model"] == bad  # type: ignore[index]
    assert "Straw-Baseline" not in last_commit_message(repo)  # nothing measured: nothing claimed


def test_straw_report_shows_the_monitors_score_for_an_unscored_version(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    """A models.lock commit without a score (an older straw's rollback, or `--force` without the
    model): `straw report` shows what the monitor measured of that model since."""
    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    bad = _bad_model(repo)
    _bad_deploy(repo, bad)
    _bad_deploy(repo, good_model)
    lockfile.rollback_to(repo, lockfile.earlier_version(repo, bad).lock, "as an older straw did")
    measured = run_monitor(open_case_repo(repo.root), rollback=False)
    assert measured.passed < measured.total
    page = cli("report", "--format", "markdown", repo=repo.root)
    assert page.exit_code == 0, page.stderr
    assert f"{measured.passed}/{measured.total} measured by the monitor" in page.stdout


def test_eval_of_the_watch_split_shows_the_watch_score(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    """`straw eval --split watch` used to print only the (empty) baseline and new scores."""
    added = cli("add", "--split", "watch", "--input", "hello, good morning", "--expected", "billing",
                repo=repo.root)
    assert added.exit_code == 0, added.stderr
    result = cli("eval", "--split", "watch", repo=repo.root)
    assert ", watch 0/1 (in no threshold: see flips)" in result.stdout, result.output


def last_commit_message(repo: CaseRepo) -> str:
    import subprocess

    return subprocess.run(["git", "log", "-1", "--format=%B", "main"], cwd=repo.root,
                          capture_output=True, text=True, check=True).stdout


def test_log_and_the_tui_read_runs_from_the_monitor_branch(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    import asyncio

    from textual.widgets import DataTable

    from tui import make_app

    run_monitor(repo)
    _bad_deploy(repo, _bad_model(repo))
    run_monitor(open_case_repo(repo.root))
    result = cli("log", "--monitor", repo=repo.root)
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 2
    assert " ok " in lines[0] and "in-process" in lines[0] and " rollback " in lines[1] and "→" in lines[1]
    assert [r["action"] for r in json.loads(cli("log", "--monitor", "--json", repo=repo.root).stdout)] == \
        ["ok", "rollback"]

    async def screen() -> list[str]:
        app = make_app(repo.root)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("5")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.screen.query_one("#runs-table", DataTable)
            return [str(table.get_row_at(n)[-1]) for n in range(table.row_count)]

    assert asyncio.run(screen()) == ["rollback", "ok"]  # newest first


def test_deploy_command_runs_after_merge_and_its_failure_is_exit_1(repo: CaseRepo, tmp_path: Path,
                                                                    cli) -> None:  # noqa: ANN001
    from repo_store import batches

    deployed = tmp_path / "deployed.txt"
    git(repo.root, "config", "straw.deployCommand",
        f'echo "$STRAW_MODEL_HASH $STRAW_MODEL_DIR" >> {deployed}')
    for n, text in enumerate(["good evening everyone", "my invoice total is wrong"] * 5):
        curation.add_case(repo, input=f"{text} {n}", expected="greeting" if "evening" in text else "billing")
    batch = batches.create_batch(repo, title="more")
    assert cli("tune", batch.id, repo=repo.root).exit_code == 0
    result = cli("merge", batch.id, repo=repo.root)
    assert result.exit_code == 0, result.output
    merged = lockfile.read_lock(open_case_repo(repo.root))["model"]  # type: ignore[index]
    model_hash, folder = deployed.read_text().split()
    assert model_hash == merged and (Path(folder) / "model.safetensors").is_file()

    git(repo.root, "config", "straw.deployCommand", "echo registry refused >&2; exit 3")
    earlier = lockfile.lock_history(repo)[1].lock["model"]
    result = cli("rollback", earlier[7:19], repo=repo.root)
    assert result.exit_code == 1
    assert "deploy_command exited 3: registry refused" in result.stderr
    assert f"production on main is {earlier[:19]} all the same" in result.stderr
    assert lockfile.read_lock(open_case_repo(repo.root))["model"] == earlier  # type: ignore[index]
