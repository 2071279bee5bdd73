"""The application shell: one mode per screen (Cases, Batches, Pull requests, History, Monitor),
the command palette, help, and the one place that turns a failed worker into a message.
`make_app(path)` builds it; `straw tui`, the tests and the benchmark all use it."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.worker import Worker, WorkerState

from repo_store.errors import StrawError
from repo_store.repo import CaseRepo, open_case_repo
from tui.commands import StrawCommands
from tui.dialogs.confirm import Confirm
from tui.modes import SCREENS_IN_ORDER
from tui.screens.batches import BatchesScreen
from tui.screens.cases import CasesScreen
from tui.screens.fresh import FreshScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.monitor import MonitorScreen
from tui.screens.pulls import PullsScreen
from tui.watcher import RepoWatcher

logger = logging.getLogger(__name__)

class RepoChanged(Message):
    """The watcher saw the repository change (posted from its thread)."""


@dataclass
class WatchFailed(Message):
    why: str


class StrawApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: a subclass elsewhere finds it too
    TITLE = "straw"
    MODES = {
        "cases": CasesScreen,
        "batches": BatchesScreen,
        "pulls": PullsScreen,
        "history": HistoryScreen,
        "monitor": MonitorScreen,
    }
    DEFAULT_MODE = "cases"
    # below 100 columns the detail panes go under the tables, so a table keeps its input column
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    COMMANDS = App.COMMANDS | {StrawCommands}
    BINDINGS = [  # the number keys show in each screen's title line, not in the footer
        *(Binding(str(n), f"switch_mode('{mode}')", title, tooltip=tip, id=f"go-{mode}", show=False)
          for n, (mode, title, tip) in enumerate(SCREENS_IN_ORDER, start=1)),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Every key on this screen",
                id="help"),
        Binding("q", "quit_app", "Quit", tooltip="Leave straw (asks first while a tune runs)", id="quit"),
        Binding("ctrl+q", "quit_app", "Quit", tooltip="Leave straw (asks first while a tune runs)",
                id="quit-anywhere", priority=True, show=False),
    ]

    # Library calls run in worker threads and do many small reads (10,000 case files, git pipes).
    # After each read a thread waits for the GIL; with Python's default 5 ms switch interval and
    # the event loop busy drawing, that wait dominated (loading cases took 0.76 s instead of
    # 0.22 s, a pull request's 40 blob reads 200 ms instead of 20 ms). 1 ms hands the GIL back
    # sooner at a small cost in throughput.
    SWITCH_INTERVAL_S = 0.001

    def __init__(self, repo: CaseRepo) -> None:
        super().__init__()
        sys.setswitchinterval(min(sys.getswitchinterval(), self.SWITCH_INTERVAL_S))
        self.repo = repo
        self._repo_lock = threading.RLock()
        self.sub_title = str(repo.root)
        self.generation = 0  # repository changes seen so far (see FreshScreen)
        self.watcher = RepoWatcher(repo, self._post_repo_changed, self._post_watch_failed)

    def _post_repo_changed(self) -> None:  # from the watcher's thread: post_message is thread-safe
        self.post_message(RepoChanged())

    def _post_watch_failed(self, why: str) -> None:
        self.post_message(WatchFailed(why))

    @on(WatchFailed)
    def _watch_failed(self, event: WatchFailed) -> None:
        self.notify(event.why, title="straw", severity="warning", timeout=10)

    def on_mount(self) -> None:
        self.watcher.start()

    def on_unmount(self) -> None:
        self.watcher.close()

    @on(RepoChanged)
    def _repo_changed_outside(self) -> None:
        self.repo_changed()

    def repo_changed(self, loading: FreshScreen | None = None) -> None:
        """The repository moved (here or in another terminal): the screens on the current stack
        load again now, every other screen when it is shown next. `loading` is a screen that
        is about to load by itself (to select what it just wrote)."""
        self.generation += 1
        for screen in self.screen_stack:
            if isinstance(screen, FreshScreen) and screen.shown_generation >= 0 and screen is not loading:
                screen.reload_view()

    @contextmanager
    def library(self) -> Iterator[CaseRepo]:
        """The repository for one library call from a worker thread. GitPython keeps one
        `git cat-file` process per Repo, so calls share it one at a time."""
        with self._repo_lock:
            yield self.repo

    def settle_heap(self) -> None:
        """Collect once and freeze what survives, just after a load has been painted. 10,000
        loaded cases are ~50,000 objects the cycle collector would otherwise walk in every full
        collection: one of those landed in the middle of opening a pull request (~100 ms of its
        ~250). Frozen objects are skipped by the collector (refcounting still frees them); those
        that end up in garbage cycles wait for the next load, which unfreezes and collects."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def fresh_repo(self) -> CaseRepo:
        """A repository object of its own, for a long call (a tune) that must not hold the lock."""
        return open_case_repo(self.repo.root)

    def all_screens(self) -> list[Any]:
        """Every screen on any mode's stack, once."""
        stacks = [self.screen_stack, *self._screen_stacks.values()]
        return list({id(s): s for stack in stacks for s in stack}.values())

    def running_tunes(self) -> list[Any]:
        """Pull request screens with a tune in progress."""
        from tui.screens.pull import PullScreen

        return [s for s in self.all_screens() if isinstance(s, PullScreen) and s.tuning]

    def action_quit_app(self) -> None:
        """Quit, asking first while a tune runs or a case form holds changes nobody saved."""
        from tui.dialogs.case_form import CaseForm

        tunes = self.running_tunes()
        drafts = [s for s in self.all_screens() if isinstance(s, CaseForm) and s.changed()]
        if not tunes and not drafts:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                for screen in tunes:
                    screen.cancel.set()  # the tune stops at its next step; nothing half-written stays
                self.exit()

        why = []
        if tunes:
            why.append(f"A tune is running ({', '.join(s.batch_id for s in tunes)}): quitting cancels it "
                       "and nothing of it is kept.")
        if drafts:
            why.append("The case form has changes that are not saved: quitting drops them.")
        self.push_screen(Confirm("\n".join([*why, "Quit?"]), "Quit", "Stay"), answered)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Worker failures are reported here, once, as one line."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, StrawError):
            self.notify(str(error), title="straw", severity="error", timeout=8)
        else:
            logger.error("worker %s failed", event.worker.name, exc_info=error)
            self.notify(f"internal error: {type(error).__name__}: {error}", severity="error", timeout=10)


def make_app(repo_path: str | os.PathLike[str] | None = None) -> StrawApp:
    """The app on the case repository at `repo_path` (default: around the current folder).
    Raises NotARepository before anything is drawn."""
    return StrawApp(open_case_repo(repo_path))
