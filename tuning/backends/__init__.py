"""Backends by name, loaded lazily: listing them imports nothing heavy."""

from __future__ import annotations

import importlib

from tuning.backends.base import Backend, ModelSettings, TrainSettings
from tuning.errors import ModelError

REGISTRY: dict[str, str] = {
    "classifier": "tuning.backends.classifier:ClassifierBackend",
    "causal_lm": "tuning.backends.causal_lm:CausalLMBackend",
}


def names() -> list[str]:
    return sorted(REGISTRY)


def get_backend_class(name: str) -> type[Backend]:
    try:
        target = REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown backend {name!r} (known: {', '.join(names())})") from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            raise ModelError(f"backend {name!r} is not installed ({module_name} missing)") from None
        raise
    return getattr(module, attr)


def create(model: ModelSettings, train: TrainSettings) -> Backend:
    return get_backend_class(model.backend)(model, train)
