"""The watch split (issue 14): curated like the others, evaluated by every tune and eval, never
trained on. Real git repositories, the tiny real classifier, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repo_store import batches, schemas
from repo_store.cases import case_path, serialize
from repo_store.repo import open_case_repo
from tests.test_training import Spy, baseline_cases, make_backend, make_case, new_cases
from tests.test_tune import BASELINE, NEW, case, commit, write_config
from tuning.evaluate import evaluate
from tuning.training import TrainingSet
from tuning.tune import run_rounds, tune_batch

WATCH = {"refund": "could I get my money back", "shipping": "has my parcel shipped yet"}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuning.testing import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-neigh") / "model")


def write_cases(root: Path, split: str, datas: list[dict[str, Any]]) -> list[str]:
    paths = []
    for data in datas:
        path = case_path(split, data["id"])
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(serialize(data))
        paths.append(path)
    return paths


@pytest.fixture
def watched_repo(make_case_repo, tiny_model: Path):
    """tests.test_tune's tiny repository plus two watch cases on main; returns (repo, batch id)."""
    repo = make_case_repo("watched")
    write_config(repo.root, tiny_model)
    paths = []
    for split, table in (("baseline", BASELINE), ("pending", NEW)):
        paths += write_cases(repo.root, split, [case(f"{split[0]}-{label}-{i}", text, label)
                                                 for label, texts in table.items()
                                                 for i, text in enumerate(texts)])
    paths += write_cases(repo.root, "watch", [case(f"w-{label}", text, label)
                                              for label, text in WATCH.items()])
    commit(repo.root, paths, "cases")
    repo = open_case_repo(repo.root)
    return repo, batches.create_batch(repo).id


def test_cli_adds_imports_lists_shows_and_exports_watch_cases(case_repo, cli, tmp_path) -> None:
    root = case_repo.root
    added = cli("add", "--input", "is my card blocked", "--expected", "card", "--split", "watch",
                repo=root)
    assert added.exit_code == 0, added.output
    case_id = added.stdout.strip()
    assert (root / case_path("watch", case_id)).is_file()
    assert not (root / case_path("pending", case_id)).exists()

    source = tmp_path / "watch.jsonl"
    source.write_text(json.dumps({"input": "where is my box", "expected": "shipping"}) + "\n")
    imported = cli("import", str(source), "--split", "watch", repo=root)
    assert imported.exit_code == 0 and "imported 1 watch cases" in imported.stdout, imported.output
    pending = cli("add", "--input", "refund me", "--expected", "refund", repo=root)
    assert pending.exit_code == 0

    listed = json.loads(cli("list", "--split", "watch", "--json", repo=root).stdout)
    assert sorted(c["input"] for c in listed) == ["is my card blocked", "where is my box"]
    assert {c["split"] for c in listed} == {"watch"}
    shown = json.loads(cli("show", case_id, repo=root).stdout)
    assert shown["split"] == "watch" and shown["path"] == case_path("watch", case_id)
    out = tmp_path / "out.jsonl"
    assert cli("export", "--split", "watch", "-o", str(out), repo=root).exit_code == 0
    exported = out.read_text().splitlines()
    assert len(exported) == 2 and all(json.loads(line)["split"] == "watch" for line in exported)

    # a watch case is not approvable: a batch takes pending cases only
    batch = batches.create_batch(open_case_repo(root), allow_small=True)
    assert batch.cases == [pending.stdout.strip()]


def test_bad_split_is_refused_with_one_line(case_repo, cli) -> None:
    result = cli("add", "--input", "x", "--expected", "y", "--split", "baseline", repo=case_repo.root)
    assert result.exit_code == 2 and "baseline" in result.output


def test_watch_cases_are_validated_every_round_and_never_trained_on(tiny_classifier: Path) -> None:
    backend = make_backend(tiny_classifier, max_iterations=2, replay="all")
    spy = Spy(backend)
    watch = [make_case("w-refund", "refund my money for the order now please", "refund", "watch"),
             make_case("w-account", "I forgot my password again", "account", "watch")]
    data = TrainingSet(baseline_cases(), new_cases(), watch)
    outcome = run_rounds(backend, data, backend.train_settings,
                         {"baseline_threshold": 1.0, "new_threshold": 1.0},
                         progress=lambda e: None, cancel=None)
    trained_inputs = {ex.input for examples in spy.trained for ex in examples}
    assert spy.trained and not trained_inputs & {w.input for w in watch}
    assert trained_inputs >= {c.input for c in data.new}
    # every validation covered the watch cases, and the outcome carries their predictions
    assert all(len(v.predictions) == len(data.cases) for v in spy.validations)
    assert len(outcome.predictions) == len(data.cases)


def test_tune_and_eval_report_watch_cases_outside_both_scores(watched_repo) -> None:
    repo, batch_id = watched_repo
    report = tune_batch(repo, batch_id)
    schemas.check("report", report, "report")
    watch_rows = [r for r in report["cases"] if r["split"] == "watch"]
    assert sorted(r["id"] for r in watch_rows) == ["w-refund", "w-shipping"]
    assert report["summary"]["baseline"]["total"] == 12
    assert report["summary"]["new"]["total"] == 5

    evaluated = evaluate(repo, report["model"]["hash"], "baseline")
    schemas.check("report", evaluated, "eval")
    assert {r["id"] for r in evaluated["cases"] if r["split"] == "watch"} == {"w-refund",
                                                                              "w-shipping"}
    assert evaluated["summary"]["baseline"]["total"] == 12
    # the tune's watch predictions are the model's own: eval (from the cache) agrees
    assert ({r["id"]: r["predicted"] for r in evaluated["cases"] if r["split"] == "watch"}
            == {r["id"]: r["predicted"] for r in watch_rows})
