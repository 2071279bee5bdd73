"""`straw.toml`: read with tomllib, checked against schemas/config.schema.json (an unknown key or
a wrong type is an error naming the key), merged over the defaults below."""

from __future__ import annotations

import copy
import json
import math
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repo_store import gitio, schemas
from repo_store.errors import Issue, UsageError, ValidationFailed

if TYPE_CHECKING:
    from repo_store.gitio import Repo

CONFIG_FILE = "straw.toml"

DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {
        "backend": "classifier",
        "base": "embedded",
        "start_from": "production",
        "store": "",  # "": <git common dir>/straw/models, where no commit can write
        "max_length": 128,
        "max_new_tokens": 32,
        "adapter": "none",
        "lora_r": 8,
        "lora_alpha": 16,
    },
    "train": {
        "learning_rate": 1e-4,
        "epochs_per_round": 3,
        "batch_size": 16,
        "max_iterations": 5,
        "new_case_weight": 2,
        "weight_decay": 0.01,
        "warmup_ratio": 0.0,
        "lr_scheduler": "constant",
        "seed": 0,
        "replay": "adaptive",
        "replay_size": 256,
        "interpolate": False,
        "interpolate_distill": 1.0,
        "distill": 0.0,
        "distill_temperature": 2.0,
        "refit_head": True,
        "bias_correction": False,
    },
    "batch": {"min_size": 10, "max_size": 20},
    "gate": {"baseline_threshold": 1.0, "new_threshold": 1.0, "require_signed": False,
             "max_watch_negative_flips": 0},
    "monitor": {"threshold": 1.0, "alert_command": ""},  # alert_command: ignored, see local_settings
}

TEMPLATE = """\
# straw configuration. Every key is optional; the values shown are the defaults.
# Schema: schemas/config.schema.json in the straw package.

[model]
backend = "classifier"        # "classifier" or "causal_lm"
base = "embedded"             # "embedded" (all-MiniLM-L6-v2, offline) or a local model folder
start_from = "production"     # tune from models.lock's model, or "base"
# store = "/srv/straw-models" # model store; default: .git/straw/models, where no commit can write
max_length = 128

[train]
learning_rate = 1e-4
epochs_per_round = 3
batch_size = 16
max_iterations = 5            # rounds of train + validate before giving up
new_case_weight = 2           # each new case appears this many times per epoch
seed = 0
replay = "adaptive"           # baseline cases trained on per round: "all" or "adaptive"
replay_size = 256             # adaptive: cases replayed per round besides the failing ones
interpolate = false           # blend production and tuned weights (LoRA: the adapter) to spare watch cases
interpolate_distill = 1.0     # classifier: KL to production in an interpolated model's head refit (0: off)
distill = 0.0                 # weight of the KL term to the production model (0: off)
distill_temperature = 2.0
refit_head = true             # classifier: refit the output layer after a partial replay and the last round
bias_correction = false       # classifier: lower the output bias of labels a batch adds, chosen on watch

[batch]
min_size = 10
max_size = 20

[gate]
baseline_threshold = 1.0
new_threshold = 1.0
require_signed = false        # true: merges and `straw config set` sign; verify checks allowed_signers
max_watch_negative_flips = 0  # watch cases the production model passed that a merge may break

[monitor]
threshold = 1.0               # any failing baseline case is a regression
# Commands come from local settings only, never from this shared file:
#   git config straw.alertCommand "mail -s straw ops@example.com"   (alert summary on stdin)
#   git config straw.deployCommand "./deploy.sh"   (STRAW_MODEL_HASH, STRAW_MODEL_DIR set)
"""


Config = dict[str, dict[str, Any]]


def parse(text: str, path: str = CONFIG_FILE) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValidationFailed([Issue(path, "$", f"not valid TOML: {err}")]) from None
    schemas.check("config", data, path)
    for section, values in data.items():  # JSON Schema has no word for NaN: 0 <= nan is false
        for key, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValidationFailed([Issue(path, f"$.{section}.{key}", f"{value} is not a number "
                                                                          f"straw can compare")])
    merged = copy.deepcopy(DEFAULTS)
    for section, values in data.items():
        merged[section].update(values)
    if merged["batch"]["min_size"] > merged["batch"]["max_size"]:
        raise ValidationFailed([Issue(path, "$.batch.min_size", "is larger than max_size")])
    return merged


def committed(repo: Repo, ref: str = "main") -> Config:
    """The settings committed at `ref` (defaults when it has no straw.toml): what decides a
    verdict. Never the work tree's file, which anyone can edit, nor a batch branch's."""
    raw = gitio.read_file(repo, ref, CONFIG_FILE)
    if raw is None:
        return copy.deepcopy(DEFAULTS)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed([Issue(f"{ref}:{CONFIG_FILE}", "$", "not UTF-8 text")]) from None
    return parse(text, f"{ref}:{CONFIG_FILE}")


def load(root: Path) -> Config:
    path = root / CONFIG_FILE
    if not path.exists():
        return copy.deepcopy(DEFAULTS)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed([Issue(CONFIG_FILE, "$", "not UTF-8 text")]) from None
    except OSError as err:  # a directory, unreadable, a dangling symlink
        raise UsageError(f"{path}: cannot be read ({err.strerror or err})") from None
    return parse(text, CONFIG_FILE)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to {CONFIG_FILE}")


def write(root: Path, overrides: dict[str, dict[str, Any]]) -> Config:
    """Merge `overrides` into straw.toml (validated before it is written; comments are not kept)."""
    path = root / CONFIG_FILE
    current = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for section, values in overrides.items():
        current.setdefault(section, {}).update(values)
    text = "".join(f"[{section}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())
                   + "\n" for section, values in current.items())
    merged = parse(text, CONFIG_FILE)
    from repo_store.cases import atomic_write

    atomic_write(path, text.encode("utf-8"))
    return merged


def setting_help() -> dict[str, dict[str, str]]:
    """{section: {key: description}} from the config schema, for `straw config` and the engine's
    settings dataclasses (the schema is the one place a setting is described)."""
    props = schemas.load_schema("config")["properties"]
    return {section: {key: spec.get("description", "") for key, spec in body["properties"].items()}
            for section, body in props.items()}
