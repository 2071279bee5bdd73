"""Generative models (`AutoModelForCausalLM` + its tokenizer), fine-tuned on input → expected.

- Training: supervised fine-tuning through Hugging Face `Trainer`; the loss covers the completion
  only (prompt tokens are labelled -100) and every target ends with EOS so generation stops. Chat
  inputs (message lists) go through the tokenizer's chat template.
- Validation: greedy decoding (`do_sample=False`), batched with LEFT padding, `max_new_tokens`
  from config; deterministic for given weights and inputs.
- LoRA (`adapter = "lora"`): peft adapters on the base model. The model store then keeps only the
  adapter (safetensors) plus the base model's identity (its path or hub id and a hash of its
  weights), so promoting or rolling back costs megabytes. `load()` of a stored adapter loads the
  base, checks its hash, and applies the adapter. `tuning.export.merge_adapter` merges for export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

from tuning.backends import lm_distill
from tuning.backends.base import (
    Backend,
    Example,
    Input,
    ModelSettings,
    Prediction,
    TrainHooks,
    TrainSettings,
    Validation,
)
from tuning.backends.hf_common import Quiet, first_line, optimizer_name, run_trainer, token_batches
from tuning.backends.lm_data import (
    IGNORE,
    CompletionCollator,
    PromptEncoder,
    left_pad,
    name_of,
    training_rows,
)
from tuning.errors import ModelError

logger = logging.getLogger(__name__)

ADAPTER_META = "straw_adapter.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model",
                   "spiece.model", "vocab.txt")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PREDICT_BATCH = 32  # rows per decoding / scoring batch, at most
PREDICT_TOKENS = 4096  # padded tokens per batch (prompt + max_new_tokens when decoding)
ADAPTER_KINDS = ("none", "lora")

_hash_cache: dict[tuple[str, int], str] = {}


def weights_hash(model: Any) -> str:
    """sha256 over the model's tensors (names, dtypes, shapes, bytes): the base model's identity,
    the same however its files are sharded or where they live."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def lora_candidates(model: Any) -> list[str]:
    """Names (last component) of the modules LoRA can wrap: Linear, Conv1D, Embedding, Conv*."""
    kinds = ("Linear", "Conv1D", "Conv1d", "Conv2d", "Embedding")
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if name and type(module).__name__ in kinds})


