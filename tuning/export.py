"""Export a stored model as a plain Hugging Face folder that needs neither straw nor peft: a LoRA
adapter is merged into its base (`merge_and_unload`); a full model is written as it is. The
tokenizer comes along, and the weights are safetensors."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from repo_store.errors import StrawError

logger = logging.getLogger(__name__)


def merge_adapter(store_folder: str | Path, out_dir: str | Path) -> Path:
    """Write the full model of the model-store folder `store_folder` into `out_dir` (which must
    not exist, or be empty). Returns `out_dir`. Nothing is left behind on failure."""
    from tuning.backends.base import ModelSettings, TrainSettings
    from tuning.backends.causal_lm import ADAPTER_META, CausalLMBackend
    from tuning.model_store import META_FILE

    source, out = Path(store_folder), Path(out_dir)
    if not source.is_dir():
        raise StrawError(f"{source}: no such model folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StrawError(f"{out}: exists and is not empty; export into a new folder")
    backend_name = "causal_lm"
    if (source / META_FILE).is_file():
        backend_name = json.loads((source / META_FILE).read_text(encoding="utf-8")).get(
            "backend", backend_name)
    if backend_name != "causal_lm":
        raise StrawError(f"{source}: a {backend_name} model has no adapter to merge; "
                         f"its folder already is a full model")
    lora = (source / ADAPTER_META).is_file()
    backend = CausalLMBackend(ModelSettings(backend="causal_lm", adapter="lora" if lora else "none"),
                              TrainSettings())
    backend.load(source)
    model = backend.model.merge_and_unload() if backend.is_lora else backend.model
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        backend.tokenizer.save_pretrained(tmp)
        for stray in tmp.glob("*.bin"):
            stray.unlink()
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("exported %s → %s (%s)", source, out, "merged LoRA" if lora else "full model")
    return out
