"""Hot swap: follow main's `models.lock` and serve what it names.

The ref is polled (`git rev-parse refs/heads/main`, every `poll_s`), not watched with inotify:
a ref can change without its file changing (`git pack-refs`/`gc` move it into packed-refs,
the reftable backend has no per-ref file, a fetch into a bare mirror writes elsewhere), and a
poll is one ~2 ms git call that keeps the 5 s promise with a 0.5 s period. models.lock is read
from the commit, never the work tree: an uncommitted edit is not production.

A new model is loaded beside the old one in this thread and then swapped in by one reference
assignment, so a batch already running finishes on the model it started with and no request
fails. A model that fails to load leaves the old one serving and is reported on /health."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repo_store import gitio, lockfile
from repo_store.errors import StrawError
from repo_store.repo import MAIN
from tuning.serve.model import ServedModel

logger = logging.getLogger(__name__)

RETRY_FAILED_S = 30.0  # a model that failed to load is tried again this often (a store may be repaired)

Loader = Callable[[str], ServedModel]


@dataclass
class SwapState:
    commit: str | None = None  # main's commit last read
    wanted: str | None = None  # the model models.lock names there
    error: str | None = None  # why `wanted` is not the model serving
    swaps: int = 0
    loading: str | None = None


class Swapper:
    def __init__(self, root: Path, loader: Loader, poll_s: float = 0.5) -> None:
        self.root = root
        self.loader = loader
        self.poll_s = poll_s
        self.current: ServedModel | None = None
        self.state = SwapState()
        self._failed_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading main ------------------------------------------------------------------------
    def _main_commit(self) -> str | None:
        return gitio.rev(self.root, f"refs/heads/{MAIN}")

    def _lock_at(self, commit: str) -> dict[str, Any] | None:
        proc = gitio.run_bytes(self.root, "cat-file", "blob", f"{commit}:{lockfile.LOCK_FILE}",
                               check=False)
        if proc.returncode:
            return None
        return lockfile.decode(proc.stdout, f"{commit[:8]}:{lockfile.LOCK_FILE}")

    def start(self) -> ServedModel:
        """Load production now (raises StrawError when there is none or it cannot load), then
        follow main in a background thread."""
        commit = self._main_commit()
        if commit is None:
            raise StrawError(f"no branch {MAIN} in {self.root}: nothing to serve")
        lock = self._lock_at(commit)
        if lock is None:
            raise StrawError(f"no production model yet: {lockfile.LOCK_FILE} is missing on {MAIN} "
                             "(merge a batch first)")
        self.state.commit, self.state.wanted = commit, lock["model"]
        self.current = self.loader(lock["model"])
        self._thread = threading.Thread(target=self._follow, name="straw-swapper", daemon=True)
        self._thread.start()
        return self.current

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception as err:  # the server keeps serving; the reason shows on /health
                logger.exception("swapper")
                self.state.error = f"cannot read {MAIN}: {type(err).__name__}: {err}"

    def check(self) -> None:
        """One poll: when main's models.lock names another model, load it and swap."""
        commit = self._main_commit()
        if commit is None:
            self.state.error = f"branch {MAIN} is gone; still serving {self._serving()}"
            return
        if commit == self.state.commit and (self.current is None or self.state.wanted == self.current.hash
                                            or not self._retry_due(self.state.wanted)):
            return
        self.state.commit = commit
        try:
            lock = self._lock_at(commit)
        except StrawError as err:
            self.state.error = f"{err}; still serving {self._serving()}"
            return
        if lock is None:
            self.state.error = (f"{lockfile.LOCK_FILE} is missing on {MAIN} ({commit[:8]}); "
                                f"still serving {self._serving()}")
            return
        wanted = lock["model"]
        self.state.wanted = wanted
        if self.current is not None and wanted == self.current.hash:
            self.state.error = None
            return
        if not self._retry_due(wanted):
            return
        self.state.loading = wanted
        try:
            fresh = self.loader(wanted)
        except Exception as err:  # any load failure: keep serving the old model
            self._failed_at[wanted] = time.monotonic()
            self.state.error = f"cannot load {wanted}: {err}; still serving {self._serving()}"
            logger.warning("%s", self.state.error)
            return
        finally:
            self.state.loading = None
        self._failed_at.pop(wanted, None)
        self.current = fresh  # the swap: one reference assignment, atomic for every reader
        self.state.error = None
        self.state.swaps += 1
        logger.info("now serving %s (main %s)", wanted, commit[:8])

    def _retry_due(self, model: str | None) -> bool:
        failed = self._failed_at.get(model or "")
        return failed is None or time.monotonic() - failed >= RETRY_FAILED_S

    def _serving(self) -> str:
        return self.current.hash if self.current else "nothing"
