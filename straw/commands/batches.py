"""Batch commands: batch create/list/show/diff/update/push/pr-body, gate, merge, reject, log,
verify. The library does the work (repo_store.batches, gate, merge, history, review)."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from repo_store import batch_branches, batch_status, batches, gate, json_views, resolve, review
from repo_store.errors import StrawError
from repo_store.flips import flip_lines, repair_lines
from repo_store.safe_text import printable
from repo_store.wording import plural
from straw.commands.common import (
    JSON_HELP,
    batch_argument,
    echo_json,
    one_line,
    open_repo,
    repo_option,
    status,
)


@click.group("batch")
def batch_group() -> None:
    """Approve pending cases as a batch branch and review it like a pull request.

    BATCH, wherever a command takes one, is a batch id, `batch/<id>`, a unique prefix of either
    (like git's short ids), or `latest` (the batch created last)."""


@batch_group.command("create")
@click.option("--cases", "case_ids", multiple=True,
              help="Case ids or unique prefixes (repeatable, or comma-separated).")
@click.option("--title", default="", help="What this batch is about.")
@click.option("--allow-small", is_flag=True, help="Approve fewer cases than [batch] min_size.")
@click.option("--all", "all_pending", is_flag=True,
              help="Every pending case, any number: a new repository's first batch.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@repo_option
def create_command(case_ids: tuple[str, ...], title: str, allow_small: bool, all_pending: bool,
                   as_json: bool, repo_path: str | None) -> None:
    """Approve pending cases (default: the oldest, up to max_size) into branch batch/<id>."""
    repo = open_repo(repo_path)
    ids = resolve.case_ids(repo, [part for value in case_ids for part in value.replace(",", " ").split()])
    batch = batches.create_batch(repo, ids or None, title, allow_small, all_pending)
    if as_json:
        echo_json({"id": batch.id, "branch": batch.branch, "cases": batch.cases})
        return
    click.echo(f"created {batch.branch} with {plural(len(batch.cases), 'case')}; next: straw tune {batch.id}")


@batch_group.command("list")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@repo_option
def list_command(as_json: bool, repo_path: str | None) -> None:
    """Every batch as a pull request: status, cases, approver, age."""
    repo = open_repo(repo_path)
    infos = batch_status.list_batches(repo)
    if as_json:
        echo_json([json_views.batch_info(i) for i in infos])
        return
    if infos:
        click.echo(f"{'ID':<18} {'STATUS':<13} {'CASES':>9}  {'CREATED':<10}  {'APPROVER':<30} TITLE")
    for i in infos:
        click.echo(f"{i.id:<18} {status(i.status, 13)} {len(i.batch.cases):>3} cases  "
                   f"{i.batch.created[:10]}  "
                   f"{one_line(i.batch.approver, 30):<30} {one_line(i.batch.title, 40)}")
    if not infos:
        click.echo("no batches yet; approve pending cases with `straw batch create`", err=True)


@batch_group.command("show")
@batch_argument
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@repo_option
def show_command(batch_id: str, as_json: bool, repo_path: str | None) -> None:
    """A batch's manifest, latest report summary and gate state."""
    repo = open_repo(repo_path)
    info = batch_status.shown_info(repo, resolve.batch_id(repo, batch_id))
    if as_json:
        echo_json(json_views.batch_info(info))
        return
    b = info.batch
    click.echo(f"batch {b.id}: {one_line(b.title, 200)}\n  branch   {b.branch}\n  approver {b.approver}\n"
               f"  created  {b.created}\n  cases    {len(b.cases)}\n  status   {status(info.status)}: "
               f"{info.reason}")
    if info.report:
        r = info.report
        s = r["summary"]
        click.echo(f"  report   model {r['model']['hash'][:19]}, baseline {s['baseline']['passed']}/"
                   f"{s['baseline']['total']}, new {s['new']['passed']}/{s['new']['total']}, "
                   f"{plural(len(r.get('rounds', [])), 'round')}")
        for line in flip_lines(r):
            click.echo(f"  flips    {line}")
        for line in repair_lines(r):
            click.echo(f"  {line}")
        for case in sorted(r["cases"], key=lambda c: c["pass"])[:20]:
            if not case["pass"]:
                click.echo(f"    {status('FAIL')} {one_line(case['id'])} ({one_line(case['split'])}): "
                           f"expected "
                           f"{one_line(case['expected'], 25)}, got {one_line(case['predicted'], 25)}")


@batch_group.command("diff")
@batch_argument
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@repo_option
def diff_command(batch_id: str, as_json: bool, repo_path: str | None) -> None:
    """Cases added / changed (field by field) / removed vs main."""
    repo = open_repo(repo_path)
    changes = batches.batch_diff(repo, resolve.batch_id(repo, batch_id))
    if as_json:
        echo_json([asdict(c) for c in changes])
        return
    marks = {"added": "+", "changed": "~", "removed": "-", "foreign": "!"}
    for c in changes:
        data = c.case or {}
        click.echo(f"{marks[c.kind]} {c.case_id}  {one_line(data.get('expected', ''), 20):<20} "
                   f"{one_line(c.shown_input, 60)}")
        for name, before, after in c.fields:
            click.echo(f"    {name}: {one_line(before, 40)!s} → {one_line(after, 40)!s}")
    counts = {k: sum(1 for c in changes if c.kind == k) for k in marks}
    foreign = (f", {counts['foreign']} other file(s) changed: the gate refuses a batch that changes "
               f"anything but its cases, manifest and report" if counts["foreign"] else "")
    click.echo(f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed"
               f"{foreign}", err=True)


@batch_group.command("update")
@batch_argument
@repo_option
def update_command(batch_id: str, repo_path: str | None) -> None:
    """Merge main into the batch branch (then tune again)."""
    repo = open_repo(repo_path)
    batch_id = resolve.batch_id(repo, batch_id)
    commit = batches.update_batch(repo, batch_id)
    click.echo("already up to date with main" if commit is None else
               f"merged main into batch/{batch_branches.batch_id_of(batch_id)} ({commit[:8]}); tune again")


@batch_group.command("push")
@batch_argument
@click.option("--remote", default="origin", show_default=True, help="The git remote to push to.")
@repo_option
def push_command(batch_id: str, remote: str, repo_path: str | None) -> None:
    """Push the batch branch to a remote (open the pull request on the forge)."""
    repo = open_repo(repo_path)
    click.echo(f"pushed {batches.push_batch(repo, resolve.batch_id(repo, batch_id), remote)}")


@batch_group.command("pr-body")
@batch_argument
@repo_option
def pr_body_command(batch_id: str, repo_path: str | None) -> None:
    """Print a Markdown pull-request description for any forge."""
    repo = open_repo(repo_path)
    click.echo(printable(review.pr_body(repo, resolve.batch_id(repo, batch_id))), nl=False)


@click.command("gate")
@batch_argument
@click.option("--json", "as_json", is_flag=True,
              help=JSON_HELP + " The exit code is the same: 0 passes, 1 refused.")
@repo_option
def gate_command(batch_id: str, as_json: bool, repo_path: str | None) -> None:
    """Exit 0 only if the batch's latest report passes and matches its current cases, and the model
    it names is in the model store with its content hash (`straw merge` also reruns it).

    BATCH: a batch id, `batch/<id>`, a unique prefix of either, or `latest`."""
    repo = open_repo(repo_path)
    batch_id = batch_branches.batch_id_of(resolve.batch_id(repo, batch_id))
    result = gate.check_gate(repo, batch_id)
    model_error: StrawError | None = None
    if result.passed and result.report is not None:
        from tuning.model_store import ModelStore  # no torch: hashes files only

        try:
            ModelStore(repo.model_store).load(result.report["model"]["hash"])
        except StrawError as err:
            if not as_json:
                raise
            model_error = err
    if as_json:
        data = json_views.gate_result(batch_id, result)
        if model_error:
            data.update(passed=False, reason=str(model_error))
        echo_json(data)
        if model_error:
            sys.exit(model_error.exit_code)
    elif result.passed:
        word, _, rest = result.reason.partition(":")
        click.echo(f"{status(word)}:{rest}" if rest else result.reason)
    else:
        click.echo(f"straw: gate: {status('refused')}: {result.reason}", err=True)
    if not result.passed:
        sys.exit(1)


@click.command("merge", epilog="""\b
The merge commit carries trailers that `straw log` and `straw verify` read:
Straw-Batch, Straw-Model, Straw-Baseline and Straw-New (passed/total), Straw-Cases,
Straw-BWT (the report's backward transfer over earlier batches; `-` when there was
nothing to measure, e.g. the first batch), Approved-by, Merged-by.""")
@batch_argument
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@repo_option
def merge_command(batch_id: str, as_json: bool, repo_path: str | None) -> None:
    """Gate, rerun the report's model on every case of the branch, then merge the batch into main
    and promote the model in models.lock (only if the rerun predicts what the report says).

    BATCH: a batch id, `batch/<id>`, a unique prefix of either, or `latest`."""
    repo = open_repo(repo_path)
    batch_id = batch_branches.batch_id_of(resolve.batch_id(repo, batch_id))
    from tuning.recheck import merge_checked  # torch: only when merging

    commit = merge_checked(repo, batch_id)
    from repo_store.lockfile import read_lock
    from straw.commands.monitor import deployed

    lock = read_lock(repo)
    if as_json:
        echo_json({"batch": batch_id, "commit": commit, "lock": lock})
    else:
        click.echo(f"{status('merged')} batch/{batch_id} into main ({commit[:8]}); models.lock promoted")
    if lock:
        deployed(repo, lock["model"])  # the local deploy command, when one is set


@click.command("reject")
@batch_argument
@click.option("--reason", default="", help="Recorded in the archive tag.")
@repo_option
def reject_command(batch_id: str, reason: str, repo_path: str | None) -> None:
    """Close a batch: its branch is archived as a tag; its cases stay pending.

    BATCH: a batch id, `batch/<id>`, a unique prefix of either, or `latest`."""
    repo = open_repo(repo_path)
    tag = batches.reject_batch(repo, resolve.batch_id(repo, batch_id), reason)
    click.echo(f"rejected; branch archived as tag {tag}; its cases are still pending on main")
