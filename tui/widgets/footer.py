"""Textual's Footer, recomposed only when what it shows changes.

The stock Footer rebuilds all of its keys (two style passes each) on every bindings signal, and a
screen sends several in its first frames (mount, focus, `refresh_bindings`), most of them with
the same keys as before: on our screens that was about a third of the time to open one. Signals
that arrive before the next refresh share one check, and the keys are rebuilt only when the
bindings shown (key, label, enabled, tooltip) differ from the ones on screen."""

from __future__ import annotations

from collections.abc import Hashable

from textual.dom import NoScreen
from textual.screen import Screen
from textual.widgets import Footer


class StrawFooter(Footer):
    _queued = False
    _shown: Hashable = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._queued:
            return
        if self.is_attached and screen is self.screen:
            self._queued = True
            self.call_after_refresh(self._recompose_if_changed)

    def _showing(self) -> Hashable:
        return tuple((binding.key, binding.action, binding.description, enabled, tooltip)
                     for _, binding, enabled, tooltip in self.screen.active_bindings.values()
                     if binding.show)

    async def _recompose_if_changed(self) -> None:
        self._queued = False
        # the refresh this waited for can come after the screen was dismissed (a form that
        # saved): a footer that is no longer on a screen has nothing to show
        try:
            showing = self._showing()
        except NoScreen:
            return
        if showing != self._shown:
            self._shown = showing
            await self.recompose()
