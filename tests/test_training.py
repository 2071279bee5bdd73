"""The round loop (tuning.training) on a tiny real classifier: what adaptive replay hands the
trainer, that every case failing after a round is replayed in the next, the best-round restore,
a run that exhausts max_iterations, and stubborn cases named with their possible contradictions.
Training is real; a spy around the backend's own `train`/`validate` records what it received."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from repo_store.cases import Case
from tuning.backends.base import Example, Input, ModelSettings, TrainSettings, Validation
from tuning.backends.classifier import ClassifierBackend, token_batches
from tuning.cases_io import examples_of, passes
from tuning.replay import choose_replay
from tuning.training import TrainingSet, train_until_pass, validate
from tuning.tune import outcome_fields

TOPICS = {
    "refund": "refund my money for the order",
    "shipping": "where is my parcel delivery",
    "card": "my card was declined at the shop",
    "rate": "what exchange rate do you apply",
}
FILLERS = ["please", "today", "again", "now", "urgently", "kindly", "quickly", "soon", "thanks",
           "help"]


def make_case(case_id: str, text: Input, label: str, split: str = "baseline") -> Case:
    return Case({"id": case_id, "input": text, "expected": label, "match": "label",
                 "created": "2026-01-01T00:00:00Z", "author": "T <t@example.com>"}, split)


def baseline_cases() -> list[Case]:
    return [make_case(f"b-{label}-{i}", f"{text} {filler}", label)
            for label, text in TOPICS.items() for i, filler in enumerate(FILLERS)]


def new_cases() -> list[Case]:
    texts = ["reset my password", "cannot log in to my account", "change my email address"]
    return [make_case(f"n-account-{i}", t, "account") for i, t in enumerate(texts)]


class Spy:
    """Wraps a real backend's train and validate: records the examples each round trained on
    and each validation's result, then runs the real method."""

    def __init__(self, backend: ClassifierBackend) -> None:
        self.trained: list[list[Example]] = []
        self.validations: list[Validation] = []
        real_train, real_validate = backend.train, backend.validate

        def train(examples: list[Example], *args: Any, **kwargs: Any) -> float | None:
            self.trained.append(list(examples))
            return real_train(examples, *args, **kwargs)

        def validate_(*args: Any, **kwargs: Any) -> Validation:
            result = real_validate(*args, **kwargs)
            self.validations.append(result)
            return result

        backend.train = train  # type: ignore[method-assign]
        backend.validate = validate_  # type: ignore[method-assign]


def make_backend(model: Path, **train: Any) -> ClassifierBackend:
    settings = {"learning_rate": 5e-3, "epochs_per_round": 6, "batch_size": 8,
                "max_iterations": 3, "replay": "adaptive", "replay_size": 6,
                "refit_head": False, **train}  # the replay tests watch the trainer alone
    backend = ClassifierBackend(ModelSettings(base=str(model), max_length=32),
                                TrainSettings(**settings))
    backend.load(model)
    return backend


def all_pass(b: int, bt: int, n: int, nt: int) -> bool:
    return b == bt and n == nt


def failing_ids(cases: list[Case], validation: Validation) -> set[str]:
    return {c.id for c, p in zip(cases, validation.predictions, strict=True)
            if not passes(c, p.text)}


def test_adaptive_replay_trains_on_failing_low_margin_nearest_and_random(tiny_classifier) -> None:
    backend = make_backend(tiny_classifier, max_iterations=1)
    data = TrainingSet(baseline_cases(), new_cases())
    backend.prepare(examples_of(data.cases, "classifier"))
    start = validate(backend, data, "classifier")
    n = len(data.baseline)
    failing = failing_ids(data.baseline, Validation(start.predictions[:n], None, None, 0))
    assert start.margins is not None and len(failing) + 6 < n  # else the replay is everything
    by_margin = sorted((i for i in range(n) if data.baseline[i].id not in failing),
                       key=lambda i: start.margins[i])  # type: ignore[index]
    lowest = {data.baseline[i].id for i in by_margin[:2]}  # replay_size 6: a third each
    spy = Spy(backend)
    outcome = train_until_pass(backend, data, backend.train_settings, all_pass, start=start)
    received = [e.id for e in spy.trained[0]]
    replayed = {i for i in received if i.startswith("b-")}
    assert failing <= replayed and lowest <= replayed
    assert len(replayed) == len(failing) + 6
    assert sorted(i for i in received if i.startswith("n-")) == sorted(
        [c.id for c in data.new] * 2)  # new_case_weight 2
    assert outcome.rounds[0]["replay"] == {"mode": "adaptive", "size": len(failing) + 6,
                                           "failing": len(failing), "low_margin": 2,
                                           "nearest": 2, "random": 2}
    assert outcome.rounds[0]["validation_cases_per_s"] > 0


