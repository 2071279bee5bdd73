"""The `straw` command: a click group whose commands live in straw/commands/. Errors from the
library become one line on stderr and an exit code (1 data, 2 usage, 130 Ctrl-C), the way
pre-commit's error handler does it."""

from __future__ import annotations

import os
import sys

import click

from repo_store.errors import StrawError
from straw.commands import batches, cases, engine, monitor, tui


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="straw")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Keep a fine-tuned model from breaking what already worked.

    Cases live in git; new cases wait in pending; approved batches become branches that are
    tuned, gated and merged. A bare `straw` opens the terminal UI."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui.tui_command)


for module in (cases, batches, engine, monitor, tui):
    module.register(cli)


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="straw", standalone_mode=False)
    except StrawError as err:
        click.echo(f"straw: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("straw: interrupted; nothing was written", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("straw: interrupted; nothing was written", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(2 if isinstance(err, click.UsageError) else err.exit_code)
    except Exception as err:  # a bug, not bad input: one line, the traceback on request
        if os.environ.get("STRAW_DEBUG"):
            raise
        click.echo(f"straw: internal error: {type(err).__name__}: {err} "
                   f"(run with STRAW_DEBUG=1 for the traceback)", err=True)
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)
