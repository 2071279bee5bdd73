"""`train_until_pass`: the round loop every tune and the bootstrap run. Each round trains on the
new cases plus a replay of the baseline (tuning.replay), then validates EVERY case; it stops when
the gate passes or at `max_iterations`, and leaves the backend holding the best round's weights
(gate first, then most cases passed, then most baseline cases passed).

Seams for later work: `TrainingSet.watch` cases are validated and never trained on; a round's
examples come from `round_examples` alone (a distillation term or a different sampler slots in
there); the best round is chosen by `Outcome.key`.

Examples train in content order (`cases_io.content_key`), never in id order: ids are random, so
the same cases in two repositories would otherwise train in two orders and, with one seed, give
two models."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repo_store.cases import Case
from tuning.backends.base import Backend, Example, Prediction, TrainHooks, TrainSettings, Validation
from tuning.cases_io import content_key, examples_of, in_content_order, passes, target_of
from tuning.errors import Cancelled
from tuning.progress import Phase, Progress, RoundDone, RoundStarted, Step, ignore
from tuning.replay import ReplayChoice, choose_replay, nearest_scores
from tuning.report import rate

Gate = Callable[[int, int, int, int], bool]  # (baseline passed, total, new passed, total)


@dataclass
class TrainingSet:
    """What a run validates: `baseline` (replayed), `new` (always trained, weighted), `watch`
    (validated only; never in a training example)."""

    baseline: list[Case]
    new: list[Case]
    watch: list[Case] = field(default_factory=list)

    @property
    def cases(self) -> list[Case]:
        return self.baseline + self.new + self.watch

    @property
    def splits(self) -> list[str]:
        return (["baseline"] * len(self.baseline) + ["new"] * len(self.new)
                + ["watch"] * len(self.watch))


@dataclass
class Outcome:
    rounds: list[dict[str, Any]]
    best_round: int
    validation: Validation  # the best round's, over TrainingSet.cases in order
    passed: bool
    start: Validation | None = None  # the starting model's, when the caller validated it first

    @property
    def predictions(self) -> list[Prediction]:
        return self.validation.predictions


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled: nothing was written")


def validate(backend: Backend, data: TrainingSet, backend_name: str) -> Validation:
    cases = data.cases
    return backend.validate([c.input for c in cases], [target_of(c, backend_name) for c in cases])


def round_examples(data: TrainingSet, replay: list[int], settings: TrainSettings,
                   backend_name: str) -> list[Example]:
    return (examples_of(in_content_order([data.baseline[i] for i in replay], backend_name),
                        backend_name)
            + examples_of(in_content_order(data.new, backend_name), backend_name,
                          settings.new_case_weight))


def next_replay(data: TrainingSet, settings: TrainSettings, last: Validation | None,
                round_number: int, backend_name: str = "classifier") -> ReplayChoice:
    """The replay for `round_number`, from the last validation (None: nothing known yet)."""
    n = len(data.baseline)
    if settings.replay == "all" or last is None:
        return ReplayChoice(list(range(n)), {"all": n})
    failing = [i for i, (c, p) in enumerate(zip(data.baseline, last.predictions[:n], strict=True))
               if not passes(c, p.text)]
    embeddings = last.embeddings
    near = None
    if embeddings is not None and len(embeddings) == len(data.cases):
        near = nearest_scores(embeddings[:n], embeddings[n:n + len(data.new)])
    margins = last.margins[:n] if last.margins is not None else None
    strata = [target_of(c, backend_name) for c in data.baseline]
    return choose_replay(n, settings.replay_size, failing, margins, near,
                         settings.seed + round_number, strata,
                         [content_key(c, backend_name) for c in data.baseline])


def refit_head(backend: Backend, data: TrainingSet, settings: TrainSettings,
               last: Validation, teacher: Any = None) -> tuple[Validation, dict[str, Any] | None]:
    """Refit the output layer on every baseline and new case (watch weighs 0: never trained
    on) from the validation's own features; the refitted validation when it passes more.
    The round loop calls it after a round whose replay left baseline cases out (those are the
    cases the encoder moved under unseen) and after the last round. When a round trained on
    every case and another may follow, that round teaches the encoder instead (on banking77's
    150 + 3 × 20 a refit there ended tunes a round early, 1–2 pp lower on held-out questions).
    `teacher` (interpolation's refit): a head_refit.Teacher the refit is also pulled towards."""
    nb, nn = len(data.baseline), len(data.new)
    weights = [1.0] * nb + [float(settings.new_case_weight)] * nn + [0.0] * len(data.watch)
    targets = [target_of(c, backend.name) for c in data.cases]
    t0 = time.monotonic()
    refitted = backend.refit(last, targets, weights, teacher)
    if refitted is None:
        return last, None

    def baseline_passed(v: Validation) -> int:
        return sum(passes(c, p.text) for c, p in
                   zip(data.baseline, v.predictions[:nb], strict=True))

    return refitted, {"baseline_failing_before": nb - baseline_passed(last),
                      "baseline_failing_after": nb - baseline_passed(refitted),
                      "seconds": round(time.monotonic() - t0, 3)}


def train_until_pass(backend: Backend, data: TrainingSet, settings: TrainSettings, gate: Gate, *,
                     start: Validation | None = None, progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> Outcome:
    """`start`: a validation of the starting model over `data.cases` (adaptive replay chooses
    round 1's replay from it; without it round 1 replays the whole baseline)."""
    emit = progress or ignore
    name = backend.name
    nb, nn = len(data.baseline), len(data.new)
    examples_of(data.baseline + data.new, name)  # refuse an unlearnable case before training
    hooks = TrainHooks(on_step=lambda s, total, loss: emit(Step(s, total, loss)), cancel=cancel)
    rounds: list[dict[str, Any]] = []
    best: tuple[tuple[bool, int, int], int, Validation, Any] | None = None
    last = start
    for number in range(1, settings.max_iterations + 1):
        check_cancel(cancel)
        replay = next_replay(data, settings, last, number, name)
        examples = round_examples(data, replay.indices, settings, name)
        steps = math.ceil(-(-len(examples) // settings.batch_size) * settings.epochs_per_round)
        emit(RoundStarted(number, settings.max_iterations, steps))
        t0 = time.monotonic()
        loss = backend.train(examples, settings.epochs_per_round, hooks,
                             seed=settings.seed + number - 1)
        check_cancel(cancel)
        emit(Phase("validating", f"{len(data.cases)} cases"))
        last = validate(backend, data, name)
        refit: dict[str, Any] | None = None
        # after a partial replay (cases the round never saw), or as the last round's resort
        if settings.refit_head and (len(replay.indices) < nb or number == settings.max_iterations):
            last, refit = refit_head(backend, data, settings, last)
        ok = [passes(c, p.text) for c, p in zip(data.cases, last.predictions, strict=True)]
        b_ok, n_ok = sum(ok[:nb]), sum(ok[nb:nb + nn])
        gate_ok = gate(b_ok, nb, n_ok, nn)
        seconds = round(time.monotonic() - t0, 3)
        rounds.append({"round": number, "loss": loss, "baseline_pass": rate(b_ok, nb),
                       "new_pass": rate(n_ok, nn), "seconds": seconds,
                       "replay": replay.record(settings.replay),
                       "validation_cases_per_s": round(len(ok) / max(last.seconds, 1e-9), 1)}
                      | ({"head_refit": refit} if refit else {}))
        emit(RoundDone(number, loss, rate(b_ok, nb), rate(n_ok, nn), seconds))
        key = (gate_ok, b_ok + n_ok, b_ok)
        if best is None or key > best[0]:
            final = gate_ok or number == settings.max_iterations
            best = (key, number, last, None if final else backend.snapshot())
        if gate_ok:
            break
    assert best is not None
    key, best_round, validation, snap = best
    if best_round != rounds[-1]["round"]:
        backend.restore(snap)
    return Outcome(rounds, best_round, validation, key[0], start)
