"""Textual's Footer, recomposed at most once per refresh.

The stock Footer rebuilds all of its keys (two style passes each) on every bindings signal, and a
screen sends several in its first frames (mount, focus, `refresh_bindings`): on our screens that
was about a third of the time to open one. Signals that arrive before the next refresh now
share one recompose, which shows the same final bindings."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class StrawFooter(Footer):
    _recompose_queued = False

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._recompose_queued:
            return
        if self.is_attached and screen is self.screen:
            self._recompose_queued = True
            self.call_after_refresh(self._recompose_once)

    async def _recompose_once(self) -> None:
        self._recompose_queued = False
        await self.recompose()
