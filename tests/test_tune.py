"""The tune loop and eval on real case repositories (real git, a tiny real model), the CLI faces,
cancellation by event and by SIGTERM to a subprocess, and one end-to-end run of the embedded
MiniLM on the demo cases through `straw tune`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from repo_store import batches, gitio, lockfile, reports, schemas
from repo_store.cases import case_path, serialize
from repo_store.errors import StrawError, ValidationFailed
from repo_store.repo import open_case_repo
from tuning.errors import Cancelled
from tuning.evaluate import evaluate
from tuning.model_store import ModelStore
from tuning.progress import RoundDone, Saved, Step
from tuning.tune import tune_batch

ROOT = Path(__file__).resolve().parents[1]

BASELINE = {
    "refund": ["please refund my order", "I want my money back", "refund the charge now",
               "give me a refund for this", "return my payment please", "money back for order"],
    "shipping": ["where is my parcel", "my package has not arrived", "track my delivery",
                 "when will the box ship", "delivery is late again", "parcel tracking number"],
}
NEW = {
    "refund": ["refund me for the broken lamp", "I need my money returned"],
    "account": ["reset my password", "cannot log in to my account", "change my email address"],
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuning.testing import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-tune") / "model")


def case(case_id: str, text: str, label: str) -> dict:
    return {"id": case_id, "input": text, "expected": label, "match": "label",
            "created": "2026-01-01T00:00:00Z", "author": "Test Author <author@example.com>"}


def commit(root: Path, paths: list[str], message: str) -> None:
    subprocess.run(["git", "add", "--", *paths], cwd=root, check=True)
    subprocess.run(["git", "commit", "--no-verify", "-q", "-m", message, "--", *paths], cwd=root,
                   check=True)


def write_config(root: Path, tiny_model: Path, model: dict | None = None, **train) -> None:
    settings = {"learning_rate": 5e-3, "epochs_per_round": 10, "batch_size": 8,
                "max_iterations": 4, "new_case_weight": 2, **train}
    lines = ["[model]", f'base = "{tiny_model}"', "max_length = 32"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in (model or {}).items()]
    lines += ["", "[train]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ["", "[batch]", "min_size = 1"]
    (root / "straw.toml").write_text("\n".join(lines) + "\n")
    commit(root, ["straw.toml"], "tiny model config")


@pytest.fixture
def tiny_repo(make_case_repo, tiny_model: Path):
    """A repository with a 12-case baseline on main and 5 pending cases (one new label), whose
    straw.toml names the tiny model; returns (repo, batch id)."""
    repo = make_case_repo("tiny")
    write_config(repo.root, tiny_model)
    paths = []
    for split, table in (("baseline", BASELINE), ("pending", NEW)):
        for label, texts in table.items():
            for i, text in enumerate(texts):
                data = case(f"{split[0]}-{label}-{i}", text, label)
                path = case_path(split, data["id"])
                (repo.root / path).parent.mkdir(parents=True, exist_ok=True)
                (repo.root / path).write_bytes(serialize(data))
                paths.append(path)
    commit(repo.root, paths, "cases")
    repo = open_case_repo(repo.root)
    batch = batches.create_batch(repo)
    return repo, batch.id


def test_tune_reaches_the_gate_and_commits_a_valid_report(tiny_repo) -> None:
    repo, batch_id = tiny_repo
    events: list = []
    tree = repo.cases_tree(f"batch/{batch_id}")
    report = tune_batch(repo, batch_id, progress=events.append)
    schemas.check("report", report, "report")
    assert report["summary"]["passed"], report["rounds"]
    assert report["summary"]["new"] == {"passed": 5, "total": 5}
    assert report["cases_tree"] == tree and report["model"]["started_from"] == "base"
    assert report["previous_model"] is None and report["blame"] == []
    committed = reports.read_report(repo, batch_id)
    assert committed == report
    assert ModelStore(repo.model_store).has(report["model"]["hash"])
    assert any(isinstance(e, Step) for e in events)
    assert [e.round for e in events if isinstance(e, RoundDone)] == [r["round"] for r in report["rounds"]]
    assert [e for e in events if isinstance(e, Saved)] == [Saved(report["model"]["hash"])]

    # eval reproduces the report's predictions, from the cache and from the weights alone
    ref = f"batch/{batch_id}"
    by_id = {row["id"]: row["predicted"] for row in report["cases"]}
    cached = evaluate(repo, report["model"]["hash"], split="baseline", ref=ref)
    schemas.check("report", cached, "eval")
    assert {row["id"]: row["predicted"] for row in cached["cases"]} == by_id
    for path in (repo.model_store / "predictions").iterdir():
        path.unlink()
    fresh = evaluate(repo, report["model"]["hash"], split="all", ref=ref)
    assert {r["id"]: r["predicted"] for r in fresh["cases"] if r["id"] in by_id} == by_id


def test_the_same_cases_under_other_ids_train_the_same_model(make_case_repo, tiny_model) -> None:
    """Ids are random (`straw add`), so two repositories hold the same cases under ids in
    different orders; examples train in content order, so one seed gives one model."""
    hashes = []
    for name, order in (("ids-up", 1), ("ids-down", -1)):
        repo = make_case_repo(name)
        write_config(repo.root, tiny_model)
        texts = [(split, label, text) for split, table in (("baseline", BASELINE), ("pending", NEW))
                 for label, group in table.items() for text in group]
        paths = []
        for n, (split, label, text) in enumerate(texts):
            data = case(f"c-20260101-{order * n % 997:08x}", text, label)
            paths.append(case_path(split, data["id"]))
            (repo.root / paths[-1]).parent.mkdir(parents=True, exist_ok=True)
            (repo.root / paths[-1]).write_bytes(serialize(data))
        commit(repo.root, paths, "cases")
        repo = open_case_repo(repo.root)
        ids = [c.id for c in repo.load().split("baseline")]
        assert ids == sorted(ids)  # loaded (and, before content order, trained) in id order
        report = tune_batch(repo, batches.create_batch(repo).id)
        hashes.append(report["model"]["hash"])
    assert hashes[0] == hashes[1]


def test_second_batch_tunes_from_production_and_computes_blame(tiny_repo) -> None:
    repo, batch_id = tiny_repo
    first = tune_batch(repo, batch_id)
    lockfile.commit_lock(repo, {
        "model": first["model"]["hash"], "backend": "classifier", "base": first["model"]["base"],
        "batch": batch_id, "promoted": "2026-01-02T00:00:00Z", "reason": "merge"}, "promote")
    extra = [case(f"x-shipping-{i}", text, "shipping")
             for i, text in enumerate(["my courier lost the parcel", "shipment stuck in customs"])]
    paths = []
    for data in extra:
        path = case_path("pending", data["id"])
        (repo.root / path).write_bytes(serialize(data))
        paths.append(path)
    commit(repo.root, paths, "more cases")
    second = batches.create_batch(repo, [d["id"] for d in extra], allow_small=True)
    report = tune_batch(repo, second.id)
    assert report["previous_model"] == first["model"]["hash"]
    assert report["model"]["started_from"] == first["model"]["hash"]
    assert report["blame"] == expected_blame(repo, first["model"]["hash"], report, second.id)


def expected_blame(repo, previous: str, report: dict, batch_id: str) -> list[str]:
    """Baseline cases the previous model passes and the report's model fails, by evaluating both."""
    ref = f"batch/{batch_id}"
    before = {r["id"]: r["pass"] for r in evaluate(repo, previous, "baseline", ref=ref)["cases"]}
    return [r["id"] for r in report["cases"] if r["split"] == "baseline" and before[r["id"]]
            and not r["pass"]]


