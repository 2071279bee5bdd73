"""Focal distillation from the production model for the causal LM (Positive-Congruent Training,
Yan et al. 2021, at the token level): besides the completion's cross-entropy, a KL term pulls the
student's next-token distribution over the completion tokens towards the production model's, at
temperature T, weighted up (5×, as the classifier's) on the examples the production model got
right. "Right" is judged teacher-forced: the production model's argmax is the target at every
completion token, which is exactly when its greedy decoding produces the target."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch.nn import functional

from tuning.backends.distill import FOCAL_RIGHT, FOCAL_WRONG
from tuning.backends.lm_data import IGNORE


def frozen_copy(model: Any) -> Any:
    """The production model as the teacher: a copy that never trains (it costs the model's
    memory once more; the teacher's logits depend on every target token, so they are computed
    as training goes rather than stored)."""
    teacher = copy.deepcopy(model)
    teacher.eval()
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher


def token_kl(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor,
             temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(per example mean KL(teacher ‖ student) over its completion tokens, per example focal
    weight). `student`/`teacher`: logits [batch, seq, vocab]; `labels`: [batch, seq], -100 off
    the completion; position t predicts token t+1."""
    target = labels[:, 1:]
    keep = target != IGNORE
    s = functional.log_softmax(student[:, :-1].float() / temperature, dim=-1)
    t = functional.log_softmax(teacher[:, :-1].float() / temperature, dim=-1)
    kl = functional.kl_div(s, t, reduction="none", log_target=True).sum(dim=-1) * keep
    per_example = kl.sum(dim=1) / keep.sum(dim=1).clamp(min=1)
    right = ((teacher[:, :-1].argmax(dim=-1) == target) | ~keep).all(dim=1)
    weight = torch.where(right, FOCAL_RIGHT, FOCAL_WRONG).to(per_example.dtype)
    return per_example, weight


def lm_loss_with_distillation(teacher: Any, strength: float, temperature: float):  # noqa: ANN201
    """A `compute_loss(model, inputs)` for the HF Trainer: CE + strength·T²·mean(w·KL)."""

    def compute(model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, Any]:
        outputs = model(**inputs)
        device = inputs["input_ids"].device
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        with torch.no_grad():
            taught = teacher(input_ids=inputs["input_ids"],
                             attention_mask=inputs["attention_mask"]).logits
        kl, weight = token_kl(outputs.logits, taught, inputs["labels"], temperature)
        return outputs.loss + strength * temperature ** 2 * (weight * kl).mean(), outputs

    return compute
