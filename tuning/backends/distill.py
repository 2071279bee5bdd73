"""Focal distillation from the production model (Yan et al. 2021, "Positive-Congruent Training"):
besides the cross-entropy, a KL term pulls the student's distribution over the production
model's labels towards the production model's, at temperature T, weighted up on the inputs the
production model got right (PCT's focal weights α = 1, β = 4: right cases count 5×)."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional

FOCAL_RIGHT, FOCAL_WRONG = 5.0, 1.0

TEACHER, WEIGHT = "teacher_logits", "teacher_weight"


def focal_weight(teacher_logits: list[float], label: int) -> float:
    """5 where the production model's argmax is the target, 1 elsewhere."""
    best = max(range(len(teacher_logits)), key=teacher_logits.__getitem__)
    return FOCAL_RIGHT if best == label else FOCAL_WRONG


def loss_with_distillation(strength: float, temperature: float):  # noqa: ANN201 - Trainer hook
    """A `compute_loss(model, inputs)` for the HF Trainer: CE + strength·T²·mean(w·KL)."""

    def compute(model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, Any]:
        teacher = inputs.pop(TEACHER).float()
        weight = inputs.pop(WEIGHT).float()
        outputs = model(**inputs)
        student = outputs.logits[:, :teacher.shape[1]].float() / temperature
        kl = functional.kl_div(functional.log_softmax(student, dim=-1),
                               functional.log_softmax(teacher / temperature, dim=-1),
                               reduction="none", log_target=True).sum(dim=-1)
        return outputs.loss + strength * temperature ** 2 * (weight * kl).mean(), outputs

    return compute
