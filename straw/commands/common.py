"""What every command shares: the --repo option, opening the repository, JSON output."""

from __future__ import annotations

import json
import os
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


JSON_HELP = "Print JSON for scripts (numbers as numbers) instead of text."

STATUS_COLOURS = {
    "ok": "green", "pass": "green", "passes": "green", "passing": "green", "merged": "blue",
    "PASSED": "green", "FAIL": "red", "FAILED": "red", "ALERT": "red", "tuned-failing": "red",
    "stale": "yellow", "open": "cyan", "rejected": "bright_black", "refused": "red",
}


def status(word: str, width: int = 0) -> str:
    """A status word, padded to `width`, coloured unless NO_COLOR is set (https://no-color.org);
    click.echo drops the colour itself when the output is not a terminal."""
    padded = f"{word:<{width}}"
    colour = STATUS_COLOURS.get(word)
    if colour is None or os.environ.get("NO_COLOR"):
        return padded
    return click.style(padded, fg=colour, bold=True if colour == "red" else None)


def write_output(path: str, text: str) -> None:
    """`-o FILE`: written atomically, with the permissions a plain write would give (0644 under
    the usual umask; the temp file behind the atomic rename is 0600)."""
    from pathlib import Path

    from repo_store.cases import atomic_write

    atomic_write(Path(path), text.encode("utf-8"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def echo_json(value: Any) -> None:
    # json escapes C0 controls itself; printable() also escapes C1 (still valid JSON: \u009b)
    click.echo(printable(json.dumps(value, indent=2, ensure_ascii=False)))


def one_line(text: Any, width: int = 70) -> str:
    """One line of at most `width` characters, terminal controls escaped (see safe_text); a
    list or object (a one_of expected, chat turns) as JSON, as the case file holds it."""
    if isinstance(text, list | dict):
        text = json.dumps(text, ensure_ascii=False)
    line = " ".join(printable(str(text)).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _completer(kind: str) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    """Shell completion (`_STRAW_COMPLETE`) of ids from the repository the command would open."""

    def complete(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        from repo_store import resolve

        try:
            repo = open_repo(ctx.params.get("repo_path") or os.environ.get("STRAW_REPO"))
            if kind == "case":
                names = resolve.case_candidates(repo)
            elif kind == "batch":
                names = [*resolve.batch_candidates(repo, rejected=False), resolve.LATEST]
            else:
                names = [m.removeprefix(resolve.MODEL_PREFIX) for m in resolve.model_candidates(repo)]
        except Exception:  # noqa: BLE001 - completion must never print a traceback into a shell
            return []
        return sorted(n for n in names if n.startswith(incomplete))

    return complete


complete_case = _completer("case")
complete_batch = _completer("batch")
complete_model = _completer("model")


def batch_argument(func: F) -> F:
    """BATCH: an id, `batch/<id>`, a unique prefix, or `latest` (resolved by repo_store.resolve)."""
    return click.argument("batch_id", metavar="BATCH", shell_complete=complete_batch)(func)


def case_argument(func: F) -> F:
    """CASE: a case id or a unique prefix of one."""
    return click.argument("case_id", metavar="CASE", shell_complete=complete_case)(func)
