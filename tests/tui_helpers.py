"""Shared by the TUI tests (driven by Textual's Pilot): wait until the app is idle, and read what
a Static shows as plain text."""

from __future__ import annotations

from textual.widgets import Static


async def settle(pilot) -> None:  # noqa: ANN001
    """Let messages, then every worker, then the messages they posted be handled."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def plain(widget: Static) -> str:
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))