def test_every_case_failing_after_a_round_is_replayed_in_the_next(tiny_classifier,
                                                                  monkeypatch) -> None:
    monkeypatch.setenv("STRAW_NO_IMPRINT", "1")  # random head rows: round 1 leaves failures
    backend = make_backend(tiny_classifier, epochs_per_round=3, max_iterations=8, replay_size=3)
    data = TrainingSet(baseline_cases(), new_cases())
    backend.prepare(examples_of(data.cases, "classifier"))
    start = validate(backend, data, "classifier")
    spy = Spy(backend)
    outcome = train_until_pass(backend, data, backend.train_settings, all_pass, start=start)
    n = len(data.baseline)
    after_round_1 = failing_ids(data.baseline,
                                Validation(spy.validations[0].predictions[:n], None, None, 0))
    assert after_round_1, "round 1 should leave baseline cases failing"
    for number in range(1, len(spy.trained)):
        failing = failing_ids(data.baseline,
                              Validation(spy.validations[number - 1].predictions[:n], None, None, 0))
        assert failing <= {e.id for e in spy.trained[number]}, f"round {number + 1}"
    assert outcome.passed and len(outcome.rounds) >= 2
    assert outcome.rounds[-1]["baseline_pass"] == 1.0


def test_best_round_is_restored_when_later_rounds_are_worse(tiny_classifier) -> None:
    backend = make_backend(tiny_classifier, replay="all", epochs_per_round=8, max_iterations=3)
    data = TrainingSet(baseline_cases(), new_cases())
    real_train = backend.train

    def train(examples: list[Example], epochs: float, hooks: Any = None,
              seed: int | None = None) -> float | None:
        if seed:  # rounds 2 and 3 (seed 0 + round - 1) train on every input labelled "refund"
            examples = [Example(e.input, "refund", e.id) for e in examples]
        return real_train(examples, epochs, hooks, seed)

    backend.train = train  # type: ignore[method-assign]
    backend.prepare(examples_of(data.cases, "classifier"))
    outcome = train_until_pass(backend, data, backend.train_settings, lambda *a: False)
    passed = [r["baseline_pass"] + r["new_pass"] for r in outcome.rounds]
    assert len(outcome.rounds) == 3 and outcome.best_round == 1
    assert passed[0] > max(passed[1:])
    now = backend.predict([c.input for c in data.cases])
    assert [p.text for p in now] == [p.text for p in outcome.predictions]
    first = outcome.rounds[0]
    assert sum(passes(c, p.text) for c, p in zip(data.cases, now, strict=True)) == round(
        first["baseline_pass"] * len(data.baseline) + first["new_pass"] * len(data.new))


def test_planted_contradiction_exhausts_rounds_and_is_named(tiny_classifier) -> None:
    backend = make_backend(tiny_classifier, replay="all", max_iterations=2)
    cases = baseline_cases()
    # a copy that bypasses the duplicate check: the same input with another label
    planted = make_case("b-planted", cases[0].input, "shipping")
    data = TrainingSet(cases + [planted], new_cases())
    backend.prepare(examples_of(data.cases, "classifier"))
    outcome = train_until_pass(backend, data, backend.train_settings, all_pass)
    assert not outcome.passed and len(outcome.rounds) == 2
    stubborn = outcome_fields(outcome, data, backend.train_settings, backend)["stubborn"]
    named = {s["id"]: s for s in stubborn}
    loser = "b-planted" if "b-planted" in named else cases[0].id
    other = cases[0].id if loser == "b-planted" else "b-planted"
    first = named[loser]["possible_contradictions"][0]
    assert first["id"] == other and first["similarity"] == pytest.approx(1.0, abs=1e-3)


