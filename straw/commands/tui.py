"""`straw tui` (and a bare `straw`): the terminal UI on the case repository."""

from __future__ import annotations

import click

from straw.commands.common import repo_option


@click.command("tui")
@repo_option
def tui_command(repo_path: str | None = None) -> None:
    """Open the terminal UI: cases, batches, pull requests, history, monitor."""
    from tui import make_app

    make_app(repo_path).run()
