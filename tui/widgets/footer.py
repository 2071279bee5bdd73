"""Textual's Footer, fitted to the terminal and recomposed only when what it shows changes.

Fitting: keys that do not fit the width are left out from the end of the screen's list (its
least used actions come last), never `?` (help lists every key) or `q`; at 80 columns the
compact style is used. A cut-off `4 History` at the right edge is worse than no key at all.

Recomposing: the stock Footer rebuilds all of its keys (two style passes each) on every bindings
signal, and a screen sends several in its first frames (mount, focus, `refresh_bindings`), most
of them with the same keys as before: on our screens that was about a third of the time to open
one. Signals that arrive before the next refresh share one check, and the keys are rebuilt only
when the bindings shown (key, label, enabled, tooltip) or the width differ from the ones on
screen."""

from __future__ import annotations

from collections.abc import Hashable

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import NoScreen
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS = {"help", "quit_app"}  # kept whatever the width: the way to every other key, and out
COMPACT_BELOW = 100  # columns


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

    def on_resize(self, event: events.Resize) -> None:
        if self.is_attached and not self._queued:
            self._queued = True
            self.call_after_refresh(self._recompose_if_changed)

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _shown_bindings(self) -> list[tuple[Binding, bool, str]]:
        seen: set[str] = set()
        shown = []
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                shown.append((binding, enabled, tooltip))
        return shown

    def _showing(self) -> Hashable:
        return (self._width(), tuple((b.key, b.action, b.description, enabled, tooltip)
                                     for b, enabled, tooltip in self._shown_bindings()))

    def _key_width(self, binding: Binding, compact: bool) -> int:
        key, label = cell_len(self.app.get_key_display(binding)), cell_len(binding.description)
        return key + label + (2 if compact else 3)

    def fitted(self) -> list[tuple[Binding, bool, str]]:
        """The bindings that fit the width, in the screen's order."""
        shown = self._shown_bindings()
        width = self._width()
        compact = width < COMPACT_BELOW
        palette = 0
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = cell_len(self.app.get_key_display(Binding(self.app.COMMAND_PALETTE_BINDING, ""))) + 12
        total = palette + sum(self._key_width(b, compact) for b, _, _ in shown)
        for index in range(len(shown) - 1, -1, -1):
            if total <= width:
                break
            binding = shown[index][0]
            if binding.action.removeprefix("app.") not in ALWAYS:
                total -= self._key_width(binding, compact)
                del shown[index]
        return shown

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self.compact = self._width() < COMPACT_BELOW
        for binding, enabled, tooltip in self.fitted():
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action, disabled=not enabled,
                            tooltip=tooltip).data_bind(compact=Footer.compact)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            try:
                _, binding, enabled, _ = self.screen.active_bindings[self.app.COMMAND_PALETTE_BINDING]
            except KeyError:
                return
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action, classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

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
