"""Which baseline cases a round trains on. "all": every one. "adaptive" (continual-learning
rehearsal, sized for a baseline that only grows): every case failing after the last validation,
then up to `replay_size` more — the passing cases with the smallest margin, the cases nearest to
the new ones by the model's own embeddings, and a random share so nothing is starved.

The random share is stratified by expected output: it fills the least represented outputs first,
and covers every output (every label of a classifier) that nothing else brought in. Why: the
failing / low-margin / nearest picks cluster on a few confusable labels; a label absent from a
round's examples only ever sees its logit pushed down (softmax cross-entropy) while the encoder
moves under it, so at a large baseline its borderline cases drift to the labels that were
trained. Outputs that never repeat (free text) make every stratum one case: plain random."""

from __future__ import annotations

import heapq
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
                  nearest: list[float] | None, seed: int,
                  strata: list[str] | None = None, keys: list[str] | None = None) -> ReplayChoice:
    """`failing` always join. The budget `size` is split in thirds: lowest margins, nearest to
    the new cases, random (a share that cannot be filled by one reason goes to random).
    `strata` (each baseline case's expected output) stratifies the random share; when there are
    no more outputs than `size`, it also grows past its third to cover every output once.
    `keys` (each case's content key) order the cases wherever the order could decide, so the
    choice does not depend on where a case sits in the list (its id)."""
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

    order = sorted(range(n), key=keys.__getitem__) if keys is not None else list(range(n))
    if margins is not None:
        take(sorted(order, key=lambda i: margins[i]), third, "low_margin")
    if nearest is not None:
        take(sorted(order, key=lambda i: -nearest[i]), third, "nearest")
    rest = [i for i in order if i not in chosen]
    left = size - reasons["low_margin"] - reasons["nearest"]
    rng = random.Random(seed)
    if strata is None:
        picked = rng.sample(rest, min(left, len(rest)))
    else:
        picked = stratified(rest, strata, list(chosen), left, size, rng)
    take(picked, len(picked), "random")
    return ReplayChoice(sorted(chosen), reasons)


def stratified(rest: list[int], strata: list[str], chosen: list[int], count: int, size: int,
               rng: random.Random) -> list[int]:
    """Up to `count` of `rest`, one at a time from the stratum with the fewest cases chosen so
    far (ties at random), so absent strata come first. If some stratum is still absent after
    `count` picks and there are at most `size` strata, picking goes on until each has one."""
    members: dict[str, list[int]] = {}
    for i in rest:
        members.setdefault(strata[i], []).append(i)
    for group in members.values():
        rng.shuffle(group)
    have: dict[str, int] = dict.fromkeys(members, 0)
    for i in chosen:
        if strata[i] in have:
            have[strata[i]] += 1
    cover = len(set(strata)) <= size
    heap = [(have[s], rng.random(), s) for s in members]
    heapq.heapify(heap)
    picked: list[int] = []
    while heap:
        held, tie, stratum = heapq.heappop(heap)
        if len(picked) >= count and not (cover and held == 0):
            break
        picked.append(members[stratum].pop())
        if members[stratum]:
            heapq.heappush(heap, (held + 1, tie, stratum))
    return picked
