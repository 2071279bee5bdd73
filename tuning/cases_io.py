"""Between cases and a backend: what a case asks the model to learn, how its output is judged,
and the prediction cache keyed by (model hash, content hash of the case's input)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repo_store import matching
from repo_store.cases import Case
from tuning.backends.base import Backend, Example, Prediction
from tuning.errors import ModelError
from tuning.model_store import ModelStore, hex_of

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

CLASSIFIER_RULES = ("label", "exact", "one_of")


def target_of(case: Case, backend: str) -> str:
    """The output a backend is trained to give for `case`."""
    expected = case.expected
    if case.match == "one_of":
        return matching.label_of(expected[0]) if expected else ""
    if backend == "classifier":
        if case.match not in CLASSIFIER_RULES:
            raise ModelError(f"{case.path}: match rule {case.match!r} needs a generative backend "
                             f"([model] backend = \"causal_lm\"); a classifier predicts labels "
                             f"({', '.join(CLASSIFIER_RULES)})")
        return matching.label_of(expected)
    target = (case.data.get("meta") or {}).get("target")
    if isinstance(target, str):
        return target
    if case.match == "json" and not isinstance(expected, str):
        return json.dumps(expected, ensure_ascii=False)
    return str(expected)


def content_key(case: Case, backend: str) -> str:
    """The order cases train in: a hash of what the case teaches (input and target), so that two
    repositories holding the same cases under different ids (ids are random) train in the same
    order and, with the same seed, give the same model."""
    text = case.input if isinstance(case.input, str) else json.dumps(
        case.input, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{text}\0{target_of(case, backend)}".encode()).hexdigest() + case.id


def in_content_order(cases: list[Case], backend: str) -> list[Case]:
    return sorted(cases, key=lambda c: content_key(c, backend))


def examples_of(cases: list[Case], backend: str, weight: int = 1) -> list[Example]:
    return [Example(c.input, target_of(c, backend), c.id) for c in cases for _ in range(max(1, weight))]


def passes(case: Case, predicted: str | None) -> bool:
    return matching.passes(case.match, case.expected, predicted)


def input_key(case: Case, max_length: int) -> str:
    canonical = json.dumps({"input": case.input, "max_length": max_length}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class PredictionCache:
    """`<store>/predictions/<hex>.jsonl`: one {"key", "predicted", "truncated"} per line, appended.
    A model's predictions are a function of its weights and the input, so entries never expire."""

    def __init__(self, store: ModelStore, model_hash: str) -> None:
        self.path = store.root / "predictions" / f"{hex_of(model_hash)}.jsonl"
        self._entries: dict[str, Prediction] | None = None

    def entries(self) -> dict[str, Prediction]:
        if self._entries is None:
            self._entries = {}
            if self.path.is_file():
                with open(self.path, encoding="utf-8") as fh:
                    for line in fh:
                        try:
                            row = json.loads(line)
                            self._entries[row["key"]] = Prediction(row["predicted"],
                                                                   bool(row.get("truncated")))
                        except (ValueError, KeyError, TypeError):
                            continue  # a torn last line after a crash
        return self._entries

    def put(self, items: dict[str, Prediction]) -> None:
        if not items:
            return
        fresh = {k: v for k, v in items.items() if k not in self.entries()}
        if not fresh:
            return
        lines = "".join(json.dumps({"key": k, "predicted": p.text, "truncated": p.truncated},
                                   ensure_ascii=False) + "\n" for k, p in fresh.items())
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, lines.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as err:  # a cache that cannot be written only costs time
            logger.warning("prediction cache %s not written: %s", self.path, err)
            return
        self.entries().update(fresh)


PREDICT_CHUNK = 128  # cases per predict() call when someone watches progress


def predict_cases(cases: list[Case], max_length: int, cache: PredictionCache | None,
                  backend: Backend | Callable[[], Backend],
                  on_done: Callable[[int, int], None] | None = None) -> tuple[list[Prediction], int]:
    """Predictions for `cases` (cache first; `backend` may be a loader called only on a miss).
    `on_done(done, total)` is called as chunks finish (the CLI's bar). Returns (predictions,
    number computed)."""
    keys = [input_key(c, max_length) for c in cases]
    known = cache.entries() if cache else {}
    missing = [i for i, k in enumerate(keys) if k not in known]
    computed: dict[str, Prediction] = {}
    if missing:
        model = backend if isinstance(backend, Backend) else backend()
        # chunks only for a progress consumer: one call batches best when nobody watches
        step = PREDICT_CHUNK if on_done else len(missing)
        preds: list[Prediction] = []
        for at in range(0, len(missing), step):
            part = missing[at:at + step]
            preds += model.predict([cases[i].input for i in part])
            if on_done:
                on_done(len(cases) - len(missing) + at + len(part), len(cases))
        computed = {keys[i]: p for i, p in zip(missing, preds, strict=True)}
        if cache:
            cache.put(computed)
    table: dict[str, Any] = {**known, **computed}
    return [table[k] for k in keys], len(missing)
