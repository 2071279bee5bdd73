"""After a merge or a rollback, push production to the team's own serving stack: run the local
`deploy_command` (git config straw.deployCommand, never the committed straw.toml) with
STRAW_MODEL_HASH and STRAW_MODEL_DIR, a plain Hugging Face folder exported for it (a LoRA adapter
merged into its base). `straw serve` needs none of this: it follows models.lock by itself."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from repo_store import local_settings
from repo_store.errors import StrawError
from repo_store.repo import CaseRepo
from tuning.model_store import META_FILE, ModelStore, hex_of

logger = logging.getLogger(__name__)

DEPLOY_TIMEOUT_S = 600


def export_dir(repo: CaseRepo, model_hash: str) -> Path:
    """The plain folder for `model_hash` under the git directory (made once, then reused)."""
    out = repo.git_dir / "straw" / "deploy" / hex_of(model_hash)
    if out.is_dir():
        return out
    source = ModelStore(repo.model_store).load(model_hash)
    backend = json.loads((source / META_FILE).read_text(encoding="utf-8")).get("backend", "classifier")
    out.parent.mkdir(parents=True, exist_ok=True)
    if backend == "causal_lm":
        from tuning.export import merge_adapter

        return merge_adapter(source, out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:  # a classifier's store folder already is a full model: copy it, renamed into place
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def deploy(repo: CaseRepo, model_hash: str) -> str | None:
    """Run the deploy command for `model_hash`. Returns a one-line failure, None when it ran (or
    no command is set)."""
    command = local_settings.get(repo.root, "deploy_command")
    if not command:
        return None
    try:
        folder = export_dir(repo, model_hash)
    except (StrawError, OSError) as err:
        return f"deploy_command not run: cannot export {model_hash[:19]}: {err}"
    env = {**os.environ, "STRAW_MODEL_HASH": model_hash, "STRAW_MODEL_DIR": str(folder)}
    try:
        proc = subprocess.run(command, shell=True, env=env, cwd=repo.root, capture_output=True,
                              timeout=DEPLOY_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"deploy_command failed: {err}"
    if proc.returncode:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()
        return f"deploy_command exited {proc.returncode}: {tail[-1] if tail else ''}".rstrip()
    logger.info("deployed %s", model_hash)
    return None
