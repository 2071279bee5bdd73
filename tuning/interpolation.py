"""Old↔new weight interpolation after the round that passes (weight-space ensembling: WiSE-FT,
Wortsman et al. 2022; backward-compatible weight interpolation, Schumann et al. 2024):
θ(λ) = (1−λ)·θ_old + λ·θ_new on a small grid of λ. Kept: among the λ whose model still passes
the gate on the baseline and new cases, the one with the fewest watch negative flips against the
production model, then the smallest λ (the most conservative). Classifier: head rows of labels
the production model never had come from the new model. Causal LM: fully fine-tuned weights mix
the same way; with LoRA the snapshots hold the adapter only, so θ(λ) = θ_old + λ·Δ scales the
adapter's change since production (in the adapter's own parameters, A and B)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuning.backends.base import Backend, TrainSettings, Validation
from tuning.cases_io import passes, target_of
from tuning.training import Gate, TrainingSet, refit_head, validate

if TYPE_CHECKING:  # torch loads with the backend, not with `straw --help`
    import torch

    from tuning.backends.head_refit import Teacher

GRID = (0.0, 0.2, 0.4, 0.6, 0.8)  # λ = 1 is the trained model itself, already validated


@dataclass
class Choice:
    lam: float
    validation: Validation
    tried: list[dict[str, Any]]  # per λ: passed the gate, watch negative flips, watch passed

    def record(self) -> dict[str, Any]:
        return {"lambda": self.lam, "grid": [*GRID, 1.0], "tried": self.tried}


def supports(backend: Backend) -> bool:
    return backend.name in ("classifier", "causal_lm")


def _parts(snapshot: Any) -> tuple[list[str] | None, dict[str, torch.Tensor]]:
    """(labels, weights): a classifier's snapshot carries its labels, a causal LM's is weights."""
    return (snapshot[0], snapshot[1]) if isinstance(snapshot, tuple) else (None, snapshot)


def _snapshot(labels: list[str] | None, state: dict[str, torch.Tensor]) -> Any:
    return state if labels is None else (labels, state)


def mix(old: dict[str, torch.Tensor], new: dict[str, torch.Tensor], lam: float
        ) -> dict[str, torch.Tensor]:
    """θ(λ) per tensor; a tensor that grew rows (the head of a model that learned new labels)
    mixes its first rows and keeps the new model's added rows; non-float buffers come from new."""
    out: dict[str, torch.Tensor] = {}
    for key, now in new.items():
        was = old.get(key)
        if was is None or not now.is_floating_point() or was.shape[1:] != now.shape[1:]:
            out[key] = now.clone()
            continue
        mixed = now.clone()
        rows = min(was.shape[0], now.shape[0]) if now.dim() else None
        if rows is None:
            mixed = (1 - lam) * was + lam * now
        else:
            mixed[:rows] = (1 - lam) * was[:rows] + lam * now[:rows]
        out[key] = mixed
    return out


def watch_negative_flips(data: TrainingSet, validation: Validation,
                         production_watch_pass: list[bool]) -> list[str]:
    start = len(data.baseline) + len(data.new)
    now = validation.predictions[start:]
    return [c.id for c, was, p in zip(data.watch, production_watch_pass, now, strict=True)
            if was and not passes(c, p.text)]


def watch_passed(data: TrainingSet, validation: Validation) -> int:
    """Watch cases this model answers right: the accuracy side of each λ, for the reviewer."""
    start = len(data.baseline) + len(data.new)
    return sum(passes(c, p.text) for c, p in
               zip(data.watch, validation.predictions[start:], strict=True))


def teacher(backend: Backend, at_zero: Validation, production_labels: int,
            settings: TrainSettings | None) -> Teacher | None:
    """The production model's logits on every case, for the refits' distillation, or None.
    θ(0) is production's encoder and production's head rows (only rows of added labels come
    from the tuned model), so its logits over the first `production_labels` columns are
    production's own: no extra forward pass."""
    if settings is None or not settings.interpolate_distill:
        return None
    logits = backend.head_logits(at_zero)
    if logits is None:
        return None
    from tuning.backends.head_refit import Teacher  # here: torch loads with the engine only

    return Teacher(logits[:, :production_labels].clone(), settings.interpolate_distill,
                   settings.distill_temperature)


def interpolate(backend: Backend, old_snapshot: Any, data: TrainingSet, trained: Validation,
                gate: Gate, production_watch_pass: list[bool],
                settings: TrainSettings | None = None, start: Validation | None = None) -> Choice:
    """Leave the backend holding the chosen θ(λ); `trained` is θ(1)'s validation (it passed).
    `start`: the production model's validation over `data.cases` when the tune has one (adaptive
    replay validates the start to choose round 1's replay): θ(0)'s encoder is production's, so
    θ(0) is judged from those features under its own output layer, without a forward pass.
    With `settings.refit_head`, a θ(λ) that fails the gate gets its output layer refitted on the
    baseline and new cases (tuning.training.refit_head) and is judged again: a small λ often
    keeps the production encoder's neighbourhoods and only needs the head to place the batch.
    The grid is tried from λ = 0 up and stops at the first λ that passes with no watch flip.
    With `settings.interpolate_distill`, those refits also keep close to the production model's
    outputs on the same cases (`teacher`)."""
    old_labels, old_state = _parts(old_snapshot)
    new_snapshot = backend.snapshot()
    new_labels, new_state = _parts(new_snapshot)
    if old_labels is not None and (new_labels or [])[:len(old_labels)] != old_labels:
        raise ValueError("the trained head reorders the production model's labels")
    nb, nn = len(data.baseline), len(data.new)
    targets = [target_of(c, backend.name) for c in data.cases]

    def judge(result: Validation) -> bool:
        ok = [passes(c, p.text) for c, p in zip(data.cases, result.predictions, strict=True)]
        return gate(sum(ok[:nb]), nb, sum(ok[nb:nb + nn]), nn)

    best = (len(watch_negative_flips(data, trained, production_watch_pass)), 1.0)
    chosen, kept, tried = trained, new_snapshot, []
    production = None
    for lam in GRID:
        backend.restore(_snapshot(new_labels, mix(old_state, new_state, lam)))
        result = None
        if lam == 0.0 and start is not None:  # production's encoder: its features are known
            result = backend.rejudge(start, targets)
        if result is None:
            result = validate(backend, data, backend.name)
        if lam == GRID[0] and old_labels is not None:  # θ(0): production itself
            production = teacher(backend, result, len(old_labels), settings)
        gate_ok, refit = judge(result), False
        if not gate_ok and settings is not None and settings.refit_head:
            result, record = refit_head(backend, data, settings, result, production)
            refit = record is not None
            gate_ok = refit and judge(result)
        flipped = len(watch_negative_flips(data, result, production_watch_pass))
        tried.append({"lambda": lam, "passed": gate_ok, "watch_negative_flips": flipped,
                      "watch_passed": watch_passed(data, result)}
                     | ({"head_refit": True} if refit else {}))
        if gate_ok and (flipped, lam) < best:
            best, chosen, kept = (flipped, lam), result, backend.snapshot()
        if gate_ok and flipped == 0:  # the grid rises: no later λ can be chosen over this one
            break
    tried.append({"lambda": 1.0, "passed": True, "watch_negative_flips":
                  len(watch_negative_flips(data, trained, production_watch_pass)),
                  "watch_passed": watch_passed(data, trained)})
    backend.restore(kept)
    return Choice(best[1], chosen, tried)
