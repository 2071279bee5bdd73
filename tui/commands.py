"""The command palette: one Provider built from the app's screens and the current screen's keys,
so that every action is reachable by name (posting's pattern)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class StrawCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        screen = self.screen
        found: list[tuple[str, str, Callable[[], object]]] = []
        seen: set[str] = set()
        # the current screen's own actions first
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen or active.node is app:
                continue
            seen.add(binding.action)
            found.append((binding.description, binding.tooltip,
                          partial(screen.run_action, binding.action)))
        # then every screen's actions, reached by switching to it first
        from tui.app import SCREENS_IN_ORDER

        for mode, title, tip in SCREENS_IN_ORDER:
            found.append((f"Go to {title}", tip, partial(app.switch_mode, mode)))
            for binding in getattr(app.MODES[mode], "BINDINGS", []):
                if not getattr(binding, "description", "") or binding.action.startswith("app."):
                    continue
                found.append((f"{title}: {binding.description}", binding.tooltip,
                              partial(self._run_on, mode, binding.action)))
        found.append(("Help", "Every key on this screen", app.action_help))
        return found

    async def _run_on(self, mode: str, action: str) -> None:
        await self.app.switch_mode(mode)
        await self.app.screen.run_action(action)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
