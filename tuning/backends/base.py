"""The backend interface: load a model, train it on examples, predict on inputs, save it.
Requests and settings are plain dataclasses; a backend never sees a Case or a repository."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

Input = str | list[dict[str, str]]  # a prompt, or chat messages [{"role", "content"}]


@dataclass
class ModelSettings:
    """`[model]` in straw.toml."""

    backend: str = "classifier"
    base: str = "embedded"  # "embedded" or a local model folder
    start_from: str = "production"  # or "base"
    store: str = ".straw/models"
    max_length: int = 128  # longer inputs are truncated and flagged in the report
    max_new_tokens: int = 32  # generative backends only
    adapter: str = "none"  # "lora" for peft adapters (generative backends)
    lora_r: int = 8
    lora_alpha: int = 16
    lora_target_modules: list[str] | None = None  # None: every Linear/Conv1D module


@dataclass
class TrainSettings:
    """`[train]` in straw.toml."""

    learning_rate: float = 1e-4
    epochs_per_round: int = 3
    batch_size: int = 16
    max_iterations: int = 5  # rounds of train + validate
    new_case_weight: int = 2  # each new case appears this many times per epoch
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    lr_scheduler: str = "constant"
    seed: int = 0


def _pick(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def settings_from_config(config: dict[str, dict[str, Any]]) -> tuple[ModelSettings, TrainSettings]:
    return _pick(ModelSettings, config.get("model", {})), _pick(TrainSettings, config.get("train", {}))


@dataclass
class Example:
    """One training example: an input and the output the model must give."""

    input: Input
    target: str
    id: str = ""  # the case id, for errors that name the case


@dataclass
class Prediction:
    text: str
    truncated: bool = False  # the input was longer than max_length


@dataclass
class TrainHooks:
    """What a training run reports to and listens to."""

    on_step: Callable[[int, int, float | None], None] | None = None  # (step, total, loss)
    cancel: threading.Event | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """One kind of model. Lifecycle: `load` once, then any number of `train`/`predict`, `save`.
    The model stays in memory between calls (a tune runs several rounds on one instance)."""

    name: str = ""

    def __init__(self, model: ModelSettings, train: TrainSettings) -> None:
        self.model_settings = model
        self.train_settings = train

    @abstractmethod
    def load(self, source: str | Path) -> None:
        """`source`: "embedded", a base model folder, or a model store folder."""

    @abstractmethod
    def prepare(self, examples: list[Example]) -> None:
        """Make the model able to represent every target (a classifier grows its head). Raises
        ModelError naming the target it cannot represent."""

    @abstractmethod
    def train(self, examples: list[Example], epochs: int, hooks: TrainHooks | None = None,
              seed: int | None = None) -> float | None:
        """Train in place; return the mean training loss. Raises Cancelled if hooks.cancel was set
        (the in-memory model is then in an unspecified state; nothing was written anywhere)."""

    @abstractmethod
    def predict(self, inputs: list[Input]) -> list[Prediction]:
        """Batched, deterministic predictions, in the order of `inputs`."""

    @abstractmethod
    def save(self, folder: Path) -> list[Path]:
        """Write the model (safetensors only) into the existing empty `folder`; return the files
        whose bytes identify the model (hashed by the model store)."""

    @abstractmethod
    def snapshot(self) -> Any:
        """An in-memory copy of the weights (to keep the best round)."""

    @abstractmethod
    def restore(self, snap: Any) -> None: ...

    def describe(self) -> dict[str, Any]:
        """Extra facts for the model store's metadata."""
        return {}
