"""Refit a classifier's output layer on every case, from features a validation pass already
computed.

Why: at a large baseline a round trains on a few hundred replayed cases, and the encoder moves
under the thousands it does not replay; most of those then fail because their features crossed
the *head's* old boundaries, not because they stopped being separable. The validation pass that
follows every round computes each case's head input anyway, so refitting the last linear layer
on all of them is a convex problem over a [cases × width] matrix that costs seconds, not an
epoch over the baseline. It is solved with L-BFGS from the current weights, with an L2 pull back
to them so the layer moves no more than it must (a large move would change unseen inputs too)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional

PULL = 1e-2  # L2 towards the start, relative to the start's own norm (scale-free)
MAX_ITER = 60


@dataclass
class Refit:
    weight: torch.Tensor
    bias: torch.Tensor | None
    passed_before: int
    passed_after: int


def refit_linear(features: torch.Tensor, labels: torch.Tensor, sample_weight: torch.Tensor,
                 weight: torch.Tensor, bias: torch.Tensor | None) -> Refit:
    """Minimise the weighted cross-entropy of `features @ W.T + b` against `labels` (rows with
    weight 0 take no part) plus PULL·‖(W, b) − start‖² / ‖start‖². Returns the new layer and how many of
    the weighted rows the start and the result classify right."""
    rows = sample_weight > 0
    x, y, w = features[rows].float(), labels[rows], sample_weight[rows].float()
    w = w / w.sum()
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
