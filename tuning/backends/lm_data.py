"""Encoding for causal-LM fine-tuning: a case input (a prompt, or chat messages through the
tokenizer's chat template) and its target become one sequence whose prompt tokens are labelled
-100, so the loss covers the completion (target + EOS) only. Torch-free except the collators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuning.backends.base import Example, Input
from tuning.errors import ModelError

IGNORE = -100


def describe_input(value: Input, width: int = 60) -> str:
    """A short, one-line rendering of an input for error messages."""
    if isinstance(value, str):
        text = value
    else:
        text = " | ".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in value)
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def name_of(example: Example | None, value: Input) -> str:
    """`case <id>` when the example carries one (tune may set Example.id), else the input itself."""
    case_id = getattr(example, "id", "") if example is not None else ""
    return f"case {case_id}" if case_id else f"input {describe_input(value)}"


@dataclass
class Encoded:
    prompt: list[int]
    truncated: bool


class PromptEncoder:
    """Turns inputs into prompt token ids, exactly the same way for training and for generation."""

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.has_template = bool(getattr(tokenizer, "chat_template", None))

    def text(self, value: Input, example: Example | None = None) -> tuple[str, bool]:
        """(prompt text, whether it already holds the special tokens of a chat template)."""
        if isinstance(value, str):
            return value, False
        if not self.has_template:
            raise ModelError(f"{name_of(example, value)}: the input is a chat message list but the "
                             f"model's tokenizer has no chat template (set one in its "
                             f"tokenizer_config.json, or write the input as plain text)")
        try:
            rendered = self.tokenizer.apply_chat_template(value, tokenize=False,
                                                          add_generation_prompt=True)
        except Exception as err:  # a template that rejects the messages (e.g. role order)
            raise ModelError(f"{name_of(example, value)}: the chat template rejected the messages "
                             f"({type(err).__name__}: {str(err).strip()[:120]})") from None
        return rendered, True

    def encode(self, value: Input, example: Example | None = None) -> Encoded:
        text, templated = self.text(value, example)
        ids = self.tokenizer(text, add_special_tokens=not templated)["input_ids"]
        if not ids:  # an empty prompt: generation needs one token to start from
            start = self.tokenizer.bos_token_id
            ids = [start if start is not None else self.tokenizer.eos_token_id]
        if len(ids) > self.max_length:  # keep the end: the tokens next to the completion
            return Encoded(list(ids[-self.max_length:]), True)
        return Encoded(list(ids), False)

    def target(self, target: str) -> list[int]:
        return list(self.tokenizer(target, add_special_tokens=False)["input_ids"])


def training_rows(encoder: PromptEncoder, examples: list[Example], eos_id: int) -> list[dict]:
    rows = []
    for example in examples:
        prompt = encoder.encode(example.input, example).prompt
        completion = encoder.target(example.target) + [eos_id]
        rows.append({"input_ids": prompt + completion,
                     "labels": [IGNORE] * len(prompt) + completion})
    return rows


class CompletionCollator:
    """Right-pads a training batch: pad ids, attention 0, labels -100."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """A generation batch: prompts padded on the LEFT so every row ends at the last column."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, prompt in enumerate(prompts):
        if prompt:
            ids[i, width - len(prompt):] = torch.tensor(prompt)
            mask[i, width - len(prompt):] = 1
    return ids, mask
