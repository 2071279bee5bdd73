"""The content-addressed model store (outside git; `[model].store`, default `.straw/models`).

A model lives in `<store>/<hex>/`, where hex is the sha256 of its identifying files (the
safetensors weights and the label list). Writing goes to `<store>/.tmp-<pid>-…/` and is renamed
into place, so a crash or Ctrl-C leaves either the whole model or none of it; leftover temp
folders of dead processes are swept on the next save. Safetensors only: never pickle."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repo_store.errors import StrawError

if TYPE_CHECKING:
    from tuning.backends.base import Backend

logger = logging.getLogger(__name__)

META_FILE = "straw_model.json"
HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
TMP_PREFIX = ".tmp-"


class MissingModel(StrawError):
    pass


def hex_of(model_hash: str) -> str:
    found = HASH_RE.match(model_hash or "")
    if not found:
        raise StrawError(f"{model_hash!r} is not a model hash (sha256:<64 hex digits>)")
    return found.group(1)


def hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        part = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                part.update(chunk)
        digest.update(path.name.encode() + b"\0" + part.digest())
    return "sha256:" + digest.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, model_hash: str) -> Path:
        return self.root / hex_of(model_hash)

    def has(self, model_hash: str) -> bool:
        return (self.folder(model_hash) / META_FILE).is_file()

    def load(self, model_hash: str) -> Path:
        """The folder holding `model_hash`. Raises MissingModel naming the hash."""
        folder = self.folder(model_hash)
        if not (folder / META_FILE).is_file():
            raise MissingModel(f"model {model_hash} is not in the model store {self.root}")
        return folder

    def meta(self, model_hash: str) -> dict[str, Any]:
        return json.loads((self.load(model_hash) / META_FILE).read_text(encoding="utf-8"))

    def hashes(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(f"sha256:{p.name}" for p in self.root.iterdir()
                      if len(p.name) == 64 and (p / META_FILE).is_file())

    def sweep(self) -> None:
        """Remove temp folders left by processes that died mid-save."""
        if not self.root.is_dir():
            return
        for path in self.root.glob(TMP_PREFIX + "*"):
            pid = path.name[len(TMP_PREFIX):].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)

    def save(self, backend: Backend, meta: dict[str, Any]) -> str:
        """Write the backend's model; return its hash. Saving the same weights twice is a no-op."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.sweep()
            tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=self.root))
        except OSError as err:
            raise StrawError(f"cannot write the model store {self.root}: {err.strerror}") from None
        try:
            files = backend.save(tmp)
            model_hash = hash_files(files)
            record = {"hash": model_hash, "backend": backend.name, **backend.describe(), **meta}
            (tmp / META_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
            _fsync_tree(tmp)
            final = self.root / hex_of(model_hash)
            if (final / META_FILE).is_file():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                if final.exists():  # a folder without its meta file is not a model: replace it
                    shutil.rmtree(final)
                os.rename(tmp, final)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StrawError(f"out of disk space saving the model to {self.root}: "
                                 "nothing was written") from None
            raise StrawError(f"cannot save the model to {self.root}: {err}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("saved model %s", model_hash)
        return model_hash
