"""The content-addressed model store (`[model].store`; default `.git/straw/models`, inside the git
directory, where no commit or pull can write; linked worktrees share it).

A model lives in `<store>/<hex>/`, where hex is the sha256 of its identifying files (the
safetensors weights and the label list, named in its meta file under "hashed"). A folder's name
vouches for nothing: `load` hashes the files again the first time this machine uses them and
remembers the verdict keyed by each file's path, size, mtime and inode (`.verified.json`), so a
swapped weight or label file is refused, and an unchanged model is not re-read.

Writing goes to `<store>/.tmp-<pid>-…/` and is renamed into place, so a crash or Ctrl-C
leaves either the whole model or none of it; leftover temp folders of dead processes are swept
on the next save. Safetensors only: never pickle."""

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

from repo_store.errors import StrawError, UsageError

if TYPE_CHECKING:
    from tuning.backends.base import Backend

logger = logging.getLogger(__name__)

META_FILE = "straw_model.json"
HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
TMP_PREFIX = ".tmp-"


VERIFIED_FILE = ".verified.json"
LEGACY_HASHED = ("model.safetensors", "straw_labels.json")  # models saved before "hashed" existed


class MissingModel(StrawError):
    pass


class TamperedModel(StrawError):
    """A stored model whose files no longer hash to its name."""


def hex_of(model_hash: str) -> str:
    found = HASH_RE.match(model_hash or "")
    if not found:
        raise UsageError(f"{model_hash!r} is not a model hash (sha256:<64 hex digits>)")
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
        """The folder holding `model_hash`, its content hash checked (see the module's note).
        Raises MissingModel or TamperedModel naming the hash."""
        folder = self.folder(model_hash)
        if not (folder / META_FILE).is_file():
            raise MissingModel(f"model {model_hash} is not in the model store {self.root}")
        self.verify(model_hash)
        return folder

    def _hashed_files(self, model_hash: str) -> list[Path]:
        folder = self.folder(model_hash)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise TamperedModel(f"model {model_hash}: unreadable {META_FILE} ({err})") from None
        names = meta.get("hashed") if isinstance(meta, dict) else None
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            names = list(LEGACY_HASHED)
        files = [folder / n for n in names]
        for path in files:
            if "/" in path.name or path.parent != folder or path.is_symlink() or not path.is_file():
                raise TamperedModel(f"model {model_hash}: {path.name} is missing or not a plain file")
        return files

    @staticmethod
    def _stamp(files: list[Path]) -> list[list[int | str]]:
        stamps: list[list[int | str]] = []
        for path in files:
            st = path.stat()
            stamps.append([path.name, st.st_size, st.st_mtime_ns, st.st_ino])
        return stamps

    def verify(self, model_hash: str) -> None:
        """Hash the model's files unless this machine already did for files with the same path,
        size, mtime and inode. Raises TamperedModel when they do not hash to `model_hash`."""
        files = self._hashed_files(model_hash)
        stamp = self._stamp(files)
        record = self.root / VERIFIED_FILE
        try:
            known = json.loads(record.read_text(encoding="utf-8"))
            known = known if isinstance(known, dict) else {}
        except (OSError, ValueError):
            known = {}
        key = hex_of(model_hash)
        if known.get(key) == stamp:
            return
        actual = hash_files(files)
        if actual != model_hash:
            raise TamperedModel(f"model {model_hash} in {self.root} is tampered with: its files hash "
                                f"to {actual}; restore it (tune again) or remove the folder")
        known[key] = stamp
        try:  # a record of work done: losing it only costs a re-hash
            tmp = record.with_name(f"{VERIFIED_FILE}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known), encoding="utf-8")
            os.replace(tmp, record)
        except OSError:
            pass

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
            record = {"hash": model_hash, "backend": backend.name, **backend.describe(), **meta,
                      "hashed": [f.name for f in files]}
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
