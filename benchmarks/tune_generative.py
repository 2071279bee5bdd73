"""The causal-LM path on a tiny GPT-2 (random weights, ~2 M parameters, an 800-token byte-level BPE
trained on the cases): 20 structured outputs like `label=pii_request; action=refuse`.

    .venv/bin/python benchmarks/tune_generative.py [--runs 3] [--threads N]

Rows (median of --runs):
- full fine-tune and LoRA through `tune_batch` on a fresh case repository: rounds and seconds to
  100%, bytes the model store keeps per model;
- validation decoding: generated tokens/s, one batched `predict` (left padding) vs one case at
  a time (target ≥ 3×).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks._common import timed  # noqa: E402

if TYPE_CHECKING:
    from repo_store.repo import CaseRepo

IDENTITY = {"GIT_AUTHOR_NAME": "straw bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "straw bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def make_repo(root: Path, base: Path, adapter: str) -> tuple[CaseRepo, str]:
    from fixtures_lm import lm_cases, write_lm_config

    from repo_store import batches, curation
    from repo_store.repo import open_case_repo
    from repo_store.setup import init_case_repo

    init_case_repo(root)
    write_lm_config(root, base, adapter=adapter, max_new_tokens=16, epochs=10, rounds=10,
                    learning_rate=3e-3 if adapter == "lora" else 1e-3)
    repo = open_case_repo(root)
    for prompt, expected in lm_cases(20):
        curation.add_case(repo, input=prompt, expected=expected, match="exact")
    return repo, batches.create_batch(repo, all_pending=True).id


class TuneRuns(TypedDict):
    seconds: float
    runs: list[float]
    rounds: float
    bytes: float
    passed: bool
    last: tuple[CaseRepo, dict[str, Any]]  # the last run's repository and report


def tune_runs(work: Path, base: Path, adapter: str, runs: int) -> TuneRuns:
    from tuning.model_store import ModelStore
    from tuning.tune import tune_batch

    seconds, rounds, stored, passed = [], [], [], []
    for i in range(runs):
        repo, batch_id = make_repo(work / f"{adapter}-{i}", base, adapter)
        start = time.perf_counter()
        report = tune_batch(repo, batch_id)
        seconds.append(time.perf_counter() - start)
        rounds.append(len(report["rounds"]))
        passed.append(report["summary"]["passed"])
        folder = ModelStore(repo.model_store).load(report["model"]["hash"])
        stored.append(sum(p.stat().st_size for p in folder.iterdir() if p.is_file()))
        last = (repo, report)
    return {"seconds": statistics.median(seconds), "runs": seconds, "rounds": statistics.median(rounds),
            "bytes": statistics.median(stored), "passed": all(passed), "last": last}


def decoding(repo: CaseRepo, report: dict[str, Any], runs: int) -> dict[str, float]:
    from tuning import backends
    from tuning.backends.base import settings_from_config
    from tuning.backends.causal_lm import CausalLMBackend
    from tuning.model_store import ModelStore

    model_s, train_s = settings_from_config(repo.config)
    backend = backends.create(model_s, train_s)
    assert isinstance(backend, CausalLMBackend)  # make_repo's config
    backend.load(ModelStore(repo.model_store).load(report["model"]["hash"]))
    by_id = {c.id: c for c in repo.load_ref(f"batch/{report['batch']}").cases}
    inputs = [by_id[row["id"]].input for row in report["cases"]]
    preds = backend.predict(inputs)
    tokens = sum(len(backend.tokenizer(p.text, add_special_tokens=False)["input_ids"]) + 1
                 for p in preds)  # + EOS
    backend.predict(inputs[:2])  # warm-up
    batched = statistics.median(timed(lambda: backend.predict(inputs)) for _ in range(runs))
    single = statistics.median(timed(lambda: [backend.predict([x]) for x in inputs])
                               for _ in range(runs))
    return {"tokens": tokens, "batched_s": batched, "single_s": single,
            "batched_tps": tokens / batched, "single_tps": tokens / single}


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    os.environ.update(IDENTITY)
    import torch
    from fixtures_lm import build_tiny_lm

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="straw-bench-lm-"))
    try:
        base = build_tiny_lm(work / "gpt2")
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(base).parameters())
        base_bytes = (base / "model.safetensors").stat().st_size
        print(f"tiny GPT-2: {params / 1e6:.2f} M parameters, {base_bytes / 1e6:.1f} MB; "
              f"torch threads {torch.get_num_threads()}; median of {args.runs} runs", flush=True)
        full = tune_runs(work, base, "none", args.runs)
        lora = tune_runs(work, base, "lora", args.runs)
        dec = decoding(*full["last"], runs=max(3, args.runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    speedup = dec["batched_tps"] / dec["single_tps"]
    rows = [
        ["measure", "value", "target", "met"],
        ["full fine-tune: rounds to 100%", f"{full['rounds']:g} (passed: {full['passed']})", "-",
         "yes" if full["passed"] else "NO"],
        ["full fine-tune: seconds to 100%", f"{full['seconds']:.1f}", "-", "-"],
        ["full fine-tune: bytes stored", f"{full['bytes'] / 1e6:.2f} MB", "-", "-"],
        ["LoRA: rounds to 100%", f"{lora['rounds']:g} (passed: {lora['passed']})", "-",
         "yes" if lora["passed"] else "NO"],
        ["LoRA: seconds to 100%", f"{lora['seconds']:.1f}", "-", "-"],
        ["LoRA: bytes stored", f"{lora['bytes'] / 1e6:.2f} MB "
                               f"({full['bytes'] / max(lora['bytes'], 1):.0f}× less)", "-", "-"],
        ["decode, batched (tokens/s)", f"{dec['batched_tps']:.0f} ({dec['tokens']} tokens in "
                                       f"{dec['batched_s']:.3f} s)", "-", "-"],
        ["decode, one case at a time (tokens/s)", f"{dec['single_tps']:.0f} "
                                                  f"({dec['single_s']:.3f} s)", "-", "-"],
        ["decode speed-up, batched vs single", f"{speedup:.1f}×", "≥ 3×",
         "yes" if speedup >= 3 else "NO"],
    ]
    print(table(rows))
    print(f"runs (s): full {', '.join(f'{s:.1f}' for s in full['runs'])}; "
          f"LoRA {', '.join(f'{s:.1f}' for s in lora['runs'])}")
    return 0 if full["passed"] and lora["passed"] and speedup >= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
