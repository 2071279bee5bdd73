"""Watch the case repository from a thread (lazygit's way of staying current): a change to its
refs, HEAD, models.lock or case files made anywhere (another terminal's `straw merge`, a
rollback, this app's own writes) calls `changed()` on the app's thread within a moment.
A plain thread, not a Textual worker: it runs for the app's life, and tests that wait for the
workers to finish must not wait for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from watchfiles import Change, watch

from repo_store.changes import is_repo_change, watch_roots
from repo_store.repo import CaseRepo

logger = logging.getLogger(__name__)


class RepoWatcher:
    DEBOUNCE_MS = 400  # a commit is a burst of writes: one notice for the burst
    STEP_MS = 50

    def __init__(self, repo: CaseRepo, changed: Callable[[], None],
                 failed: Callable[[str], None] | None = None) -> None:
        self.repo = repo
        self.changed = changed
        self.failed = failed  # told once, in words, when watching stops
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="straw-repo-watcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2)

    def _wanted(self, _change: Change, path: str) -> bool:
        return is_repo_change(self.repo, path)

    def _run(self) -> None:
        try:
            for _changes in watch(*watch_roots(self.repo), watch_filter=self._wanted,
                                  debounce=self.DEBOUNCE_MS, step=self.STEP_MS, stop_event=self.stop,
                                  raise_interrupt=False):
                self.changed()
        except Exception as err:  # noqa: BLE001 - no watching is a lesser evil than no app: r reloads
            logger.warning("watching %s stopped", self.repo.root, exc_info=True)
            if self.failed is not None:
                self.failed(f"not watching {self.repo.root} for changes ({type(err).__name__}: {err}); "
                            "press r to read it again")
