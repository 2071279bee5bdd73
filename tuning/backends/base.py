"""The backend interface: load a model, train it on examples, predict on inputs, save it.
Requests and settings are plain dataclasses; a backend never sees a Case or a repository."""

from __future__ import annotations

import copy
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from repo_store import config

Input = str | list[dict[str, str]]  # a prompt, or chat messages [{"role", "content"}]
_FROM_DEFAULTS = object()


def _setting(section: str, key: str, default: Any = _FROM_DEFAULTS) -> Any:
    """A settings field whose default comes from config.DEFAULTS and whose help text is the
    key's description in schemas/config.schema.json: straw.toml's keys are defined once."""
    value = config.DEFAULTS[section][key] if default is _FROM_DEFAULTS else default
    meta = {"help": config.setting_help()[section][key]}
    if isinstance(value, list | dict):
        return field(default_factory=lambda: copy.deepcopy(value), metadata=meta)
    return field(default=value, metadata=meta)


@dataclass
class ModelSettings:
    """`[model]` in straw.toml (help: `dataclasses.fields(ModelSettings)[i].metadata["help"]`)."""

    backend: str = _setting("model", "backend")
    base: str = _setting("model", "base")
    start_from: str = _setting("model", "start_from")
    store: str = _setting("model", "store")
    max_length: int = _setting("model", "max_length")
    max_new_tokens: int = _setting("model", "max_new_tokens")
    adapter: str = _setting("model", "adapter")
    lora_r: int = _setting("model", "lora_r")
    lora_alpha: int = _setting("model", "lora_alpha")
    lora_target_modules: list[str] | None = _setting("model", "lora_target_modules", None)


@dataclass
class TrainSettings:
    """`[train]` in straw.toml."""

    learning_rate: float = _setting("train", "learning_rate")
    epochs_per_round: float = _setting("train", "epochs_per_round")
    batch_size: int = _setting("train", "batch_size")
    max_iterations: int = _setting("train", "max_iterations")
    new_case_weight: int = _setting("train", "new_case_weight")
    weight_decay: float = _setting("train", "weight_decay")
    warmup_ratio: float = _setting("train", "warmup_ratio")
    lr_scheduler: str = _setting("train", "lr_scheduler")
    seed: int = _setting("train", "seed")
    replay: str = _setting("train", "replay")
    replay_size: int = _setting("train", "replay_size")
    interpolate: bool = _setting("train", "interpolate")
    interpolate_distill: float = _setting("train", "interpolate_distill")
    distill: float = _setting("train", "distill")
    distill_temperature: float = _setting("train", "distill_temperature")
    refit_head: bool = _setting("train", "refit_head")
    bias_correction: bool = _setting("train", "bias_correction")


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
class Validation:
    """One validation pass over some inputs: what the model predicts, and how sure it is."""

    predictions: list[Prediction]
    margins: list[float] | None  # > 0: the case passes with room; None: the backend cannot tell
    embeddings: Any  # [n, d] L2-normalised tensor from the model's own encoder, or None
    seconds: float
    features: Any = None  # [n, d] the output layer's raw inputs, where the backend can refit it


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
    def train(self, examples: list[Example], epochs: float, hooks: TrainHooks | None = None,
              seed: int | None = None) -> float | None:
        """Train in place; return the mean training loss. Raises Cancelled if hooks.cancel was set
        (the in-memory model is then in an unspecified state; nothing was written anywhere)."""

    @abstractmethod
    def predict(self, inputs: list[Input]) -> list[Prediction]:
        """Batched, deterministic predictions, in the order of `inputs`."""

    def validate(self, inputs: list[Input], targets: list[str]) -> Validation:
        """Predictions plus, where the backend can tell, each target's margin and an embedding
        per input (adaptive replay uses both). The default knows predictions only."""
        started = time.monotonic()
        preds = self.predict(inputs)
        return Validation(preds, None, None, time.monotonic() - started)

    def refit(self, validation: Validation, targets: list[str], weights: list[float],
              teacher: Any = None) -> Validation | None:
        """Refit the output layer alone on the cases of `validation` (weight 0: not trained on),
        from the features it holds, and return the validation of the refitted model; None when
        the backend cannot (the default) or nothing improved. `teacher`: a
        `head_refit.Teacher` whose outputs the refit is also pulled towards."""
        return None

    def head_logits(self, validation: Validation) -> Any:
        """The output layer's logits for the inputs of `validation`, from the features it holds
        ([n, labels] tensor); None when the backend has no such layer (the default)."""
        return None

    def rejudge(self, validation: Validation, targets: list[str]) -> Validation | None:
        """The validation of the same inputs under the current output layer, from the features
        `validation` holds, when the encoder that computed them is the one loaded now; None when
        the backend has no such layer (the default)."""
        return None

    def lower_bias(self, shifts: dict[str, float], validation: Validation,
                   targets: list[str]) -> Validation:
        """Subtract `shifts[label]` from those labels' output bias; the validation of the same
        inputs under the changed layer. Only backends whose `head_logits` answers implement it."""
        raise NotImplementedError(f"the {self.name} backend has no output bias to lower")

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
