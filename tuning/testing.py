"""Tiny real models for tests: a BERT classifier with random weights and the embedded model's
tokenizer, built from a config in a second. Used by straw's tests and usable by anyone's."""

from __future__ import annotations

from pathlib import Path


def build_tiny_classifier(folder: Path, *, hidden: int = 32, layers: int = 2, heads: int = 2,
                          max_positions: int = 128, seed: int = 0) -> Path:
    """Write a tiny `BertForSequenceClassification` (random weights) + tokenizer to `folder`."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    from tuning.backends.classifier import embedded_model_dir

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir(), local_files_only=True)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden,
                        num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=hidden * 2, max_position_embeddings=max_positions)
    torch.manual_seed(seed)
    hf_logging.disable_progress_bar()
    try:
        BertForSequenceClassification(config).save_pretrained(folder)
    finally:
        hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(folder)
    return folder