def test_choose_replay_budget_and_reasons() -> None:
    margins = [0.9, 0.1, 0.5, 0.05, 0.8, 0.7, 0.6, 0.95, 0.99, 0.3]
    nearest = [0.0, 0.0, 0.9, 0.0, 0.0, 0.95, 0.0, 0.0, 0.0, 0.0]
    choice = choose_replay(10, 6, [0], margins, nearest, seed=1)
    assert {0, 3, 1, 5, 2} <= set(choice.indices) and len(choice.indices) == 7
    assert choice.reasons == {"failing": 1, "low_margin": 2, "nearest": 2, "random": 2}
    assert choose_replay(10, 6, [0, 1, 2, 3], margins, nearest, seed=1).indices == list(range(10))


def test_token_batches_keep_the_padded_budget() -> None:
    lengths = [3, 50, 4, 5, 60, 6, 7]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches = token_batches(order, lengths, budget=100, max_rows=3)
    assert [i for b in batches for i in b] == order
    assert all(len(b) * max(lengths[i] for i in b) <= 100 or len(b) == 1 for b in batches)
    assert all(len(b) <= 3 for b in batches)


def test_random_share_covers_every_label_least_represented_first() -> None:
    # 12 cases of 4 labels; the reasons before random bring in only "a" cases
    strata = ["a"] * 6 + ["b"] * 2 + ["c"] * 2 + ["d"] * 2
    margins = [0.0, 0.1, 0.2, 0.3] + [0.9] * 8
    nearest = [0.9, 0.8, 0.7, 0.6] + [0.0] * 8
    choice = choose_replay(12, 4, [0], margins, nearest, seed=0, strata=strata)
    labels = [strata[i] for i in choice.indices]
    # a random share of 2 grows to 3 to cover the three labels nothing else brought in
    assert set(labels) == {"a", "b", "c", "d"}
    assert choice.reasons == {"failing": 1, "low_margin": 1, "nearest": 1, "random": 3}
    # without strata the same call draws two random cases: it cannot cover four labels
    plain = choose_replay(12, 4, [0], margins, nearest, seed=0)
    assert plain.reasons["random"] == 2 and len({strata[i] for i in plain.indices}) < 4
    # more labels than the budget (free text, say): no growth past the random share
    assert choose_replay(12, 3, [0], margins, nearest, seed=0, strata=strata).reasons[
        "random"] == 1
    # the labels nothing else brought in come first: every "a" is in by margin and nearness,
    # the random share of 2 takes one "b" and one "c" (not two of one), and grows for "d"
    strata2 = ["a"] * 4 + ["b"] * 2 + ["c"] * 2 + ["d"] * 2
    wide = choose_replay(10, 6, [], margins[:10], nearest[:10], seed=0, strata=strata2)
    counts = {s: [strata2[i] for i in wide.indices].count(s) for s in "abcd"}
    assert counts == {"a": 4, "b": 1, "c": 1, "d": 1} and wide.reasons["random"] == 3


def test_outputs_that_never_repeat_are_not_all_replayed() -> None:
    strata = [f"text {i}" for i in range(40)]  # free-text targets: one stratum per case
    choice = choose_replay(40, 6, [], None, None, seed=0, strata=strata)
    assert len(choice.indices) == 6 and choice.reasons["random"] == 6


def test_every_baseline_label_is_in_each_rounds_replay(tiny_classifier) -> None:
    extra = {"loan": "can I borrow money from you", "atm": "the cash machine kept my card",
             "pin": "I forgot the pin of my card", "fees": "why was I charged a fee"}
    cases = baseline_cases() + [make_case(f"b-{label}-{i}", f"{text} {filler}", label)
                                for label, text in extra.items()
                                for i, filler in enumerate(FILLERS[:4])]
    # replay_size 9: three per reason, fewer random picks than the 8 labels
    backend = make_backend(tiny_classifier, max_iterations=2, replay_size=9)
    data = TrainingSet(cases, new_cases())
    backend.prepare(examples_of(data.cases, "classifier"))
    start = validate(backend, data, "classifier")
    spy = Spy(backend)
    train_until_pass(backend, data, backend.train_settings, all_pass, start=start)
    labels = {c.expected for c in cases}
    assert len(labels) == 8 and spy.trained
    for number, examples in enumerate(spy.trained, 1):
        replayed = {e.target for e in examples if e.id.startswith("b-")}
        assert replayed == labels, f"round {number}: {labels - replayed} not replayed"


