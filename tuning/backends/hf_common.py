"""Hugging Face plumbing both backends share: the `TrainingArguments` every backend trains with,
the optimizer choice, one `TrainerCallback` for progress and cancel, quiet HF logging, and
`run_trainer` (one `Trainer.train()` with straw's callbacks only). Each backend keeps what is its
own (encoding, heads, generation, saving)."""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # forked workers would deadlock

import torch  # noqa: E402
from torch import nn  # noqa: E402
from transformers import (  # noqa: E402
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.utils import logging as hf_logging  # noqa: E402

from tuning.backends import dist  # noqa: E402
from tuning.backends.base import TrainHooks, TrainSettings  # noqa: E402
from tuning.errors import Cancelled  # noqa: E402


def optimizer_name() -> str:
    """Fused AdamW when this torch has it for the device (30% faster than unfused on CPU)."""
    try:
        param = nn.Parameter(torch.zeros(1))
        torch.optim.AdamW([param], fused=True)
        return "adamw_torch_fused"
    except (RuntimeError, TypeError, ValueError):
        return "adamw_torch"


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else ""


class Quiet:
    """HF warnings and progress bars off for a block (loading, peft wrapping, training): "newly
    initialized classifier weights", peft's "fan_in_fan_out … Conv1D" and deprecation notices are
    expected, not news."""

    def __enter__(self) -> None:
        self.verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.caught = warnings.catch_warnings()
        self.caught.__enter__()
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)

    def __exit__(self, *exc: Any) -> None:
        self.caught.__exit__(*exc)
        hf_logging.set_verbosity(self.verbosity)
        hf_logging.enable_progress_bar()


class ProgressHook(TrainerCallback):
    """Progress and cancel. In a data-parallel run the cancel flag is OR-ed across ranks at every
    step end, so all ranks stop after the same step (a lone rank stopping would leave the others
    waiting in the next gradient all-reduce)."""

    def __init__(self, hooks: TrainHooks) -> None:
        self.hooks = hooks
        self.stopped = False

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if self.hooks.on_step and logs and "loss" in logs:
            self.hooks.on_step(state.global_step, state.max_steps, float(logs["loss"]))

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        stop = self.hooks.cancel is not None and self.hooks.cancel.is_set()
        if dist.world_size() > 1:
            import torch.distributed as torch_dist

            if torch_dist.is_available() and torch_dist.is_initialized():
                flag = torch.tensor([int(stop)], device=args.device)
                torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MAX)
                stop = bool(flag.item())
        if stop:
            self.stopped = True
            control.should_training_stop = True
        return control


def training_arguments(s: TrainSettings, scratch: str, epochs: float, seed: int, optim: str,
                       **extra: Any) -> TrainingArguments:
    """Chosen on purpose: no checkpoints (the model store keeps models), no reporting
    integrations or tqdm (progress goes through ProgressHook), gradient clipping at 1.0, CPU when
    there is no GPU."""
    if dist.world_size() > 1:
        extra = {"ddp_backend": "gloo" if not torch.cuda.is_available() else None,
                 "ddp_find_unused_parameters": False, **extra}
    return TrainingArguments(
        output_dir=scratch,  # nothing is written there: save_strategy="no"
        num_train_epochs=epochs,
        per_device_train_batch_size=s.batch_size,
        learning_rate=s.learning_rate,
        weight_decay=s.weight_decay,
        warmup_steps=float(s.warmup_ratio) if s.warmup_ratio else 0,  # < 1: a ratio
        lr_scheduler_type=s.lr_scheduler,
        max_grad_norm=1.0,
        optim=optim,
        seed=seed,
        data_seed=seed,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="steps",
        logging_steps=1,
        report_to=[],
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        remove_unused_columns=False,
        **extra,
    )


class LossTrainer(Trainer):
    """A Trainer whose loss is `loss(model, inputs) -> (loss, outputs)` (a distillation term)."""

    def __init__(self, *args: Any, loss: Callable, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.straw_loss = loss

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
        loss, outputs = self.straw_loss(model, inputs)
        return (loss, outputs) if return_outputs else loss


def run_trainer(model: Any, settings: TrainSettings, rows: list[dict[str, Any]], collator: Callable,
                hooks: TrainHooks, epochs: float, seed: int, optim: str,
                compute_loss: Callable | None = None) -> float | None:
    """Train `model` in place on `rows`; the mean training loss (None when there is none).
    `compute_loss(model, inputs) -> (loss, outputs)` replaces the model's own loss. Raises
    Cancelled when the hooks asked to stop (nothing was written anywhere)."""
    hook = ProgressHook(hooks)
    with tempfile.TemporaryDirectory(prefix="straw-trainer-") as scratch, Quiet():
        make = Trainer if compute_loss is None else (
            lambda **kw: LossTrainer(loss=compute_loss, **kw))
        trainer = make(model=model, args=training_arguments(settings, scratch, epochs, seed, optim),
                          train_dataset=rows, data_collator=collator, callbacks=[hook])
        trainer.remove_callback(PrinterCallback)  # progress goes through our hook only
        trainer.remove_callback(ProgressCallback)
        output = trainer.train()
    model.eval()
    if hook.stopped or (hooks.cancel is not None and hooks.cancel.is_set()):
        raise Cancelled("cancelled during training: nothing was written")
    loss = output.training_loss
    return None if loss is None or math.isnan(loss) else float(loss)


def token_batches(order: list[int], lengths: list[int], budget: int, max_rows: int,
                  ) -> list[list[int]]:
    """Split `order` (indices sorted by length) into batches whose padded size (rows × longest)
    stays within `budget` tokens and `max_rows` rows."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        widest = max(lengths[i], max((lengths[j] for j in current[-1:]), default=0))
        if current and ((len(current) + 1) * widest > budget or len(current) >= max_rows):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
