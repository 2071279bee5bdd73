"""`straw config`: print the settings that decide verdicts (main's committed straw.toml), or
change one with `straw config set SECTION.KEY VALUE` (one commit with an Approved-by trailer)."""

from __future__ import annotations

import click

from repo_store import config_set
from repo_store.errors import StrawError
from straw.commands.common import echo_json, open_repo, repo_option


@click.group("config", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@repo_option
@click.pass_context
def config_group(ctx: click.Context, as_json: bool, repo_path: str | None) -> None:
    """Print main's committed settings (what tune, gate and merge use)."""
    if ctx.invoked_subcommand is not None:
        return
    repo = open_repo(repo_path)
    settings = repo.verdict_config
    if as_json:
        echo_json(settings)
    else:
        for section, values in settings.items():
            click.echo(f"[{section}]")
            for key, value in values.items():
                ignored = "  # ignored: set on this machine" if (section, key) in config_set.IGNORED else ""
                click.echo(f"{key} = {value!r}{ignored}")
            click.echo("")
    try:
        repo.require_committed_config()
    except StrawError as err:  # a note, not a failure of this command
        click.echo(f"note: {err}", err=True)


@config_group.command("set")
@click.argument("key")
@click.argument("value")
@repo_option
def set_command(key: str, value: str, repo_path: str | None) -> None:
    """Change one setting on main as one commit, signed off with Approved-by (you)."""
    old, new, commit = config_set.set_value(open_repo(repo_path), key, value)
    click.echo(f"{key}: {old!r} -> {new!r} (commit {commit[:8]}, Approved-by recorded)")
