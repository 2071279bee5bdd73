"""Shared by the TUI tests (driven by Textual's Pilot): wait until the app is idle, open a batch's
pull request, and read what a Static shows as plain text."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from tui.screens.pull import PullScreen


async def settle(pilot) -> None:  # noqa: ANN001
    """Let messages, then every worker, then the messages they posted be handled."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, check: Callable[[], bool], seconds: float = 5.0) -> bool:  # noqa: ANN001
    """Poll `check()` while the app runs (the watcher reports within a moment, workers finish)."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
        await pilot.pause()
    return check()


async def open_pull(pilot, batch_id: str) -> PullScreen:  # noqa: ANN001
    """Settle, open the pull request of `batch_id`, settle again; the opened screen."""
    await settle(pilot)
    pilot.app.push_screen(PullScreen(batch_id))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PullScreen)
    return screen


def plain(widget: Static) -> str:
    """What the widget shows, as text. Text that Textual hands to Rich (tui.text.BidiText) is
    read as drawn: wrapped at the widget's width, then each line in display order."""
    rendered = widget.render()
    inner = getattr(rendered, "_renderable", None)
    if isinstance(inner, Text):
        width = widget.content_region.width or widget.app.size.width
        return "\n".join(line.plain for line in inner.wrap(widget.app.console, width))
    return getattr(rendered, "plain", str(rendered))