class CausalLMBackend(Backend):
    name = "causal_lm"

    def __init__(self, model: ModelSettings, train: TrainSettings) -> None:
        super().__init__(model, train)
        self.model: Any = None
        self.tokenizer: Any = None
        self.source: str | None = None
        self.base: str | None = None  # the base model's folder (absolute) or hub id
        self.base_hash: str | None = None
        self.optim = optimizer_name()
        self.teacher: Any = None  # the production model, frozen, when [train] distill > 0
        if model.adapter not in ADAPTER_KINDS:
            raise ModelError(f"[model] adapter = {model.adapter!r}: known are "
                             f"{', '.join(ADAPTER_KINDS)}")

    @property
    def is_lora(self) -> bool:
        return hasattr(self.model, "peft_config")

    # -- loading -----------------------------------------------------------------------------
    def load(self, source: str | Path) -> None:
        text = str(source)
        if text == "embedded":
            raise ModelError("[model] base = \"embedded\" is the classifier's model; the causal_lm "
                             "backend needs a causal LM folder (or hub id) in [model] base")
        folder = Path(text).expanduser()
        set_seed(self.train_settings.seed)
        if folder.is_dir() and (folder / ADAPTER_META).is_file():
            self._load_adapter(folder)
        else:
            self._load_base(text)
        if self.model_settings.adapter == "lora" and not self.is_lora:
            self._apply_lora()
        self.model.eval()
        self.source = text

    def _load_base(self, source: str) -> None:
        folder = Path(source).expanduser()
        if folder.is_dir():
            if not (folder / "config.json").is_file():
                raise ModelError(f"{folder}: not a model folder (no config.json)")
            if not any((folder / name).is_file() for name in TOKENIZER_FILES):
                raise ModelError(f"{folder}: the model folder has no tokenizer "
                                 f"(none of {', '.join(TOKENIZER_FILES[:4])}); save the model's "
                                 f"tokenizer into it")
            name, local = str(folder.resolve()), True
        elif HUB_ID.match(source) and not source.startswith((".", "/", "~")):
            name, local = source, False  # a hub id: the user's own HF cache / network settings
        else:
            raise ModelError(f"{folder}: model folder not found")
        with Quiet():
            try:
                tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local)
            except Exception as err:  # noqa: BLE001 - every failure names the folder
                raise ModelError(f"{name}: cannot load the tokenizer ({type(err).__name__}: "
                                 f"{first_line(err)})") from None
            try:
                model = AutoModelForCausalLM.from_pretrained(name, local_files_only=local)
            except Exception as err:  # noqa: BLE001
                raise ModelError(f"{name}: cannot load a causal LM ({type(err).__name__}: "
                                 f"{first_line(err)})") from None
        if tokenizer.eos_token_id is None:
            raise ModelError(f"{name}: the tokenizer has no EOS token (generation could not stop)")
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer, self.base, self.base_hash = model, tokenizer, name, None

    def _load_adapter(self, folder: Path) -> None:
        try:
            meta = json.loads((folder / ADAPTER_META).read_text(encoding="utf-8"))
            base, expected = meta["base"], meta["base_hash"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelError(f"{folder / ADAPTER_META}: unreadable adapter record ({err})") from None
        if not Path(base).is_dir() and not HUB_ID.match(base):
            raise ModelError(f"{folder}: the adapter's base model {base} is missing")
        self._load_base(base)
        actual = self._base_identity()
        if actual != expected:
            raise ModelError(f"{folder}: the base model {base} changed since the adapter was trained "
                             f"(weights {actual[:19]}…, the adapter needs {expected[:19]}…)")
        from peft import PeftModel

        with Quiet():
            try:
                self.model = PeftModel.from_pretrained(self.model, folder, is_trainable=True)
            except Exception as err:  # noqa: BLE001
                raise ModelError(f"{folder}: cannot apply the adapter ({type(err).__name__}: "
                                 f"{first_line(err)})") from None
        if self.model_settings.adapter != "lora":  # full fine-tuning from here on
            self.model = self.model.merge_and_unload()
            self.base_hash = None

    def _base_identity(self) -> str:
        key = (str(self.base), id(self.model))
        if key not in _hash_cache:
            _hash_cache.clear()  # one entry: the model loaded last
            _hash_cache[key] = weights_hash(self.model)
        self.base_hash = _hash_cache[key]
        return self.base_hash

    def _apply_lora(self) -> None:
        from peft import LoraConfig, get_peft_model

        s = self.model_settings
        wanted = getattr(s, "lora_target_modules", None)
        targets: Any = "all-linear"
        if wanted:
            targets = [wanted] if isinstance(wanted, str) else list(wanted)
            names = {name for name, _ in self.model.named_modules() if name}
            missing = [t for t in targets
                       if not any(n == t or n.endswith("." + t) for n in names)]
            if missing:
                raise ModelError(
                    f"[model] lora_target_modules: {', '.join(missing)} not in "
                    f"{type(self.model).__name__}; its Linear/Conv1D modules are "
                    f"{', '.join(lora_candidates(self.model))}")
        self._base_identity()
        set_seed(self.train_settings.seed)
        config = LoraConfig(r=s.lora_r, lora_alpha=s.lora_alpha, target_modules=targets,
                            lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
        with Quiet():
            try:
                self.model = get_peft_model(self.model, config)
            except ValueError as err:
                raise ModelError(f"{self.base}: cannot add LoRA adapters ({first_line(err)}); "
                                 f"its Linear/Conv1D modules are "
                                 f"{', '.join(lora_candidates(self.model))}") from None

    # -- limits ------------------------------------------------------------------------------
    @property
    def max_new_tokens(self) -> int:
        return int(self.model_settings.max_new_tokens)

    @property
    def max_length(self) -> int:
        """Prompt tokens kept (the end of a longer prompt is kept, and it is flagged)."""
        limit = int(self.model_settings.max_length)
        config = self.model.config
        positions = (getattr(config, "max_position_embeddings", None)
                     or getattr(config, "n_positions", None))
        if positions:
            limit = min(limit, int(positions) - self.max_new_tokens - 1)
        model_max = getattr(self.tokenizer, "model_max_length", None)
        if model_max and model_max < 1_000_000:
            limit = min(limit, int(model_max) - self.max_new_tokens - 1)
        if limit < 1:
            raise ModelError(f"{self.base}: max_new_tokens ({self.max_new_tokens}) leaves no room "
                             f"for a prompt in the model's {positions} positions")
        return limit

    def encoder(self) -> PromptEncoder:
        return PromptEncoder(self.tokenizer, self.max_length)

    # -- preparing ---------------------------------------------------------------------------
    def prepare(self, examples: list[Example]) -> None:
        """Refuse, before any training, what the model could never produce: a target longer
        than max_new_tokens, a chat input without a chat template."""
        encoder = self.encoder()
        seen: set[str] = set()
        for example in examples:
            encoder.text(example.input, example)
            if example.target in seen:
                continue
            seen.add(example.target)
            n = len(encoder.target(example.target))
            if n > self.max_new_tokens:
                short = example.target if len(example.target) <= 60 else example.target[:59] + "…"
                raise ModelError(f"{name_of(example, example.input)}: expected output {short!r} is "
                                 f"{n} tokens, longer than max_new_tokens ({self.max_new_tokens}); "
                                 f"raise [model] max_new_tokens or shorten the expected output")

    # -- training ----------------------------------------------------------------------------
    def train(self, examples: list[Example], epochs: float, hooks: TrainHooks | None = None,
              seed: int | None = None) -> float | None:
        hooks = hooks or TrainHooks()
        if not examples:
            return None
        self.prepare(examples)
        rows = training_rows(self.encoder(), examples, self.tokenizer.eos_token_id)
        seed = self.train_settings.seed if seed is None else seed
        set_seed(seed)
        s = self.train_settings
        loss = (lm_distill.lm_loss_with_distillation(self.teacher, s.distill, s.distill_temperature)
                if self.teacher is not None and s.distill > 0 else None)
        return run_trainer(self.model, s, rows, CompletionCollator(self.tokenizer.pad_token_id),
                           hooks, epochs, seed, self.optim, loss)

    def set_teacher(self, inputs: list[Input]) -> None:
        """Keep the model as loaded now (the production model) as the distillation teacher. The
        inputs are not needed: the teacher's distributions are taken on each training batch."""
        self.teacher = lm_distill.frozen_copy(self.model)

    # -- prediction --------------------------------------------------------------------------
    def generate(self, prompts: list[list[int]]) -> list[list[int]]:
        """Greedy completions of one batch of prompt ids (left-padded), EOS and after removed."""
        tok = self.tokenizer
        ids, mask = left_pad(prompts, tok.pad_token_id)
        device = next(self.model.parameters()).device
        out = self.model.generate(
            input_ids=ids.to(device), attention_mask=mask.to(device),
            max_new_tokens=self.max_new_tokens, min_new_tokens=0, do_sample=False, num_beams=1,
            temperature=None, top_p=None, top_k=None, repetition_penalty=None,
            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, use_cache=True)
        completions = []
        for row in out[:, ids.shape[1]:].tolist():
            if tok.eos_token_id in row:
                row = row[: row.index(tok.eos_token_id)]
            completions.append(row)
        return completions

    def predict(self, inputs: list[Input], batch_size: int = PREDICT_BATCH) -> list[Prediction]:
        if not inputs:
            return []
        encoder = self.encoder()
        encoded = [encoder.encode(value) for value in inputs]
        # length-sorted, and batched by padded tokens (each row grows by max_new_tokens), so a
        # few long prompts do not blow up a batch of short ones
        lengths = [len(e.prompt) + self.max_new_tokens for e in encoded]
        order = sorted(range(len(inputs)), key=lengths.__getitem__)
        texts: list[str] = [""] * len(inputs)
        self.model.eval()
        with torch.inference_mode(), Quiet():
            for idx in token_batches(order, lengths, PREDICT_TOKENS, batch_size):
                completions = self.generate([encoded[i].prompt for i in idx])
                for i, ids in zip(idx, completions, strict=True):
                    texts[i] = self.tokenizer.decode(ids, skip_special_tokens=True,
                                                     clean_up_tokenization_spaces=False)
        return [Prediction(text, e.truncated) for text, e in zip(texts, encoded, strict=True)]

    def validate(self, inputs: list[Input], targets: list[str],
                 batch_size: int = PREDICT_BATCH) -> Validation:
        """Greedy predictions, plus per case the expected text's mean per-token log-likelihood
        (teacher-forced; the margin adaptive replay ranks by) and the mean of the last hidden
        state over the prompt and target as the case's embedding (L2-normalised)."""
        started = time.monotonic()
        preds = self.predict(inputs, batch_size)
        if not inputs:
            return Validation(preds, [], None, time.monotonic() - started)
        examples = [Example(value, target) for value, target in zip(inputs, targets, strict=True)]
        rows = training_rows(self.encoder(), examples, self.tokenizer.eos_token_id)
        collate = CompletionCollator(self.tokenizer.pad_token_id)
        lengths = [len(row["input_ids"]) for row in rows]
        order = sorted(range(len(rows)), key=lengths.__getitem__)
        margins = [0.0] * len(rows)
        pooled: list[Any] = [None] * len(rows)
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.inference_mode(), Quiet():
            for idx in token_batches(order, lengths, PREDICT_TOKENS, batch_size):
                batch = {k: v.to(device) for k, v in collate([rows[i] for i in idx]).items()}
                out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                 output_hidden_states=True)
                logp = out.logits[:, :-1].float().log_softmax(dim=-1)
                labels = batch["labels"][:, 1:]
                keep = labels != IGNORE
                picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * keep
                per_case = picked.sum(dim=1) / keep.sum(dim=1).clamp(min=1)
                mask = batch["attention_mask"].unsqueeze(-1).float()
                hidden = (out.hidden_states[-1].float() * mask).sum(dim=1) / mask.sum(dim=1)
                for j, i in enumerate(idx):
                    margins[i] = float(per_case[j])
                    pooled[i] = hidden[j]
        embeddings = torch.nn.functional.normalize(torch.stack(pooled), dim=-1)
        return Validation(preds, margins, embeddings, time.monotonic() - started)

    # -- saving ------------------------------------------------------------------------------
    def save(self, folder: Path) -> list[Path]:
        folder = Path(folder)
        with Quiet():
            self.model.save_pretrained(folder, safe_serialization=True)
        for stray in folder.glob("*.bin"):  # never pickle
            stray.unlink()
        if self.is_lora:
            weights = folder / ADAPTER_WEIGHTS
            if not weights.is_file():
                raise ModelError(f"{folder}: peft wrote no {ADAPTER_WEIGHTS}")
            peft_config = self.model.peft_config["default"]
            meta = {"base": self.base, "base_hash": self.base_hash or self._base_identity(),
                    "r": peft_config.r, "lora_alpha": peft_config.lora_alpha,
                    "target_modules": sorted(peft_config.target_modules or [])}
            record = folder / ADAPTER_META
            record.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
            return [weights, record]
        self.tokenizer.save_pretrained(folder)
        weights_files = sorted(folder.glob("*.safetensors"))
        if not weights_files:
            raise ModelError(f"{folder}: save_pretrained wrote no .safetensors file")
        return weights_files

    def _trainable(self) -> dict[str, Any]:
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def snapshot(self) -> Any:
        if self.is_lora:  # the base is frozen: only the adapter changes between rounds
            return {n: p.detach().clone() for n, p in self._trainable().items()}
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self, snap: Any) -> None:
        if self.is_lora:
            params = self._trainable()
            if set(params) != set(snap):
                raise ModelError("snapshot adapter differs from the model's")
            with torch.no_grad():
                for name, value in snap.items():
                    params[name].copy_(value)
            return
        self.model.load_state_dict(snap)

    def describe(self) -> dict[str, Any]:
        model = self.model
        inner = model.get_base_model() if self.is_lora else model
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        info: dict[str, Any] = {"architecture": type(inner).__name__,
                                "adapter": "lora" if self.is_lora else "none",
                                "parameters": total, "trainable_parameters": trainable,
                                "max_new_tokens": self.max_new_tokens}
        if self.is_lora:
            info |= {"base_model": self.base, "base_hash": self.base_hash}
        return info
