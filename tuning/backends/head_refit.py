"""Refit a classifier's output layer on every case, from features a validation pass already
computed.

Why: at a large baseline a round trains on a few hundred replayed cases, and the encoder moves
under the thousands it does not replay; most of those then fail because their features crossed
the *head's* old boundaries, not because they stopped being separable. The validation pass that
follows every round computes each case's head input anyway, so refitting the last linear layer
on all of them is a convex problem over a [cases × width] matrix that costs seconds, not an
epoch over the baseline. It is solved with L-BFGS from the current weights, with an L2 pull back
to them so the layer moves no more than it must (a large move would change unseen inputs too).

With a `Teacher` (interpolation's refit, `[train] interpolate_distill`), the refit is also pulled
towards the production model's outputs on the same cases: focal distillation (Positive-Congruent
Training, Yan et al. 2021) in the convex problem, at no extra forward pass. Why: cross-entropy
alone keeps widening every margin it can, and on banking77 a refit from the production encoder
moved the card_arrival / card_delivery_estimate boundary past held-out questions (11 watch
negative flips at λ = 0 after a batch that taught neither label); the KL term keeps production's
own uncertainty there while the batch's cases are placed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional

PULL = 1e-2  # L2 towards the start, relative to the start's own norm (scale-free)
MAX_ITER = 60


@dataclass
class Teacher:
    """The production model's logits over its own labels (the first columns of the refitted
    layer), one row per case, and the KL term's strength and temperature."""
    logits: torch.Tensor
    strength: float
    temperature: float
    focal: float = 5.0  # weight of the cases the production model got right, as `distill`


@dataclass
class Refit:
    weight: torch.Tensor
    bias: torch.Tensor | None
    passed_before: int
    passed_after: int


def refit_linear(features: torch.Tensor, labels: torch.Tensor, sample_weight: torch.Tensor,
                 weight: torch.Tensor, bias: torch.Tensor | None,
                 teacher: Teacher | None = None) -> Refit:
    """Minimise the weighted cross-entropy of `features @ W.T + b` against `labels` (rows with
    weight 0 take no part) plus PULL·‖(W, b) − start‖² / ‖start‖², plus the teacher's term when
    there is one. Returns the new layer and how many of the weighted rows the start and the
    result classify right."""
    rows = sample_weight > 0
    x, y, w = features[rows].float(), labels[rows], sample_weight[rows].float()
    w = w / w.sum()
    kl = distillation(teacher, rows, y) if teacher is not None and teacher.strength else None
    w0 = weight.detach().float().clone()
    b0 = bias.detach().float().clone() if bias is not None else None
    new_w = w0.clone().requires_grad_(True)
    new_b = b0.clone().requires_grad_(True) if b0 is not None else None
    params = [new_w] + ([new_b] if new_b is not None else [])
    scale = float(w0.pow(2).sum() + (b0.pow(2).sum() if b0 is not None else 0.0)) or 1.0

    def logits(wt: torch.Tensor, bt: torch.Tensor | None) -> torch.Tensor:
        return functional.linear(x, wt, bt)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (functional.cross_entropy(logits(new_w, new_b), y, reduction="none") * w).sum()
        moved = (new_w - w0).pow(2).sum()
        if new_b is not None and b0 is not None:
            moved = moved + (new_b - b0).pow(2).sum()
        loss = loss + PULL * moved / scale
        if kl is not None:
            loss = loss + kl(logits(new_w, new_b))
        loss.backward()
        return loss

    with torch.no_grad():
        before = int((logits(w0, b0).argmax(dim=1) == y).sum())
    optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=MAX_ITER,
                                  line_search_fn="strong_wolfe")
    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        after = int((logits(new_w, new_b).argmax(dim=1) == y).sum())
    return Refit(new_w.detach(), new_b.detach() if new_b is not None else None, before, after)


def distillation(teacher: Teacher, rows: torch.Tensor, y: torch.Tensor
                 ) -> Callable[[torch.Tensor], torch.Tensor]:
    """S·T²·KL(teacher ‖ refit) over the teacher's labels at temperature T, averaged over the
    rows with weights `focal` where the teacher was right and 1 elsewhere. The refit's
    distribution is renormalised over the teacher's labels, so a label the teacher never had is
    free to take a case (as in PCT's treatment of new classes)."""
    t = teacher.logits[rows].float()
    old, temp = t.shape[1], teacher.temperature
    right = t.argmax(dim=1) == y
    share = torch.where(right, teacher.focal, 1.0)
    share = share / share.sum()
    target = functional.softmax(t / temp, dim=1)
    entropy = (target * functional.log_softmax(t / temp, dim=1)).sum(dim=1)

    def term(student: torch.Tensor) -> torch.Tensor:
        log_q = functional.log_softmax(student[:, :old] / temp, dim=1)
        kl = entropy - (target * log_q).sum(dim=1)
        return teacher.strength * temp * temp * (kl * share).sum()

    return term