def test_head_refit_fixes_cases_from_the_validation_features(tiny_classifier) -> None:
    backend = make_backend(tiny_classifier)
    baseline = baseline_cases()
    # a watch case: a baseline input with another label; weight 0, so it must not be learned
    watch = [make_case("w-0", baseline[0].input, "shipping", "watch")]
    data = TrainingSet(baseline, new_cases(), watch)
    backend.prepare(examples_of(data.cases, "classifier"))
    backend.train(examples_of(data.baseline + data.new, "classifier"), 6, seed=0)
    head = backend.model.classifier
    with torch.no_grad():  # break the head, not the encoder: every case's features still hold
        head.weight.copy_(head.weight.roll(1, dims=0))
    broken = validate(backend, data, "classifier")
    trained = data.baseline + data.new
    failing = failing_ids(trained, Validation(broken.predictions[:len(trained)], None, None, 0))
    assert len(failing) > len(trained) // 2
    weights = [1.0] * len(data.baseline) + [2.0] * len(data.new) + [0.0]
    targets = [c.expected for c in data.cases]
    refitted = backend.refit(broken, targets, weights)
    assert refitted is not None
    still = failing_ids(trained, Validation(refitted.predictions[:len(trained)], None, None, 0))
    assert len(still) < len(failing) // 4
    # what the refit reports is what the model now computes, end to end
    again = backend.predict([c.input for c in data.cases])
    assert [p.text for p in again] == [p.text for p in refitted.predictions]
    assert refitted.predictions[-1].text == refitted.predictions[0].text  # watch not learned


def test_a_round_records_the_refit_and_the_loop_keeps_it(tiny_classifier, monkeypatch) -> None:
    monkeypatch.setenv("STRAW_NO_IMPRINT", "1")  # a random row for the new label
    data = TrainingSet(baseline_cases(), new_cases())
    runs = {}
    for refit in (False, True):
        backend = make_backend(tiny_classifier, epochs_per_round=2, max_iterations=1,
                               replay_size=3, refit_head=refit)
        backend.train(examples_of(data.baseline, "classifier"), 6, seed=0)  # "production"
        backend.prepare(examples_of(data.cases, "classifier"))
        start = validate(backend, data, "classifier")
        runs[refit] = (backend, train_until_pass(backend, data, backend.train_settings,
                                                 all_pass, start=start))
    plain, fitted = runs[False][1].rounds[0], runs[True][1].rounds[0]
    assert "head_refit" not in plain
    assert plain["baseline_pass"] < 1.0, plain  # the round broke baseline cases
    record = fitted["head_refit"]
    assert record["baseline_failing_after"] < record["baseline_failing_before"]
    assert fitted["baseline_pass"] > plain["baseline_pass"]
    backend, outcome = runs[True]
    now = backend.predict([c.input for c in data.cases])
    assert [p.text for p in now] == [p.text for p in outcome.predictions]
    # a round that trained on every baseline case leaves its misses to the next round; the
    # last round refits whatever its replay was
    full = make_backend(tiny_classifier, epochs_per_round=2, max_iterations=2, replay="all",
                        refit_head=True)
    full.train(examples_of(data.baseline, "classifier"), 6, seed=0)
    full.prepare(examples_of(data.cases, "classifier"))
    full.train_settings.learning_rate = 1e-12  # the rounds leave the new label's random row
    first, last = train_until_pass(full, data, full.train_settings, all_pass).rounds
    assert first["replay"]["size"] == len(data.baseline) and "head_refit" not in first
    assert first["new_pass"] < 1.0  # there was something a refit could have fixed
    assert last["replay"]["size"] == len(data.baseline) and "head_refit" in last
    assert last["new_pass"] > first["new_pass"]
