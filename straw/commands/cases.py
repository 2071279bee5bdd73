"""Curation commands: init, add, edit, rm, show, list, import, export, validate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from repo_store import cases as case_files
from repo_store import curation, resolve
from repo_store.errors import Issue, StrawError, UsageError, ValidationFailed
from repo_store.repo import CaseRepo
from repo_store.safe_text import printable
from repo_store.wording import plural
from straw.commands.common import (
    JSON_HELP,
    case_argument,
    complete_case,
    echo_json,
    one_line,
    open_repo,
    repo_option,
)

CURATED = click.Choice(list(case_files.CURATED))
MATCH_RULES = click.Choice(["exact", "label", "contains", "regex", "json", "one_of"])


def _utf8(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """Refuse an argument that is not UTF-8 (Python hands such bytes over as lone surrogates,
    which no file can hold): exit 2 naming the option, instead of a crash while writing."""
    for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as err:
                bad = ord(item[err.start])
                byte = f" (byte 0x{bad - 0xDC00:02x})" if 0xDC80 <= bad <= 0xDCFF else ""
                raise UsageError(f"{param.opts[0]}: not valid UTF-8 text{byte}") from None
    return value


def _check_pattern(match: str | None, expected: str | None) -> None:
    if match == "regex" and expected is not None:
        from repo_store import matching

        reason = matching.pattern_issue(expected)
        if reason:
            raise UsageError(f"--expected: {reason}")


def _expected_value(match: str, expected: str) -> object:
    try:
        return curation.parse_expected(match, expected)
    except ValueError as err:
        raise UsageError(f"--expected: {err}: {one_line(expected)}") from None


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--demo", is_flag=True, help="Seed the bundled demo cases (baseline + pending).")
def init_command(directory: str, demo: bool) -> None:
    """Make DIRECTORY a case repository (git init if needed, straw.toml, hooks)."""
    from repo_store import setup  # GitPython: only where a repository is set up

    repo, done = setup.init_case_repo(Path(directory), demo=demo)
    for line in done:
        click.echo(f"  {line}")
    click.echo(f"case repository ready at {repo.root}")
    if demo and any(line.startswith("seeded ") for line in done):  # a first batch is next only then
        click.echo(DEMO_NEXT.format(root=repo.root))


DEMO_NEXT = """
What to do next:
  cd {root}
  straw list --split pending                    # the cases waiting for a batch
  straw batch create --title "first batch"      # approve the oldest pending cases as batch/<id>
  straw tune latest                             # fine-tune until every case passes (~1 min, CPU)
  straw gate latest && straw merge latest       # the gate, then the merge that promotes the model
  straw log                                     # the baseline's history
  straw tui                                     # or all of it in the terminal UI"""


@click.command("add")
@click.option("--input", "input_text", required=True, callback=_utf8, help="The input text.")
@click.option("--expected", required=True, callback=_utf8,
              help="Expected output (one_of: a|b|c or a JSON list).")
@click.option("--match", type=MATCH_RULES, default="label", show_default=True,
              help="How a prediction is compared with --expected (regex: a pattern it must match).")
@click.option("--tag", "tags", multiple=True, callback=_utf8, help="Tag (repeatable).")
@click.option("--notes", default=None, callback=_utf8, help="Free text for reviewers.")
@click.option("--source", default=None, callback=_utf8, help="Who reported it, ticket.")
@click.option("--split", type=CURATED, default="pending", show_default=True,
              help="watch: evaluated by every run, never trained on.")
@repo_option
def add_command(input_text: str, expected: str, match: str, tags: tuple[str, ...],
                notes: str | None, source: str | None, split: str, repo_path: str | None) -> None:
    """Add a pending (or watch) case; prints its id."""
    repo = open_repo(repo_path)
    _check_pattern(match, expected)
    warnings: list[str] = []
    try:
        case = curation.add_case(repo, input=input_text, expected=_expected_value(match, expected),
                                 match=match, tags=list(tags), notes=notes, source=source,
                                 warn=warnings.append, split=split)
    except ValidationFailed as err:  # the refused case's file was never written: don't name it
        written = f"cases/{split}/"
        raise ValidationFailed([
            Issue("the new case (nothing written)", i.pointer, i.message)
            if i.path.startswith(written) and not (repo.root / i.path).exists() else i
            for i in err.issues]) from None
    for warning in warnings:  # after the add: a refused case needs no warning
        click.echo(f"straw: warning: {printable(warning)}", err=True)
    click.echo(case.id)


