"""One writer at a time per case repository, across processes (TUI + CLI, two shells) and
threads: an advisory `flock` on `.git/straw.lock`, re-entrant inside a process."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from repo_store.errors import StrawError, UsageError

_held: dict[str, int] = {}
_guard = threading.RLock()


@contextmanager
def write_lock(git_dir: Path, timeout: float = 60.0) -> Iterator[None]:
    key = str(git_dir.resolve())
    with _guard:
        if _held.get(key):
            _held[key] += 1
            try:
                yield
            finally:
                _held[key] -= 1
            return
        try:
            fd = os.open(git_dir / "straw.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:  # a read-only checkout, a mount without write access
            raise UsageError(f"{git_dir}: cannot write here ({err.strerror or err}); changing the "
                             f"repository needs write access to it") from None
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StrawError(
                            f"{git_dir}/straw.lock: another straw process kept the repository "
                            f"busy for {timeout:.0f} s"
                        ) from None
                    time.sleep(0.02)
            _held[key] = 1
            try:
                yield
            finally:
                _held[key] = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def deferred_interrupt() -> Iterator[list[int]]:
    """Hold back Ctrl-C (SIGINT, SIGTERM) for a short step that must not be cut in half, such as the
    `git commit` that makes a write visible. The yielded list collects the signals that arrived;
    the caller decides what they mean once the step is done. Outside the main thread (where signal
    handlers cannot be set) this does nothing."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    received: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda signum, _frame: received.append(signum))
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
