"""`straw flips`: the watch cases a model update broke, and `--promote` to move them into pending."""

from __future__ import annotations

import click

from repo_store import gitio, resolve
from repo_store.batch_branches import BRANCH_PREFIX
from repo_store.errors import UsageError
from repo_store.wording import plural
from straw.commands.common import (
    complete_batch,
    complete_model,
    echo_json,
    one_line,
    open_repo,
    repo_option,
)


@click.command("flips")
@click.argument("batch_id", metavar="[BATCH]", required=False, shell_complete=complete_batch)
@click.option("--model", "model", default=None, shell_complete=complete_model,
              help="The new model (with --vs).")
@click.option("--vs", "vs", default=None, shell_complete=complete_model,
              help="The model it is compared with (the old one).")
@click.option("--promote", is_flag=True, help="Move the flipped cases from watch into pending.")
@click.option("--json", "as_json", is_flag=True, help="The flips as JSON, one object per case.")
@repo_option
def flips_command(batch_id: str | None, model: str | None, vs: str | None, promote: bool,
                  as_json: bool, repo_path: str | None) -> None:
    """Watch negative flips (right before, wrong now) of BATCH's report, or of --model A --vs B.

    BATCH: a batch id, `batch/<id>`, a unique prefix of either, or `latest`; models: a hash or a
    unique prefix of one."""
    from repo_store import flip_ledger

    repo = open_repo(repo_path)
    if bool(batch_id) == bool(model or vs) or bool(model) != bool(vs):
        raise UsageError("name a BATCH, or --model A --vs B (not both)")
    if batch_id:
        ledger = flip_ledger.batch_ledger(repo, resolve.batch_id(repo, batch_id))
    else:
        from tuning.compare import watch_ledger

        assert model is not None and vs is not None
        ledger = watch_ledger(repo, resolve.model_hash(repo, model), resolve.model_hash(repo, vs))
    if promote:
        moved = flip_ledger.promote(repo, ledger)
        for case in moved:
            click.echo(f"promoted {case.id} to {case.path}")
        # main's watch cases changed: every open batch's report judged the old ones (gate: stale)
        open_batches = gitio.branches(repo.git, f"{BRANCH_PREFIX}*")
        if ledger.batch and f"{BRANCH_PREFIX}{ledger.batch}" in open_batches:
            click.echo(f"next: straw batch update {ledger.batch}, then straw tune {ledger.batch}")
        elif open_batches:
            click.echo(f"main's watch cases changed: open batches need `straw batch update` and "
                       f"a tune before they merge ({len(open_batches)} open)")
        return
    if as_json:
        echo_json({"batch": ledger.batch, "production": ledger.production,
                   "candidate": ledger.candidate, "negative": ledger.negative})
        return
    click.echo(f"{plural(len(ledger.negative), 'watch negative flip')}: {ledger.production[:19]} → "
               f"{ledger.candidate[:19]}")
    for f in ledger.negative:
        click.echo(f"  {f['id']:<22} expected {one_line(f['expected'], 18):<18} "
                   f"was {one_line(f['production'], 18):<18} now {one_line(f['candidate'], 18)}")
