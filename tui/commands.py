"""The command palette: every straw action of every screen by name (posting's pattern), never
the widgets' own keys (a DataTable's "Cursor up"). The current screen's actions come first;
another screen's are run by switching to it first; a pull request's (tune, merge, reject…)
open the pull request under the list's cursor and run there once it has loaded, unless they
can run on none (cancel with no tune running): that is said where the user is."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.modes import SCREENS_IN_ORDER


class StrawCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        from tui.screens.pull import PullScreen

        app = self.app
        screen = self.screen
        found: list[tuple[str, str, Callable[[], object]]] = []
        seen: set[str] = set()
        # the current screen's own actions first (its own bindings, not its widgets')
        for active in screen.active_bindings.values():
            binding = active.binding
            if active.node is not screen or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            run = screen.run_requested if isinstance(screen, PullScreen) else screen.run_action
            found.append((binding.description, binding.tooltip, partial(run, binding.action)))
        # then every screen's actions, reached by switching to it first
        for mode, title, tip in SCREENS_IN_ORDER:
            found.append((f"Go to {title}", tip, partial(app.switch_mode, mode)))
            for binding in getattr(app.MODES[mode], "BINDINGS", []):
                if getattr(binding, "description", "") and binding.show:
                    found.append((f"{title}: {binding.description}", binding.tooltip,
                                  partial(self._run_on, mode, binding.action)))
        for pull_binding in PullScreen.BINDINGS:
            if isinstance(pull_binding, Binding) and pull_binding.action != "back":
                found.append((f"Pull request: {pull_binding.description}", pull_binding.tooltip,
                              partial(self._run_on_pull, pull_binding.action)))
        found.append(("Help", "Every key on this screen", app.action_help))  # type: ignore[attr-defined]
        found.append(("Quit", "Leave straw (asks first while a tune runs)",
                      app.action_quit_app))  # type: ignore[attr-defined]
        return found

    async def _run_on(self, mode: str, action: str) -> None:
        await self.app.switch_mode(mode)
        await self.app.screen.run_action(action)

    async def _run_on_pull(self, action: str) -> None:
        from tui.screens.pull import NO_TUNE, PullScreen

        if action == "cancel_tune" and not self.app.running_tunes():  # type: ignore[attr-defined]
            self.app.notify(NO_TUNE, severity="warning")
            return
        if isinstance(self.app.screen, PullScreen):
            await self.app.screen.run_requested(action)  # says why, when the batch cannot
            return
        await self.app.switch_mode("pulls")
        screen = self.app.screen
        if isinstance(screen, PullScreen):  # a pull request was open on that screen's stack
            await screen.run_requested(action)
        else:
            screen.open_selected(then=action)  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
