"""Batch commands: batch create/list/show/diff/update/push/pr-body, gate, merge, reject, log,
verify. The library does the work (repo_store.batches, gate, merge, history, review)."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from repo_store import batch_status, batches, gate, review
from repo_store.safe_text import printable
from straw.commands.common import echo_json, one_line, open_repo, repo_option


@click.group("batch")
def batch_group() -> None:
    """Approve pending cases as a batch branch and review it like a pull request."""


@batch_group.command("create")
@click.option("--cases", "case_ids", multiple=True, help="Case ids (repeatable, or comma-separated).")
@click.option("--title", default="", help="What this batch is about.")
@click.option("--allow-small", is_flag=True, help="Approve fewer cases than [batch] min_size.")
@click.option("--all", "all_pending", is_flag=True,
              help="Every pending case, any number: a new repository's first batch.")
@click.option("--json", "as_json", is_flag=True)
@repo_option
def create_command(case_ids: tuple[str, ...], title: str, allow_small: bool, all_pending: bool,
                   as_json: bool, repo_path: str | None) -> None:
    """Approve pending cases (default: the oldest, up to max_size) into branch batch/<id>."""
    repo = open_repo(repo_path)
    ids = [part for value in case_ids for part in value.replace(",", " ").split()]
    batch = batches.create_batch(repo, ids or None, title, allow_small, all_pending)
    if as_json:
        echo_json({"id": batch.id, "branch": batch.branch, "cases": batch.cases})
        return
    click.echo(f"created {batch.branch} with {len(batch.cases)} cases; next: straw tune {batch.id}")


@batch_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@repo_option
def list_command(as_json: bool, repo_path: str | None) -> None:
    """Every batch as a pull request: status, cases, approver, age."""
    repo = open_repo(repo_path)
    infos = batch_status.list_batches(repo)
    if as_json:
        echo_json([{"id": i.id, "branch": i.batch.branch, "title": i.batch.title,
                    "approver": i.batch.approver, "created": i.batch.created,
                    "cases": i.batch.cases, "status": i.status, "reason": i.reason} for i in infos])
        return
    for i in infos:
        click.echo(f"{i.id:<18} {i.status:<13} {len(i.batch.cases):>3} cases  {i.batch.created[:10]}  "
                   f"{one_line(i.batch.approver, 30):<30} {one_line(i.batch.title, 40)}")
    if not infos:
        click.echo("no batches yet; approve pending cases with `straw batch create`", err=True)


@batch_group.command("show")
@click.argument("batch_id")
@repo_option
def show_command(batch_id: str, repo_path: str | None) -> None:
    """A batch's manifest, latest report summary and gate state."""
    repo = open_repo(repo_path)
    info = batch_status.batch_info(repo, batch_id)
    b = info.batch
    click.echo(f"batch {b.id}: {one_line(b.title, 200)}\n  branch   {b.branch}\n  approver {b.approver}\n"
               f"  created  {b.created}\n  cases    {len(b.cases)}\n  status   {info.status}: {info.reason}")
    if info.report:
        r = info.report
        s = r["summary"]
        click.echo(f"  report   model {r['model']['hash'][:19]}, baseline {s['baseline']['passed']}/"
                   f"{s['baseline']['total']}, new {s['new']['passed']}/{s['new']['total']}, "
                   f"{len(r.get('rounds', []))} rounds")
        for case in sorted(r["cases"], key=lambda c: c["pass"])[:20]:
            if not case["pass"]:
                click.echo(f"    FAIL {one_line(case['id'])} ({one_line(case['split'])}): expected "
                           f"{one_line(case['expected'], 25)}, got {one_line(case['predicted'], 25)}")


