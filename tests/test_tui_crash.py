"""A crash in the TUI: the key sequence from issue 16 that crashed it (a footer asked for the
screen of a dismissed form), and a crash of any kind reaching the shell as exit code 3."""

from __future__ import annotations

from textual.widgets import DataTable
from tui_helpers import settle

from straw.commands.tui import run_app
from tui import make_app
from tui.app import StrawApp
from tui.screens.cases import CasesScreen

SIZE = (140, 42)


async def test_saving_a_form_after_a_search_does_not_crash(demo_repo) -> None:
    before = {c.id for c in demo_repo.load().cases}
    app = make_app(demo_repo.root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"charged", "enter", "s", "a")
        await pilot.pause()
        await pilot.press(*"[bold red]z[/]", "tab", "tab", *"benign", "tab", *"markup", "ctrl+s")
        for _ in range(3):
            await settle(pilot)
        assert isinstance(app.screen, CasesScreen)
        assert app.screen.query_one("#cases-table", DataTable) is not None
    assert app.return_code in (None, 0)  # run_test re-raises a crash; none happened
    (added,) = [c for c in demo_repo.load().cases if c.id not in before]
    assert added.input == "[bold red]z[/]" and added.expected == "benign" and added.tags == ["markup"]


class CrashingApp(StrawApp):
    def on_mount(self) -> None:
        raise RuntimeError("a bug")


class QuittingApp(StrawApp):
    def on_mount(self) -> None:
        self.set_timer(0.2, self.exit)


def test_a_crash_exits_non_zero_and_a_quit_exits_zero(demo_repo) -> None:
    assert run_app(CrashingApp(demo_repo), headless=True) == 3
    assert run_app(QuittingApp(demo_repo), headless=True) == 0
