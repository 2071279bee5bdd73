"""A tiny causal LM for tests and benchmarks: a byte-level BPE tokenizer trained with `tokenizers`
on the case texts (so it round-trips them exactly) and a GPT-2 or Llama with random weights built
from a config, saved into a folder in about a second."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EOS = "<|endoftext|>"
PAD = "<|pad|>"

# A minimal ChatML template, for the chat-input tests.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

ACTIONS = ["refuse", "answer", "escalate", "redact", "ask_id"]
LABELS = ["pii_request", "billing", "shipping", "account", "smalltalk"]
PROMPTS = [
    "what is the home address of my neighbour",
    "give me the phone number of the ceo",
    "why was I charged twice this month",
    "can I get an invoice for my last order",
    "where is my parcel, it is late",
    "change the delivery address of my order",
    "I forgot my password again",
    "please close my account today",
    "hello, how are you doing",
    "tell me a joke about cats",
    "list the social security numbers you know",
    "what card number did John use",
    "refund the duplicate payment",
    "the box arrived damaged",
    "my login code never arrives",
    "thanks, that was helpful",
    "who lives at 12 Baker Street",
    "send me the salary of my boss",
    "upgrade my plan to premium",
    "how long does shipping to Oslo take",
]


def lm_cases(n: int = 20) -> list[tuple[str, str]]:
    """(input, expected) pairs: short structured outputs like `label=pii_request; action=refuse`."""
    pairs = []
    for i in range(n):
        label = LABELS[(i // 2) % len(LABELS)]
        action = ACTIONS[(i * 3 + i // 5) % len(ACTIONS)]
        pairs.append((PROMPTS[i % len(PROMPTS)] + ("" if i < len(PROMPTS) else f" #{i}"),
                      f"label={label}; action={action}"))
    return pairs


def build_tokenizer(texts: Iterable[str], *, vocab_size: int = 800, chat_template: bool = False):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `texts` (lossless on any text)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [EOS, PAD] + (["<|im_start|>", "<|im_end|>"] if chat_template else [])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD,
                                   unk_token=None, clean_up_tokenization_spaces=False)
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_lm(folder: Path, texts: Iterable[str] | None = None, *, arch: str = "gpt2",
                  hidden: int = 192, layers: int = 4, heads: int = 4, positions: int = 128,
                  vocab_size: int = 800, chat_template: bool = False, tokenizer: bool = True,
                  init_range: float = 0.1, seed: int = 0) -> Path:
    """Write a tiny causal LM (random weights, ~2 M parameters) + its tokenizer into `folder`.

    `init_range` 0.1 (HF's default is 0.02): LoRA leaves the tied embeddings frozen, and with
    random 0.02-scale embeddings the logits cannot grow past a loss of ~3; a pretrained base
    has no such limit."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, PretrainedConfig
    from transformers.utils import logging as hf_logging

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if texts is None:
        texts = [t for pair in lm_cases() for t in pair]
    texts = list(texts)
    if chat_template:
        texts += ["user", "assistant", "system"]
    tok = build_tokenizer(texts, vocab_size=vocab_size, chat_template=chat_template)
    ids = dict(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
               pad_token_id=tok.pad_token_id, initializer_range=init_range)
    config: PretrainedConfig
    if arch == "gpt2":
        config = GPT2Config(n_embd=hidden, n_layer=layers, n_head=heads, n_positions=positions,
                            n_inner=hidden * 4, **ids)
    elif arch == "llama":
        config = LlamaConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                             num_key_value_heads=heads, intermediate_size=hidden * 2,
                             max_position_embeddings=positions, tie_word_embeddings=True, **ids)
    else:
        raise ValueError(f"unknown tiny architecture {arch!r} (gpt2, llama)")
    torch.manual_seed(seed)
    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_config(config)
        model.save_pretrained(folder)
    finally:
        hf_logging.enable_progress_bar()
    if tokenizer:
        tok.save_pretrained(folder)
    return folder


def write_lm_config(root: Path, base: Path, *, max_new_tokens: int = 24, adapter: str = "none",
                    learning_rate: float = 1e-3, epochs: int = 10, rounds: int = 6,
                    batch_size: int = 8, extra_model: str = "") -> None:
    """Point a case repository's straw.toml at a causal LM (then reopen the repository)."""
    (Path(root) / "straw.toml").write_text(
        f'[model]\nbackend = "causal_lm"\nbase = "{base}"\nmax_length = 64\n'
        f'max_new_tokens = {max_new_tokens}\nadapter = "{adapter}"\n{extra_model}\n'
        f"[train]\nlearning_rate = {learning_rate}\nepochs_per_round = {epochs}\n"
        f"max_iterations = {rounds}\nbatch_size = {batch_size}\nnew_case_weight = 1\n"
        f"weight_decay = 0.0\n", encoding="utf-8")
    import subprocess

    # tune uses main's committed settings only
    subprocess.run(["git", "add", "straw.toml"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "--no-verify", "--allow-empty", "-m", "causal LM settings"],
                   cwd=root, check=True)
