"""Screens that show the repository as it is. The app counts repository changes (its watcher
sees refs, models.lock and case files move; its own writes count too); a screen remembers the
count it last loaded at and loads again when the count moved: at once while it is on the
current stack, otherwise when it comes back into view."""

from __future__ import annotations

from textual import events, on
from textual.screen import Screen


class FreshScreen(Screen[None]):
    shown_generation = -1

    def load(self) -> object:  # each screen's loading worker
        raise NotImplementedError

    def mark_fresh(self) -> None:
        """Called as a load starts: what it reads is at least as new as this count."""
        self.shown_generation = getattr(self.app, "generation", 0)

    def is_stale(self) -> bool:
        return self.shown_generation != getattr(self.app, "generation", 0)

    def reload_view(self) -> None:
        self.load()

    @on(events.ScreenResume)
    def _reload_if_stale(self) -> None:
        if self.shown_generation >= 0 and self.is_stale():
            self.reload_view()
