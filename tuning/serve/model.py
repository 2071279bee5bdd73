"""A stored model loaded for serving, and prediction with scores.

`Backend.predict` gives labels only; the server also answers with scores, so for the classifier
this module runs the forward pass itself (same encoding, same length-sorted batches) and keeps
the softmax. Other backends answer with text and no scores."""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuning.backends.base import Backend, Input, settings_from_config
from tuning.model_store import ModelStore

SCORE_BATCH = 64


@dataclass(frozen=True)
class Answer:
    text: str
    score: float | None = None  # probability of `text`, where the backend has one
    scores: dict[str, float] | None = None  # every label's probability (classifier)
    truncated: bool = False


@dataclass
class ServedModel:
    hash: str
    backend: Backend
    meta: dict[str, Any]
    loaded_at: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return str(self.meta.get("backend", self.backend.name))


def load_model(store_root: Path, config: dict[str, dict[str, Any]], model_hash: str) -> ServedModel:
    """Load `model_hash` from the model store with the settings it was saved with. Raises a
    StrawError (MissingModel, ModelError) naming the model or its folder."""
    from tuning import backends

    store = ModelStore(store_root)
    folder = store.load(model_hash)
    meta = store.meta(model_hash)
    model_s, train_s = settings_from_config(config)
    settings = type(model_s)(**{**asdict(model_s), "backend": meta.get("backend", model_s.backend),
                                "max_length": int(meta.get("max_length", model_s.max_length))})
    backend = backends.create(settings, train_s)
    backend.load(folder)
    return ServedModel(model_hash, backend, meta)


def answer(model: ServedModel, inputs: list[Input]) -> list[Answer]:
    """One forward pass (in chunks of SCORE_BATCH) over `inputs`, in their order."""
    if not inputs:
        return []
    if model.backend.name == "classifier":
        return _classify(model.backend, inputs)
    return [Answer(p.text, None, None, p.truncated) for p in model.backend.predict(inputs)]


def _classify(backend: Any, inputs: list[Input]) -> list[Answer]:
    import torch

    if not backend.labels:
        return [Answer(p.text, None, None, p.truncated) for p in backend.predict(inputs)]
    enc, truncated = backend.encode(inputs)
    order = sorted(range(len(inputs)), key=lambda i: len(enc["input_ids"][i]))
    probs: list[list[float]] = [[] for _ in inputs]
    device = next(backend.model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(order), SCORE_BATCH):
            idx = order[start:start + SCORE_BATCH]
            batch = backend.tokenizer.pad({k: [enc[k][i] for i in idx] for k in enc},
                                          return_tensors="pt")
            logits = backend.model(**{k: v.to(device) for k, v in batch.items()}).logits
            for i, row in zip(idx, logits.float().softmax(dim=-1).tolist(), strict=True):
                probs[i] = row
    labels = backend.labels
    out = []
    for i, row in enumerate(probs):
        best = max(range(len(row)), key=row.__getitem__)
        out.append(Answer(labels[best], row[best], {label: p for label, p in zip(labels, row, strict=True)},
                          truncated[i]))
    return out


def default_threads() -> int:
    """Torch threads for the forward pass: every core but one, which stays with the event loop
    (and, on a small machine, the clients). On 2 shared cores, 2 torch threads spin-waiting
    against the event loop served 8 requests/s where 1 thread served 32-39 (benchmarks/serve.py
    setting, interleaved runs)."""
    return max(1, (os.cpu_count() or 2) - 1)


def set_threads(count: int) -> None:
    import torch

    torch.set_num_threads(count)


def logprob(p: float | None) -> float | None:
    if p is None:
        return None
    return math.log(p) if p > 0 else -1e9
