"""Which baseline cases a round trains on. "all": every one. "adaptive" (continual-learning
rehearsal, sized for a baseline that only grows): every case failing after the last validation,
then up to `replay_size` more — the passing cases with the smallest margin, the cases nearest to
the new ones by the model's own embeddings, and a random share so nothing is starved."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

MODES = ("all", "adaptive")


@dataclass
class ReplayChoice:
    """Indices into the baseline, and how many came in for each reason."""

    indices: list[int]
    reasons: dict[str, int] = field(default_factory=dict)  # failing, low_margin, nearest, random

    def record(self, mode: str) -> dict[str, Any]:
        return {"mode": mode, "size": len(self.indices), **self.reasons}


def nearest_scores(baseline_embeddings: Any, new_embeddings: Any) -> list[float] | None:
    """Per baseline case, its highest cosine similarity to any new case (embeddings are
    L2-normalised rows); None when the backend gives no embeddings."""
    if baseline_embeddings is None or new_embeddings is None:
        return None
    if len(baseline_embeddings) == 0 or len(new_embeddings) == 0:
        return None
    return (baseline_embeddings @ new_embeddings.T).max(dim=1).values.tolist()


def choose_replay(n: int, size: int, failing: list[int], margins: list[float] | None,
                  nearest: list[float] | None, seed: int) -> ReplayChoice:
    """`failing` always join. The budget `size` is split in thirds: lowest margins, nearest to
    the new cases, random (a share that cannot be filled by one reason goes to random)."""
    if n <= size + len(failing):
        return ReplayChoice(list(range(n)), {"failing": len(failing), "all": n - len(failing)})
    chosen: dict[int, None] = dict.fromkeys(failing)
    reasons = {"failing": len(chosen), "low_margin": 0, "nearest": 0, "random": 0}
    third = size // 3

    def take(order: list[int], count: int, reason: str) -> None:
        for i in order:
            if reasons[reason] >= count:
                return
            if i not in chosen:
                chosen[i] = None
                reasons[reason] += 1

    if margins is not None:
        take(sorted(range(n), key=lambda i: margins[i]), third, "low_margin")
    if nearest is not None:
        take(sorted(range(n), key=lambda i: -nearest[i]), third, "nearest")
    rest = [i for i in range(n) if i not in chosen]
    left = size - reasons["low_margin"] - reasons["nearest"]
    picked = random.Random(seed).sample(rest, min(left, len(rest)))
    take(picked, len(picked), "random")
    return ReplayChoice(sorted(chosen), reasons)