def test_blame_names_the_baseline_cases_a_worse_model_broke(tiny_repo, tiny_model,
                                                            monkeypatch) -> None:
    repo, batch_id = tiny_repo
    first = tune_batch(repo, batch_id)
    assert first["summary"]["passed"]
    lockfile.commit_lock(repo, {
        "model": first["model"]["hash"], "backend": "classifier", "base": first["model"]["base"],
        "batch": batch_id, "promoted": "2026-01-02T00:00:00Z", "reason": "merge"}, "promote")
    # one short round from the random base model: it cannot keep what production passes
    monkeypatch.setenv("STRAW_NO_IMPRINT", "1")
    write_config(repo.root, tiny_model, model={"start_from": "base"}, max_iterations=1,
                 epochs_per_round=1, learning_rate=1e-5)
    extra = case("x-shipping-0", "my courier lost the parcel", "shipping")
    path = case_path("pending", extra["id"])
    (repo.root / path).write_bytes(serialize(extra))
    commit(repo.root, [path], "one more case")
    repo = open_case_repo(repo.root)
    second = batches.create_batch(repo, [extra["id"]], allow_small=True)
    report = tune_batch(repo, second.id)
    assert not report["summary"]["passed"] and report["model"]["started_from"] == "base"
    assert report["blame"], "a one-step model from random weights should break baseline cases"
    assert report["blame"] == expected_blame(repo, first["model"]["hash"], report, second.id)


