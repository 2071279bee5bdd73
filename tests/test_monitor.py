"""Monitor, rollback, compare and the customer report on a real repository with real (tiny)
models: a good model merged through the gate, then a bad deploy of models.lock that the monitor
catches and rolls back, with `git log` showing the rollback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from repo_store import batches, config, curation, history, lockfile, monitor_log
from repo_store.customer_report import render_html
from repo_store.errors import UsageError
from repo_store.forgetting import bwt, mcnemar
from repo_store.gitio import commit_paths
from repo_store.ids import now_iso
from repo_store.repo import CaseRepo, open_case_repo
from tuning import backends
from tuning.backends.base import Example, settings_from_config
from tuning.compare import compare_models
from tuning.evaluate import evaluate
from tuning.model_store import ModelStore
from tuning.monitor import run_monitor
from tuning.recheck import merge_checked
from tuning.tune import tune_batch

CASES = {
    "greeting": ["hello there friend", "good morning to you", "hi how are you doing",
                 "hey nice to meet you", "greetings and salutations"],
    "billing": ["refund my invoice charge", "why was my card charged twice", "invoice payment failed",
                "billing statement is wrong", "cancel the subscription charge"],
}


def _good_repo(root: Path, tiny: Path) -> CaseRepo:
    from repo_store.setup import init_case_repo

    repo, _ = init_case_repo(root)
    config.write(repo.root, {
        "model": {"base": str(tiny), "max_length": 16},
        "train": {"learning_rate": 5e-3, "epochs_per_round": 10, "batch_size": 8,
                  "max_iterations": 4},
    })
    commit_paths(repo.root, ["straw.toml"], "tiny model")
    repo = open_case_repo(repo.root)
    texts = [(label, text) for label, group in CASES.items() for text in group]
    for n, (label, text) in enumerate(texts):  # fixed ids: training order follows them
        curation.add_case(repo, input=text, expected=label, tags=["[bold]x[/]"],
                          case_id=f"c-20261101-{n:08x}", created=f"2026-11-01T00:00:{n:02d}Z")
    batch = batches.create_batch(repo, all_pending=True, title="first baseline")
    report = tune_batch(repo, batch.id)
    assert report["summary"]["passed"], report["rounds"]
    merge_checked(repo, batch.id)
    return repo


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, tiny_classifier: Path) -> Path:
    """A repository whose production model passes its 10-case baseline (built once; tests copy)."""
    import os

    for key, value in {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
                       "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}.items():
        os.environ.setdefault(key, value)
    return _good_repo(tmp_path_factory.mktemp("good") / "repo", tiny_classifier).root


@pytest.fixture
def repo(good: Path, tmp_path: Path) -> CaseRepo:
    import shutil

    shutil.copytree(good, tmp_path / "repo", symlinks=True)
    return open_case_repo(tmp_path / "repo")


def _bad_model(repo: CaseRepo) -> str:
    """A model trained on swapped labels, stored like any other: what a bad deploy ships."""
    model_s, train_s = settings_from_config(repo.config)
    backend = backends.create(model_s, train_s)
    backend.load(model_s.base)
    swap = {"greeting": "billing", "billing": "greeting"}
    examples = [Example(t, swap[label]) for label, texts in CASES.items() for t in texts]
    backend.prepare(examples)
    backend.train(examples, 10, None, seed=0)
    return ModelStore(repo.model_store).save(backend, {"base": model_s.base, "created": now_iso()})


def _bad_deploy(repo: CaseRepo, model: str) -> None:
    lock = {**(lockfile.read_lock(repo) or {}), "model": model, "promoted": now_iso()}
    (repo.root / "models.lock").write_text(json.dumps(lock, indent=2) + "\n")
    commit_paths(repo.root, ["models.lock"], "deploy hotfix model")


def test_healthy_model_is_recorded(repo: CaseRepo) -> None:
    result = run_monitor(repo)
    assert result.healthy and result.passed == result.total == 10
    entries = monitor_log.read_entries(repo)
    assert entries[-1]["action"] == "ok" and entries[-1]["model"] == result.model


def test_bad_deploy_alerts_and_rolls_back(repo: CaseRepo, tmp_path: Path) -> None:
    good_model = lockfile.read_lock(repo)["model"]  # type: ignore[index]
    bad = _bad_model(repo)
    _bad_deploy(repo, bad)
    marker = tmp_path / "alert.txt"
    config.write(repo.root, {"monitor": {"alert_command": f"cat > {marker}"}})
    commit_paths(repo.root, ["straw.toml"], "alert to a file")
    repo = open_case_repo(repo.root)

    result = run_monitor(repo)
    assert result.action == "rollback" and result.rolled_back_to == good_model
    assert result.passed < result.total and result.failing
    assert lockfile.read_lock(repo)["model"] == good_model  # type: ignore[index]
    assert "ALERT" in marker.read_text() and bad[:19] in marker.read_text()
    entry = monitor_log.read_entries(repo)[-1]
    assert entry["action"] == "rollback" and entry["model"] == bad
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
    config.write(repo.root, {"monitor": {"alert_command": "echo boom >&2; exit 7"}})
    commit_paths(repo.root, ["straw.toml"], "broken alert")
    result = run_monitor(open_case_repo(repo.root), rollback=False)
    assert result.action == "alert"
    assert any("exited 7" in n and "boom" in n for n in result.notes)
    assert monitor_log.read_entries(repo)[-1]["notes"] == result.notes


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
    assert page.count("<tr><td>") == 10 and "dir=\"auto\"" in page
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
    assert "hotfix misroutes billing" in last_commit_message(repo)


def last_commit_message(repo: CaseRepo) -> str:
    import subprocess

    return subprocess.run(["git", "log", "-1", "--format=%B", "main"], cwd=repo.root,
                          capture_output=True, text=True, check=True).stdout
