"""Bias correction of the labels a batch adds (`[train] bias_correction`, issue 14): the tiny
real classifier, a real tune in a real git repository."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import run_cli
from test_neighbours import (  # noqa: F401 - fixtures
    assert_stored_model_answers_as_reported,
    second_batch,
    tiny_model,
    watched_repo,
    write_cases,
)
from test_training import all_pass
from test_tune import BASELINE, NEW, case

from repo_store import schemas
from repo_store.cases import Case
from tuning import bias_correction
from tuning.backends.base import settings_from_config
from tuning.backends.classifier import ClassifierBackend
from tuning.cases_io import examples_of, passes
from tuning.model_store import ModelStore
from tuning.training import TrainingSet, train_until_pass, validate
from tuning.tune import load_stored, tune_batch

CODE_WATCH = [("my parcel code never arrives", "shipping"), ("the delivery code is late", "shipping"),
              ("refund code never arrives", "refund"), ("money back code please", "refund")]
LOGIN = ["login code never arrives", "the sign in code is late", "two factor code please"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def as_case(data: dict, split: str) -> Case:
    return Case(data, split)


def production_of(repo, batch_id: str) -> str:  # noqa: ANN001 - a CaseRepo
    """The watched repository's first batch tuned and stored: the production model's hash."""
    return tune_batch(repo, batch_id)["model"]["hash"]


def tuned_past_production(repo, production: str, seed: int):  # noqa: ANN001, ANN201
    """As a tune does: the production model loaded, its head grown for `login` and trained until
    the baseline (both tables of tests.test_tune) and the login cases pass. (backend, data,
    production's labels, the watch cases production answered right)."""
    model_s, train_s = settings_from_config(repo.config)
    train_s.seed = seed
    backend = load_stored(ModelStore(repo.model_store), production, model_s, train_s)
    assert isinstance(backend, ClassifierBackend)  # the watched repository's tiny classifier
    labels = list(backend.labels)
    baseline = [as_case(case(f"b-{label}-{i}", text, label), "baseline")
                for table in (BASELINE, NEW) for label, texts in table.items()
                for i, text in enumerate(texts)]
    watch = [as_case(case(f"w-{i}", text, label), "watch")
             for i, (text, label) in enumerate(CODE_WATCH)]
    new = [as_case(case(f"n-{i}", text, "login"), "new") for i, text in enumerate(LOGIN)]
    was = backend.predict([c.input for c in watch])
    production_watch = [passes(c, p.text) for c, p in zip(watch, was, strict=True)]
    data = TrainingSet(baseline, new, watch)
    backend.prepare(examples_of(baseline + new, "classifier"))
    assert train_until_pass(backend, data, train_s, all_pass).passed
    return backend, data, labels, production_watch


def test_correction_lowers_the_added_labels_bias_within_the_margin_and_follows_the_rule(
        watched_repo) -> None:  # noqa: F811 - the imported fixture
    """Each seed's correction follows the rule; with one of a few seeds (which one depends on
    the CPU's float kernels) the new label takes a watch case and the kept correction spares it."""
    repo, batch_id = watched_repo
    production = production_of(repo, batch_id)
    for seed in range(6):
        backend, data, labels, production_watch = tuned_past_production(repo, production, seed)
        assert "login" not in labels and "login" in backend.labels
        trained = validate(backend, data, "classifier")
        logits = backend.head_logits(trained)
        i = backend.labels.index("login")
        margins = [float(row[i] - torch.cat([row[:i], row[i + 1:]]).max())
                   for row, c in zip(logits, data.cases, strict=True) if c.split == "new"]
        bias_before = float(backend.model.classifier.bias[i].detach())

        chosen = bias_correction.correct(backend, data, trained, labels, all_pass,
                                         production_watch)

        assert chosen is not None and chosen.shifts.keys() == {"login"}
        assert chosen.shifts["login"] == pytest.approx(chosen.fraction * min(margins), rel=1e-5)
        assert float(backend.model.classifier.bias[i].detach()) == pytest.approx(
            bias_before - chosen.shifts["login"], rel=1e-5, abs=1e-4)
        # every fraction tried keeps the contract (each is below the smallest margin) …
        assert [t["fraction"] for t in chosen.tried] == list(bias_correction.FRACTIONS)
        assert all(t["passed"] for t in chosen.tried)
        # … and the kept one has the most watch right less flips, then the smallest fraction
        best = min((t["watch_negative_flips"] - t["watch_passed"], t["fraction"],
                    t["watch_negative_flips"]) for t in chosen.tried)
        assert best[1] == chosen.fraction
        # what the correction reports is what the model now computes, end to end
        again = backend.predict([c.input for c in data.cases])
        assert [p.text for p in again] == [p.text for p in chosen.validation.predictions]
        assert all(passes(c, p.text) for c, p in zip(data.cases, again, strict=True)
                   if c.split != "watch")
        if best[2] < chosen.tried[0]["watch_negative_flips"]:
            break  # the login label took a watch case that the kept correction gives back
    else:
        pytest.fail("no seed's correction spared a watch case the uncorrected model flips")
    assert chosen.fraction > 0


def test_a_batch_that_adds_no_label_is_left_alone(watched_repo) -> None:  # noqa: F811
    repo, batch_id = watched_repo
    backend, data, _, production_watch = tuned_past_production(
        repo, production_of(repo, batch_id), seed=0)
    validation = validate(backend, data, "classifier")
    before = backend.model.classifier.bias.detach().clone()
    assert bias_correction.correct(backend, data, validation, list(backend.labels), all_pass,
                                   production_watch) is None
    assert torch.equal(backend.model.classifier.bias, before)


@pytest.fixture
def new_label_repo(watched_repo, tiny_model: Path):  # noqa: F811 - imported fixtures
    """Production = batch 1's model (refund, shipping, account); batch 2 adds `login`, whose
    cases share words with watch cases of shipping and refund. [train] bias_correction is on."""
    repo, batch_id, _ = second_batch(watched_repo, tiny_model, CODE_WATCH, "login", LOGIN,
                                     bias_correction=True)
    return repo, batch_id


def test_a_tune_records_the_correction_and_stores_the_corrected_model(new_label_repo) -> None:
    repo, batch_id = new_label_repo
    report = tune_batch(repo, batch_id)
    schemas.check("report", report, "report")
    assert report["summary"]["passed"] and report["hyperparameters"]["bias_correction"] is True
    chosen = report["bias_correction"]
    assert set(chosen["shifts"]) == {"login"}
    kept = next(t for t in chosen["tried"] if t["fraction"] == chosen["fraction"])
    watch_rows = [r for r in report["cases"] if r["split"] == "watch"]
    assert kept["watch_passed"] == sum(r["pass"] for r in watch_rows)
    assert kept["watch_negative_flips"] == len(report["flips"]["watch"]["negative"])
    # batch show and the pull request body say what was kept, against the uncorrected model
    said = (f"bias correction of login: kept {chosen['fraction']} of the smallest margin "
            f"({kept['watch_negative_flips']} watch negative flips, {kept['watch_passed']} watch "
            f"cases right); uncorrected: ")
    shown = run_cli(["batch", "show", batch_id, "--repo", str(repo.root)])
    assert shown.exit_code == 0 and said in shown.stdout, shown.output
    body = run_cli(["batch", "pr-body", batch_id, "--repo", str(repo.root)])
    assert f"- B{said[1:]}" in body.stdout, body.output
    # the stored model carries the corrected bias: its predictions computed afresh match the report
    assert_stored_model_answers_as_reported(repo, report, batch_id)


def test_the_kept_fraction_weighs_flips_spared_against_watch_cases_lost() -> None:
    def tried(*rows: tuple[float, bool, int, int]) -> list[dict]:
        return [{"fraction": f, "passed": ok, "watch_negative_flips": n, "watch_passed": r}
                for f, ok, n, r in rows]

    # one flip spared for 8 watch cases lost (banking77 seed 0, batch 2): not worth it
    assert bias_correction.kept(tried((0.0, True, 3, 226), (0.5, True, 3, 222),
                                      (0.75, True, 2, 218))) == 0.0
    # a flip spared and nothing else lost counts twice: kept
    assert bias_correction.kept(tried((0.0, True, 1, 200), (0.25, True, 0, 201))) == 0.25
    # a tie goes to the smaller fraction; a fraction that fails the gate is never kept
    assert bias_correction.kept(tried((0.0, False, 0, 230), (0.25, True, 2, 200),
                                      (0.5, True, 1, 199))) == 0.25
    assert bias_correction.kept(tried((0.0, False, 0, 230))) is None
