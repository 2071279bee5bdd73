"""The Hugging Face `TrainingArguments` every backend trains with, chosen on purpose: no
checkpoints (the model store keeps models), no reporting integrations or tqdm (progress goes
through straw's TrainerCallback), gradient clipping at 1.0, CPU when there is no GPU."""

from __future__ import annotations

from typing import Any

import torch
from transformers import TrainingArguments

from tuning.backends.base import TrainSettings


def training_arguments(s: TrainSettings, scratch: str, epochs: float, seed: int, optim: str,
                       **extra: Any) -> TrainingArguments:
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