@click.command("edit")
@case_argument
@click.option("--input", "input_text", default=None, callback=_utf8, help="New input text.")
@click.option("--expected", default=None, callback=_utf8, help="New expected output.")
@click.option("--match", type=MATCH_RULES, default=None, help="New match rule.")
@click.option("--tag", "tags", multiple=True, callback=_utf8, help="Replace the tags (repeatable).")
@click.option("--notes", default=None, callback=_utf8, help="New notes.")
@repo_option
def edit_command(case_id: str, input_text: str | None, expected: str | None, match: str | None,
                 tags: tuple[str, ...], notes: str | None, repo_path: str | None) -> None:
    """Edit a pending or watch case (with no options: in $EDITOR). CASE: an id or a unique prefix."""
    repo = open_repo(repo_path)
    case_id = resolve.case_id(repo, case_id)
    case = curation.get_case(repo, case_id)
    changes: dict[str, object] = {}
    if input_text is not None:
        changes["input"] = input_text
    if match is not None:
        changes["match"] = match
    if expected is not None or match is not None:
        _check_pattern(match or case.match, expected if expected is not None else case.expected)
    if expected is not None:
        changes["expected"] = _expected_value(match or case.match, expected)
    if tags:
        changes["tags"] = list(tags)
    if notes is not None:
        changes["notes"] = notes
    updated: case_files.Case | None
    if changes:
        updated = curation.edit_case(repo, case_id, changes)
    else:
        updated = _edit_in_editor(repo, case)
        if updated is None:
            click.echo("no change")
            return
    click.echo(f"edited {updated.path}")


EDITOR_ROUNDS = 10  # an editor that saves the same fault again and again must not loop forever


def _edit_in_editor(repo: CaseRepo, case: case_files.Case) -> case_files.Case | None:
    """Open the case in $EDITOR; when the edit fails validation, open it again with the error on
    top in `#` lines (as `git commit` shows its message), so nothing typed is lost. Quitting
    without saving after an error keeps the draft in the git directory and says where."""
    text = json.dumps(case.data, indent=2, ensure_ascii=False) + "\n"
    error = None
    for _ in range(EDITOR_ROUNDS):
        shown = text if error is None else (
            f"# straw: {error}\n# Fix the case below and save; lines starting with # are ignored.\n"
            f"# Quit without saving to give up (your draft is kept).\n{text}")
        edited = click.edit(shown, extension=".json", require_save=True)
        if edited is None:  # closed without saving
            if error is None:
                return None
            break
        text = "".join(line for line in edited.splitlines(keepends=True) if not line.startswith("#"))
        if not text.strip():
            return None  # emptied: given up, as with `git commit`
        try:
            changes = json.loads(text)
            if not isinstance(changes, dict):
                raise UsageError("the edited case must be a JSON object")
            return curation.edit_case(repo, case.id, changes)
        except json.JSONDecodeError as err:
            error = f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}"
        except StrawError as err:
            error = printable(str(err), keep_lines=False)
    draft = Path(repo.git_dir) / f"straw-draft-{case.id}.json"
    draft.write_text(text, encoding="utf-8")
    raise ValidationFailed([Issue(case.path, "$", f"{error}; your edit is kept at {draft}")])


@click.command("rm")
@click.argument("case_ids", metavar="CASE...", nargs=-1, required=True, shell_complete=complete_case)
@repo_option
def rm_command(case_ids: tuple[str, ...], repo_path: str | None) -> None:
    """Remove pending or watch cases (each a commit; `straw restore` brings one back). CASE: an id or a
    unique prefix."""
    repo = open_repo(repo_path)
    for case_id in resolve.case_ids(repo, case_ids):
        case = curation.remove_case(repo, case_id)
        click.echo(f"removed {case.path}")


@click.command("restore")
@click.argument("case_ids", nargs=-1, required=True)
@repo_option
def restore_command(case_ids: tuple[str, ...], repo_path: str | None) -> None:
    """Bring removed pending or watch cases back, as they were before their last removal on main."""
    repo = open_repo(repo_path)
    for case_id in case_ids:
        case = curation.restore_case(repo, curation.removed_case(repo, case_id))
        click.echo(f"restored {case.path}")


