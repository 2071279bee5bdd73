"""`straw tui` (and a bare `straw`): the terminal UI on the case repository."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from straw.commands.common import repo_option

if TYPE_CHECKING:  # `straw --help` lists this command without importing Textual
    from textual.app import App


def run_app(app: App, headless: bool = False) -> int:
    """Run the app to its end; the exit code for the shell. Textual catches a crash, prints its
    traceback and returns normally, so a crash would look like success: it is a bug in straw (3)."""
    app.run(headless=headless)
    return 3 if app.return_code else 0


@click.command("tui")
@repo_option
def tui_command(repo_path: str | None = None) -> None:
    """Open the terminal UI: cases, batches, pull requests, history, monitor."""
    from tui import make_app

    code = run_app(make_app(repo_path))
    if code:
        sys.exit(code)
