"""What every command shares: the --repo option, opening the repository, JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from repo_store.repo import CaseRepo, open_case_repo
from repo_store.safe_text import printable

F = TypeVar("F", bound=Callable[..., Any])


def repo_option(func: F) -> F:
    return click.option(
        "--repo", "repo_path", type=click.Path(file_okay=False), default=None, envvar="STRAW_REPO",
        help="Case repository (default: $STRAW_REPO, else the git repository around the current "
             "folder).",
    )(func)


def open_repo(repo_path: str | None) -> CaseRepo:
    repo = open_case_repo(repo_path)
    from repo_store.curation import finish_interrupted_write

    note = finish_interrupted_write(repo)  # one stat unless a killed write left its marker
    if note:
        click.echo(f"straw: {note}", err=True)
    return repo


def echo_json(value: Any) -> None:
    # json escapes C0 controls itself; printable() also escapes C1 (still valid JSON: \u009b)
    click.echo(printable(json.dumps(value, indent=2, ensure_ascii=False)))


def one_line(text: Any, width: int = 70) -> str:
    """One line of at most `width` characters, terminal controls escaped (see safe_text)."""
    line = " ".join(printable(str(text)).split())
    return line if len(line) <= width else line[: width - 1] + "…"