def test_tune_takes_several_rounds_and_keeps_the_passing_one(tiny_repo, tiny_model,
                                                            monkeypatch) -> None:
    repo, batch_id = tiny_repo
    monkeypatch.setenv("STRAW_NO_IMPRINT", "1")  # no centroid head: one epoch cannot pass all
    write_config(repo.root, tiny_model, epochs_per_round=3, max_iterations=10)
    repo = open_case_repo(repo.root)
    events: list = []
    report = tune_batch(repo, batch_id, progress=events.append)
    rounds = report["rounds"]
    assert len(rounds) >= 2 and report["summary"]["passed"], rounds
    assert report["best_round"] == rounds[-1]["round"] == len(rounds)
    assert not (rounds[0]["baseline_pass"] == rounds[0]["new_pass"] == 1.0)
    assert [e.round for e in events if isinstance(e, RoundDone)] == list(range(1, len(rounds) + 1))


def test_impossible_cases_exhaust_the_rounds_and_are_named(tiny_repo, tiny_model, cli) -> None:
    """Two batch cases whose first 32 tokens (max_length) are the same but whose labels differ:
    no model can pass both. The tune runs every round, writes a failing report, and names each
    stubborn case with the other as a possible contradiction."""
    repo, _ = tiny_repo
    write_config(repo.root, tiny_model, max_iterations=2)
    stem = "please look at this long message " * 8
    pair = [case("p-one", stem + "about a refund", "refund"),
            case("p-two", stem + "about shipping", "shipping")]
    paths = []
    for data in pair:
        path = case_path("pending", data["id"])
        (repo.root / path).write_bytes(serialize(data))
        paths.append(path)
    commit(repo.root, paths, "an impossible pair")
    repo = open_case_repo(repo.root)
    batch = batches.create_batch(repo, ["p-one", "p-two"], allow_small=True)
    result = cli("tune", batch.id, repo=repo.root)
    assert result.exit_code == 1, result.output  # a failing report is a failed tune (CI)
    assert "FAILED" in result.stdout and "possible contradiction" in result.stdout
    report = reports.read_report(repo, batch.id)
    assert report is not None
    assert len(report["rounds"]) == 2 and not report["summary"]["passed"]
    named = {s["id"]: s for s in report["stubborn"]}
    assert set(named) & {"p-one", "p-two"}
    for case_id, entry in named.items():
        if case_id in ("p-one", "p-two"):
            other = {"p-one": "p-two", "p-two": "p-one"}[case_id]
            assert entry["possible_contradictions"][0]["id"] == other
            assert entry["possible_contradictions"][0]["similarity"] > 0.999
    assert any("truncated" in w for w in report["warnings"])


def test_contradictory_cases_are_refused_before_training(tiny_repo) -> None:
    repo, batch_id = tiny_repo
    branch = f"batch/{batch_id}"
    bad = case("b-contra", "please refund my order", "shipping")
    gitio.commit_to_branch(repo.git, branch, {case_path("baseline", bad["id"]): serialize(bad)},
                           "contradiction")
    with pytest.raises(ValidationFailed, match="contradicts"):
        tune_batch(repo, batch_id)
    assert not (repo.model_store).exists() or ModelStore(repo.model_store).hashes() == []


def test_branch_edited_during_tuning_refuses_the_report(tiny_repo) -> None:
    repo, batch_id = tiny_repo
    branch = f"batch/{batch_id}"
    before = gitio.rev(repo.git, f"refs/heads/{branch}")

    def meddle(event) -> None:
        if isinstance(event, RoundDone) and event.round == 1:
            extra = case("b-late", "an edit made while tuning", "refund")
            gitio.commit_to_branch(repo.git, branch, {case_path("baseline", "b-late"):
                                                      serialize(extra)}, "late edit")

    with pytest.raises(StrawError, match="cases changed during tuning"):
        tune_batch(repo, batch_id, progress=meddle)
    assert reports.read_report(repo, batch_id) is None
    assert gitio.rev(repo.git, f"refs/heads/{branch}~1") == before


def test_cancel_event_writes_nothing(tiny_repo) -> None:
    repo, batch_id = tiny_repo
    branch_before = gitio.rev(repo.git, f"refs/heads/batch/{batch_id}")
    cancel = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, Step) and event.step == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        tune_batch(repo, batch_id, progress=on_event, cancel=cancel)
    assert gitio.rev(repo.git, f"refs/heads/batch/{batch_id}") == branch_before
    store = repo.model_store
    assert not store.exists() or [p for p in store.iterdir() if p.name != "predictions"] == []