@click.command("show")
@case_argument
@repo_option
def show_command(case_id: str, repo_path: str | None) -> None:
    """Print one case as JSON, with its split. CASE: an id or a unique prefix."""
    repo = open_repo(repo_path)
    case = curation.get_case(repo, resolve.case_id(repo, case_id))
    echo_json({"split": case.split, "path": case.path, **case.data})


def _filtered(repo_path: str | None, split: str, tag: tuple[str, ...], search: str | None,
              ) -> list[case_files.Case]:
    repo = open_repo(repo_path)
    loaded = repo.load()
    for issue in loaded.issues:
        click.echo(f"straw: skipped {issue}", err=True)
    needle = (search or "").casefold()
    return [c for c in loaded.cases
            if (split == "all" or c.split == split)
            and all(t in c.tags for t in tag)
            and (not needle or needle in c.text.casefold() or needle in str(c.expected).casefold())]


SPLIT = click.Choice(["all", *case_files.SPLITS])


@click.command("list")
@click.option("--split", type=SPLIT, default="all", show_default=True,
              help="Baseline, pending or watch cases, or all.")
@click.option("--tag", multiple=True, help="Only cases with this tag (repeatable: all of them).")
@click.option("--search", "-s", default=None, callback=_utf8,
              help="Text the input or expected output contains.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of cases.")
@repo_option
def list_command(split: str, tag: tuple[str, ...], search: str | None, as_json: bool,
                 repo_path: str | None) -> None:
    """List cases (baseline, pending and watch)."""
    found = _filtered(repo_path, split, tag, search)
    if as_json:
        echo_json([{"split": c.split, **c.data} for c in found])
        return
    if found:
        click.echo(f"{'ID':<27} {'SPLIT':<8} {'EXPECTED':<18} {'TAGS':<20} INPUT")
    for c in found:
        tags = one_line(",".join(c.tags), 40)
        click.echo(f"{one_line(c.id, 100):<27} {c.split:<8} {one_line(c.expected, 18):<18} {tags:<20} "
                   f"{one_line(c.text, 60)}")
    click.echo(plural(len(found), "case"), err=True)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--split", type=CURATED, default="pending", show_default=True,
              help="watch: evaluated by every run, never trained on.")
@repo_option
def import_command(file: str, split: str, repo_path: str | None) -> None:
    """Import a .jsonl or .csv file as pending (or watch) cases (unknown fields go to `meta`)."""
    repo = open_repo(repo_path)
    from repo_store import io_formats

    added = io_formats.import_file(repo, Path(file), split)
    click.echo(f"imported {plural(len(added), f'{split} case')} from {file}")
    note = io_formats.split_note(Path(file), split)
    if note:
        click.echo(f"straw: note: {note}", err=True)


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="One JSON object per line, or CSV.")
@click.option("--split", type=SPLIT, default="all", show_default=True,
              help="Baseline, pending or watch cases, or all.")
@click.option("--tag", multiple=True, help="Only cases with this tag (repeatable: all of them).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write here instead of stdout.")
@repo_option
def export_command(fmt: str, split: str, tag: tuple[str, ...], output: str | None,
                   repo_path: str | None) -> None:
    """Export cases as JSONL or CSV."""
    from repo_store import io_formats

    found = _filtered(repo_path, split, tag, None)
    text = io_formats.export_jsonl(found) if fmt == "jsonl" else io_formats.export_csv(found)
    if output:
        case_files.atomic_write(Path(output), text.encode("utf-8"))
        click.echo(f"wrote {plural(len(found), 'case')} to {output}", err=True)
    else:
        sys.stdout.write(text)


@click.command("validate")
@click.option("--json", "as_json", is_flag=True,
              help=JSON_HELP + " The exit code is the same: 0 valid, 1 problems.")
@repo_option
def validate_command(as_json: bool, repo_path: str | None) -> None:
    """Check every file against its schema, and all cases for duplicates and contradictions."""
    repo = open_repo(repo_path)
    from dataclasses import asdict

    from repo_store import validation

    issues = validation.validate_repo(repo)
    if as_json:
        echo_json({"ok": not issues, "cases": len(repo.load().cases),
                   "issues": [asdict(i) for i in issues]})
        sys.exit(1 if issues else 0)
    for issue in issues:
        click.echo(str(issue))
    if issues:
        files = len({i.path for i in issues})
        click.echo(f"straw: {plural(len(issues), 'problem')} in {plural(files, 'file')}", err=True)
        sys.exit(1)
    click.echo(f"ok: {plural(len(repo.load().cases), 'case')} valid", err=True)
