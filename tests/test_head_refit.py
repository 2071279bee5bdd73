"""The output-layer refit's distillation from the production model (`[train]
interpolate_distill`): what it changes in the convex problem, and that interpolation's teacher is
the production model's own outputs."""

from __future__ import annotations

from pathlib import Path

import torch
from test_training import Spy, baseline_cases, make_backend, make_case, new_cases
from torch.nn import functional

from tuning import interpolation
from tuning.backends.base import Validation
from tuning.backends.head_refit import Teacher, refit_linear
from tuning.cases_io import examples_of
from tuning.training import TrainingSet, validate
from tuning.tune import run_rounds


def kl_to(teacher: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
          x: torch.Tensor) -> float:
    """Mean KL(teacher ‖ layer) over the teacher's labels, at temperature 1."""
    student = functional.log_softmax(functional.linear(x, weight, bias)[:, :teacher.shape[1]], 1)
    p = functional.softmax(teacher, 1)
    return float((p * (p.log() - student)).sum(1).mean())


def problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three old labels in clusters, some of their points near a boundary, and a new fourth label
    whose row starts at zero: (features, labels, weights, start weight, start bias)."""
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0], [2.0, 2.0, 2.0]])
    labels = torch.tensor([0] * 12 + [1] * 12 + [2] * 12 + [3] * 4)
    x = centres[labels] + 0.6 * torch.randn(len(labels), 3, generator=gen)
    w0 = torch.cat([torch.eye(3), torch.zeros(1, 3)])
    return x, labels, torch.ones(len(labels)), w0, torch.zeros(4)


def test_a_teacher_keeps_the_refit_near_its_outputs_and_still_fits_the_cases() -> None:
    x, y, weights, w0, b0 = problem()
    production = functional.linear(x, w0[:3], b0[:3])  # the teacher never had label 3
    plain = refit_linear(x, y, weights, w0, b0)
    taught = refit_linear(x, y, weights, w0, b0, Teacher(production, 1.0, 2.0))
    assert plain.passed_before < len(y)  # the new label's cases fail at the start
    assert taught.passed_after == plain.passed_after == len(y)  # both place every case
    assert kl_to(production, taught.weight, taught.bias, x) < \
        0.5 * kl_to(production, plain.weight, plain.bias, x)
    # the new label is free: the teacher's term is over the old labels only
    assert (functional.linear(x, taught.weight, taught.bias).argmax(1)[y == 3] == 3).all()
    off = refit_linear(x, y, weights, w0, b0, Teacher(production, 0.0, 2.0))
    assert off.bias is not None and plain.bias is not None  # refit with a bias (b0)
    assert torch.equal(off.weight, plain.weight) and torch.equal(off.bias, plain.bias)


def test_interpolations_teacher_is_the_production_models_own_logits(tiny_classifier: Path
                                                                    ) -> None:
    """θ(0) holds production's encoder and head rows, so the logits the teacher takes from its
    validation, over production's labels, are what the production model computes itself."""
    data = TrainingSet(baseline_cases(), new_cases())
    backend = make_backend(tiny_classifier)
    backend.train(examples_of(data.baseline, "classifier"), 4, seed=0)
    labels = list(backend.labels)
    production = backend.head_logits(validate(backend, data, "classifier"))
    assert production is not None
    old = backend.snapshot()
    backend.prepare(examples_of(data.cases, "classifier"))
    backend.train(examples_of(data.cases, "classifier"), 4, seed=1)
    assert len(backend.labels) == len(labels) + 1
    backend.restore((backend.labels, interpolation.mix(old[1], backend.snapshot()[1], 0.0)))
    at_zero = validate(backend, data, "classifier")
    teacher = interpolation.teacher(backend, at_zero, len(labels), backend.train_settings)
    assert teacher is not None and teacher.strength == backend.train_settings.interpolate_distill
    assert teacher.temperature == backend.train_settings.distill_temperature
    assert teacher.logits.shape == production.shape
    assert torch.allclose(teacher.logits, production, atol=1e-4)
    backend.train_settings.interpolate_distill = 0.0
    assert interpolation.teacher(backend, at_zero, len(labels), backend.train_settings) is None


def test_theta_zero_is_judged_from_the_production_models_features(tiny_classifier: Path) -> None:
    """When the round loop validated the production model first (adaptive replay of a baseline
    larger than `replay_size`), θ(0), which holds production's encoder, is judged from those
    features under its own output layer: one forward pass fewer, and the same choice."""
    watch = [make_case("w-refund", "refund my money for the order now please", "refund", "watch"),
             make_case("w-account", "I forgot my password again", "account", "watch")]
    data = TrainingSet(baseline_cases(), new_cases(), watch)
    backend = make_backend(tiny_classifier, refit_head=True, replay_size=6)
    backend.train(examples_of(data.baseline, "classifier"), 4, seed=0)  # production
    old = backend.snapshot()
    watch_pass = [p.text == c.expected for c, p in
                  zip(watch, backend.predict([c.input for c in watch]), strict=True)]
    gate = {"baseline_threshold": 1.0, "new_threshold": 1.0}
    outcome = run_rounds(backend, data, backend.train_settings, gate, progress=lambda e: None,
                         cancel=None)
    assert outcome.start is not None and len(data.baseline) > 6
    tuned = backend.snapshot()

    def choose(start: Validation | None) -> tuple[interpolation.Choice, int]:
        backend.restore(tuned)
        spy = Spy(backend)
        choice = interpolation.interpolate(
            backend, old, data, outcome.validation, lambda b, bt, n, nt: b == bt and n == nt,
            watch_pass, backend.train_settings, start)
        return choice, len(spy.validations)

    (fresh, forward_passes), (reused, fewer) = choose(None), choose(outcome.start)
    assert fewer == forward_passes - 1
    assert (reused.lam, reused.tried) == (fresh.lam, fresh.tried)
    assert [p.text for p in reused.validation.predictions] == \
        [p.text for p in fresh.validation.predictions]
    # θ(0) from the start's features answers as θ(0) computed afresh
    backend.restore((tuned[0], interpolation.mix(old[1], tuned[1], 0.0)))
    targets = [c.expected for c in data.cases]
    rejudged = backend.rejudge(outcome.start, targets)
    computed = validate(backend, data, "classifier")
    assert rejudged is not None
    assert [p.text for p in rejudged.predictions] == [p.text for p in computed.predictions]
    logits, forward = backend.head_logits(rejudged), backend.head_logits(computed)
    assert logits is not None and forward is not None
    assert torch.allclose(logits, forward, atol=1e-5)