def test_cli_tune_then_eval(tiny_repo, cli) -> None:
    repo, batch_id = tiny_repo
    result = cli("tune", batch_id, repo=repo.root)
    assert result.exit_code == 0, result.output
    assert "round 1:" in result.stdout and "PASSED" in result.stdout
    report = reports.read_report(repo, batch_id)
    assert report is not None
    result = cli("eval", "--model", report["model"]["hash"], "--split", "all", "--ref",
                 f"batch/{batch_id}", "--json", repo=repo.root)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kind"] == "eval"
    missing = cli("eval", "--model", "sha256:" + "0" * 64, repo=repo.root)
    assert missing.exit_code == 1 and "sha256:" + "0" * 64 in missing.stderr
    assert cli("tune", "no-such-batch", repo=repo.root).exit_code == 2
    # the honest path: the gate passes, the merge reruns the tuned model and agrees, verify is ok
    assert cli("gate", batch_id, repo=repo.root).exit_code == 0
    merged = cli("merge", batch_id, repo=repo.root)
    assert merged.exit_code == 0, merged.output
    verified = cli("verify", "--full", repo=repo.root)
    # this fixture seeds its baseline with a plain commit, which verify names; nothing else
    assert "1 violation(s)" in verified.stderr and "'cases'" in verified.stdout, verified.output
    assert "Merge batch" not in verified.stdout


def test_sigterm_mid_training_leaves_branch_and_store_consistent(tiny_repo, tiny_model) -> None:
    repo, batch_id = tiny_repo
    write_config(repo.root, tiny_model, epochs_per_round=1000, max_iterations=1)
    branch_before = gitio.rev(repo.git, f"refs/heads/batch/{batch_id}")
    proc = subprocess.Popen([sys.executable, "-m", "straw", "tune", batch_id, "--repo",
                             str(repo.root)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # "round 1/1: training, N steps" once training starts
        seen.append(line)
        if line.startswith("round 1/"):
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert "nothing was written" in err
    assert gitio.rev(repo.git, f"refs/heads/batch/{batch_id}") == branch_before
    assert reports.read_report(repo, batch_id) is None
    store = repo.model_store
    assert not store.exists() or list(store.iterdir()) == []


@pytest.mark.slow
def test_embedded_minilm_tunes_the_demo_batch_end_to_end(demo_repo, cli) -> None:
    """`straw init --demo`, `straw batch create`, `straw tune`, `straw eval`: the real default."""
    batch = batches.create_batch(demo_repo)
    started = time.monotonic()
    result = cli("tune", batch.id, repo=demo_repo.root)
    assert result.exit_code == 0, result.output
    report = reports.read_report(demo_repo, batch.id)
    assert report is not None
    assert report["summary"]["passed"], report["rounds"]
    assert report["model"]["base"] == "embedded"
    assert time.monotonic() - started < 900  # a sanity bound; the 30 s target is the benchmark's
    result = cli("eval", "--model", report["model"]["hash"], "--split", "baseline", "--ref",
                 f"batch/{batch.id}", "--json", repo=demo_repo.root)
    assert result.exit_code == 0, result.output
    evaluated = {r["id"]: r["predicted"] for r in json.loads(result.stdout)["cases"]}
    assert evaluated == {r["id"]: r["predicted"] for r in report["cases"]}


def test_cli_bootstrap_commits_the_lock_and_prints_its_report(make_case_repo, tiny_model,
                                                              cli) -> None:
    """`straw tune --baseline`: the same round loop as a batch tune, a "bootstrap" report
    (schema-valid, with its rounds) and models.lock committed on main."""
    repo = make_case_repo("boot")
    write_config(repo.root, tiny_model)
    paths = []
    for label, texts in BASELINE.items():
        for i, text in enumerate(texts):
            data = case(f"b-{label}-{i}", text, label)
            path = case_path("baseline", data["id"])
            (repo.root / path).parent.mkdir(parents=True, exist_ok=True)
            (repo.root / path).write_bytes(serialize(data))
            paths.append(path)
    commit(repo.root, paths, "baseline\n\nStraw-Bootstrap: test")
    result = cli("tune", "--baseline", "--json", repo=repo.root)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    schemas.check("report", report, "bootstrap")
    assert report["kind"] == "bootstrap" and report["rounds"]
    assert report["best_round"] == len(report["rounds"]) or not report["summary"]["passed"]
    lock = lockfile.read_lock(open_case_repo(repo.root))
    assert lock is not None and lock["model"] == report["model"]["hash"]
    assert lock["baseline"] == report["summary"]["baseline"]
    again = cli("tune", "--baseline", repo=repo.root)
    assert again.exit_code == 2 and "models.lock already names" in again.stderr