@batch_group.command("diff")
@click.argument("batch_id")
@click.option("--json", "as_json", is_flag=True)
@repo_option
def diff_command(batch_id: str, as_json: bool, repo_path: str | None) -> None:
    """Cases added / changed (field by field) / removed vs main."""
    repo = open_repo(repo_path)
    changes = batches.batch_diff(repo, batch_id)
    if as_json:
        echo_json([asdict(c) for c in changes])
        return
    marks = {"added": "+", "changed": "~", "removed": "-", "foreign": "!"}
    for c in changes:
        data = c.case or {}
        click.echo(f"{marks[c.kind]} {c.case_id}  {one_line(data.get('expected', ''), 20):<20} "
                   f"{one_line(data.get('input', ''), 60)}")
        for name, before, after in c.fields:
            click.echo(f"    {name}: {one_line(before, 40)!s} → {one_line(after, 40)!s}")
    counts = {k: sum(1 for c in changes if c.kind == k) for k in marks}
    foreign = (f", {counts['foreign']} other file(s) changed: the gate refuses a batch that changes "
               f"anything but its cases, manifest and report" if counts["foreign"] else "")
    click.echo(f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed"
               f"{foreign}", err=True)


@batch_group.command("update")
@click.argument("batch_id")
@repo_option
def update_command(batch_id: str, repo_path: str | None) -> None:
    """Merge main into the batch branch (then tune again)."""
    repo = open_repo(repo_path)
    commit = batches.update_batch(repo, batch_id)
    click.echo("already up to date with main" if commit is None else
               f"merged main into batch/{batches.batch_id_of(batch_id)} ({commit[:8]}); tune again")


@batch_group.command("push")
@click.argument("batch_id")
@click.option("--remote", default="origin", show_default=True)
@repo_option
def push_command(batch_id: str, remote: str, repo_path: str | None) -> None:
    """Push the batch branch to a remote (open the pull request on the forge)."""
    repo = open_repo(repo_path)
    click.echo(f"pushed {batches.push_batch(repo, batch_id, remote)}")


@batch_group.command("pr-body")
@click.argument("batch_id")
@repo_option
def pr_body_command(batch_id: str, repo_path: str | None) -> None:
    """Print a Markdown pull-request description for any forge."""
    click.echo(printable(review.pr_body(open_repo(repo_path), batch_id)), nl=False)


@click.command("gate")
@click.argument("batch_id")
@repo_option
def gate_command(batch_id: str, repo_path: str | None) -> None:
    """Exit 0 only if the batch's latest report passes and matches its current cases, and the model
    it names is in the model store with its content hash (`straw merge` also reruns it)."""
    repo = open_repo(repo_path)
    result = gate.check_gate(repo, batch_id)
    if result.passed and result.report is not None:
        from tuning.model_store import ModelStore  # no torch: hashes files only

        ModelStore(repo.model_store).load(result.report["model"]["hash"])
        click.echo(result.reason)
        return
    click.echo(f"straw: gate: {result.reason}", err=True)
    sys.exit(1)


@click.command("merge")
@click.argument("batch_id")
@repo_option
def merge_command(batch_id: str, repo_path: str | None) -> None:
    """Gate, rerun the report's model on every case of the branch, then merge the batch into main
    and promote the model in models.lock (only if the rerun predicts what the report says)."""
    repo = open_repo(repo_path)
    from tuning.recheck import merge_checked  # torch: only when merging

    commit = merge_checked(repo, batch_id)
    click.echo(f"merged batch/{batches.batch_id_of(batch_id)} into main ({commit[:8]}); "
               f"models.lock promoted")
    from repo_store.lockfile import read_lock
    from straw.commands.monitor import deployed

    lock = read_lock(repo)
    if lock:
        deployed(repo, lock["model"])  # the local deploy command, when one is set


@click.command("reject")
@click.argument("batch_id")
@click.option("--reason", default="", help="Recorded in the archive tag.")
@repo_option
def reject_command(batch_id: str, reason: str, repo_path: str | None) -> None:
    """Close a batch: its branch is archived as a tag; its cases stay pending."""
    tag = batches.reject_batch(open_repo(repo_path), batch_id, reason)
    click.echo(f"rejected; branch archived as tag {tag}; its cases are still pending on main")
