"""The curation CLI (`straw init/add/edit/rm/show/list/import/export/validate`) on real git
repositories: the interface scripts rely on, exit codes (0 ok, 1 data, 2 usage), and one-line
errors naming the file and JSON path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import commit_count, git, straw_executable

from repo_store import curation


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# --- the interface scripts rely on -----------------------------------------------------------

def test_init_demo_then_list(tmp_path, cli) -> None:
    result = cli("init", str(tmp_path / "r"), "--demo")
    assert result.exit_code == 0, result.output
    assert "case repository ready" in result.stdout
    listed = cli("list", repo=tmp_path / "r")
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) >= 130
    assert listed.stderr.strip().endswith("cases")


def test_add_prints_the_id_and_commits(case_repo, cli) -> None:
    before = commit_count(case_repo.root)
    result = cli("add", "--input", "Where is my card?", "--expected", "card_arrival",
                 "--tag", "cards", "--notes", "from ticket", repo=case_repo.root)
    assert result.exit_code == 0, result.output
    case_id = result.stdout.strip()
    assert (case_repo.root / f"cases/pending/{case_id}.json").is_file()
    assert commit_count(case_repo.root) == before + 1
    shown = cli("show", case_id, repo=case_repo.root)
    data = json.loads(shown.stdout)
    assert data["split"] == "pending" and data["tags"] == ["cards"] and data["notes"] == "from ticket"


def test_add_with_match_rules(case_repo, cli) -> None:
    one_of = cli("add", "--input", "pick", "--expected", "a|b", "--match", "one_of", repo=case_repo.root)
    as_json = cli("add", "--input", "obj", "--expected", '{"a": 1}', "--match", "json", repo=case_repo.root)
    assert one_of.exit_code == 0 and as_json.exit_code == 0
    found = {c["input"]: c for c in json.loads(cli("list", "--json", repo=case_repo.root).stdout)}
    assert found["pick"]["expected"] == ["a", "b"] and found["obj"]["expected"] == {"a": 1}
    bad = cli("add", "--input", "obj", "--expected", "{nope", "--match", "json", repo=case_repo.root)
    assert bad.exit_code == 2 and "--expected" in _one_line(bad.stderr)


def test_add_run_from_inside_the_repository(case_repo, cli) -> None:
    sub = case_repo.root / "cases" / "pending"
    result = cli("add", "--input", "from a subfolder", "--expected", "x", cwd=sub)
    assert result.exit_code == 0, result.output
    assert (case_repo.root / f"cases/pending/{result.stdout.strip()}.json").is_file()


def test_list_json_shape(demo_repo, cli) -> None:
    result = cli("list", "--json", repo=demo_repo.root)
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and rows
    for row in rows:
        assert {"id", "split", "input", "expected"} <= row.keys()
        assert row["split"] in ("baseline", "pending")
    assert {r["split"] for r in rows} == {"baseline", "pending"}


def test_list_filters(demo_repo, cli) -> None:
    rows = json.loads(cli("list", "--json", repo=demo_repo.root).stdout)
    pending = json.loads(cli("list", "--json", "--split", "pending", repo=demo_repo.root).stdout)
    assert pending and all(r["split"] == "pending" for r in pending)
    tag = next(t for r in rows for t in r.get("tags", []))
    tagged = json.loads(cli("list", "--json", "--tag", tag, repo=demo_repo.root).stdout)
    assert tagged and all(tag in r["tags"] for r in tagged)
    hebrew = json.loads(cli("list", "--json", "-s", "ש", repo=demo_repo.root).stdout)
    assert hebrew and len(hebrew) < len(rows)


def test_edit_rm_show(demo_repo, cli) -> None:
    case = demo_repo.load().split("pending")[0]
    edited = cli("edit", case.id, "--notes", "looked at it", "--tag", "seen", repo=demo_repo.root)
    assert edited.exit_code == 0, edited.output
    shown = json.loads(cli("show", case.id, repo=demo_repo.root).stdout)
    assert shown["notes"] == "looked at it" and shown["tags"] == ["seen"]
    removed = cli("rm", case.id, repo=demo_repo.root)
    assert removed.exit_code == 0 and not (demo_repo.root / case.path).exists()
    missing = cli("show", case.id, repo=demo_repo.root)
    assert missing.exit_code == 2 and case.id in _one_line(missing.stderr)
    restored = cli("restore", case.id, repo=demo_repo.root)  # the twin of the TUI's undo
    assert restored.exit_code == 0, restored.output
    back = json.loads(cli("show", case.id, repo=demo_repo.root).stdout)
    assert back["notes"] == "looked at it" and back["split"] == "pending"  # as it was when removed
    again = cli("restore", case.id, repo=demo_repo.root)
    assert again.exit_code != 0 and case.id in _one_line(again.stderr)  # it is there already
    never = cli("restore", "c-20200101-00000000", repo=demo_repo.root)
    assert never.exit_code == 2 and "nothing to restore" in _one_line(never.stderr)
    # a case removed because it was broken comes back as a clear error, not a crash
    broken = demo_repo.load().split("pending")[1]
    (demo_repo.root / broken.path).write_text("{not json", "utf-8")
    git(demo_repo.root, "commit", "-qam", "break it", "--no-verify")
    git(demo_repo.root, "rm", "-q", broken.path)
    git(demo_repo.root, "commit", "-qm", "drop it", "--no-verify")
    refused = cli("restore", broken.id, repo=demo_repo.root)
    assert refused.exit_code == 1 and "malformed JSON" in _one_line(refused.stderr)


def test_validate_ok(demo_repo, cli) -> None:
    result = cli("validate", repo=demo_repo.root)
    assert result.exit_code == 0 and result.stderr.startswith("ok:")


# --- bad input -------------------------------------------------------------------------------

def test_malformed_json_list_warns_validate_fails(demo_repo, cli) -> None:
    total = len(demo_repo.load().cases)
    (demo_repo.root / "cases/pending/broken.json").write_text("{not json", "utf-8")
    listed = cli("list", "--json", repo=demo_repo.root)
    assert listed.exit_code == 0
    assert len(json.loads(listed.stdout)) == total
    assert "cases/pending/broken.json::$: malformed JSON" in listed.stderr
    checked = cli("validate", repo=demo_repo.root)
    assert checked.exit_code == 1
    assert checked.stdout.startswith("cases/pending/broken.json::$: malformed JSON")


def test_schema_violation_on_add_is_one_line(case_repo, cli) -> None:
    result = cli("add", "--input", "x", "--expected", "two\nlines", repo=case_repo.root)
    assert result.exit_code == 1
    line = _one_line(result.stderr)
    assert line.startswith("straw: the new case (nothing written)::$.expected: ")
    assert result.stdout == ""
    assert commit_count(case_repo.root) == 1


def test_schema_violation_in_a_file_is_listed_by_validate(demo_repo, cli) -> None:
    case = demo_repo.load().split("pending")[0]
    path = demo_repo.root / case.path
    path.write_text(json.dumps({**case.data, "match": "fuzzy", "extra": 1}), "utf-8")
    result = cli("validate", repo=demo_repo.root)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{case.path}::$.match: 'fuzzy' is not one of" in result.stdout
    assert all(line.startswith(f"{case.path}::$") for line in lines)


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "x" * 300])
def test_unsafe_id_in_import(case_repo, cli, tmp_path, bad_id) -> None:
    source = tmp_path / "ids.jsonl"
    source.write_text(json.dumps({"id": bad_id, "input": "q", "expected": "a"}) + "\n")
    result = cli("import", str(source), repo=case_repo.root)
    assert result.exit_code == 1
    line = _one_line(result.stderr)
    assert line.startswith(f"straw: {source}:1::$.id: ") and len(line) < 300
    assert commit_count(case_repo.root) == 1
    assert not list(case_repo.root.rglob("x.json"))


def test_unsafe_id_on_show(demo_repo, cli) -> None:
    result = cli("show", "../straw", repo=demo_repo.root)
    assert result.exit_code == 2 and "path separator" in _one_line(result.stderr)


def test_duplicate_id_in_import_and_on_disk(demo_repo, cli, tmp_path) -> None:
    case = demo_repo.load().split("baseline")[0]
    source = tmp_path / "dup.jsonl"
    source.write_text(json.dumps({"id": case.id, "input": "brand new text", "expected": "benign"}) + "\n")
    result = cli("import", str(source), repo=demo_repo.root)
    assert result.exit_code == 1 and "duplicate id" in _one_line(result.stderr)
    pending = demo_repo.load().split("pending")[0]
    (demo_repo.root / "cases/baseline" / f"{pending.id}.json").write_bytes(
        (demo_repo.root / pending.path).read_bytes())
    checked = cli("validate", repo=demo_repo.root)
    assert checked.exit_code == 1 and "duplicate id" in checked.stdout


def test_contradictory_pair_validate_names_both(demo_repo, cli) -> None:
    base = demo_repo.load().split("baseline")[0]
    other = "benign" if base.expected != "benign" else "off_topic"
    refused = cli("add", "--input", base.text, "--expected", other, repo=demo_repo.root)
    assert refused.exit_code == 1 and f"contradicts {base.id}" in _one_line(refused.stderr)
    data = curation.new_case_data(demo_repo, input=base.text, expected=other, case_id="c-conflict")
    (demo_repo.root / "cases/pending/c-conflict.json").write_text(json.dumps(data), "utf-8")
    checked = cli("validate", repo=demo_repo.root)
    assert checked.exit_code == 1
    (line,) = [ln for ln in checked.stdout.splitlines() if "contradicts" in ln]
    assert line.startswith("cases/pending/c-conflict.json::$.expected: ") and base.id in line


def test_empty_input(case_repo, cli) -> None:
    for empty in ("", "   "):
        result = cli("add", "--input", empty, "--expected", "x", repo=case_repo.root)
        assert result.exit_code == 1 and "::$.input: " in _one_line(result.stderr)
    assert commit_count(case_repo.root) == 1


def test_one_megabyte_input_is_a_short_clear_error(case_repo, cli, tmp_path) -> None:
    source = tmp_path / "huge.jsonl"
    source.write_text(json.dumps({"input": "z" * 1_000_000, "expected": "x"}) + "\n")
    result = cli("import", str(source), repo=case_repo.root)
    assert result.exit_code == 1
    line = _one_line(result.stderr)
    assert line == f"straw: {source}:1::$.input: text of 1,000,000 characters is too long"
    # a 1 MB case file written by hand: validate says so in one short line
    data = curation.new_case_data(case_repo, input="q" * 1_000_000, expected="x", case_id="c-huge")
    (case_repo.root / "cases/pending/c-huge.json").write_text(json.dumps(data))
    checked = cli("validate", repo=case_repo.root)
    assert checked.exit_code == 1 and len(checked.stdout) < 300 and "too long" in checked.stdout


def test_non_utf8_file(demo_repo, cli, tmp_path) -> None:
    (demo_repo.root / "cases/pending/latin.json").write_bytes('{"input": "caf\xe9"}'.encode("latin-1"))
    checked = cli("validate", repo=demo_repo.root)
    assert checked.exit_code == 1 and "cases/pending/latin.json::$: not UTF-8" in checked.stdout
    assert cli("list", repo=demo_repo.root).exit_code == 0
    source = tmp_path / "latin.csv"
    source.write_bytes("input,expected\ncaf\xe9,x\n".encode("latin-1"))
    imported = cli("import", str(source), repo=demo_repo.root)
    assert imported.exit_code == 1 and "not UTF-8" in _one_line(imported.stderr)


def test_not_a_git_folder(tmp_path, cli) -> None:
    for command in (["list"], ["validate"], ["add", "--input", "x", "--expected", "y"]):
        result = cli(*command, repo=tmp_path)
        assert result.exit_code == 2
        assert _one_line(result.stderr) == (f"straw: {tmp_path}: not a git repository "
                                            f"(run `straw init` there first)")
    missing = cli("list", repo=tmp_path / "nope")
    assert missing.exit_code == 2 and "no such folder" in _one_line(missing.stderr)


def test_dirty_case_refused_for_edit(demo_repo, cli) -> None:
    case = demo_repo.load().split("pending")[0]
    path = demo_repo.root / case.path
    path.write_text(path.read_text("utf-8").replace('"match"', '"notes": "mine",\n  "match"'), "utf-8")
    local = path.read_text("utf-8")
    result = cli("edit", case.id, "--notes", "theirs", repo=demo_repo.root)
    assert result.exit_code == 2
    assert _one_line(result.stderr) == (f"straw: {case.path} has uncommitted changes: "
                                        f"commit or discard them first")
    assert path.read_text("utf-8") == local


def test_unknown_config_key_and_wrong_type(case_repo, cli) -> None:
    toml = case_repo.root / "straw.toml"
    toml.write_text('[train]\nepochs = 3\n')
    assert cli("list", repo=case_repo.root).exit_code == 0  # a typo stops only what reads it
    result = cli("validate", repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stdout.startswith("straw.toml::$.train: ") and "'epochs'" in result.stdout
    assert result.stderr == "straw: 1 problem in 1 file\n"
    toml.write_text('[batch]\nmax_size = "20"\n')
    result = cli("validate", repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stdout == "straw.toml::$.batch.max_size: '20' is not of type 'integer'\n"


def test_usage_errors_exit_2(case_repo, cli, tmp_path) -> None:
    assert cli("add", "--input", "x", repo=case_repo.root).exit_code == 2  # no --expected
    assert cli("import", str(tmp_path / "missing.jsonl"), repo=case_repo.root).exit_code == 2
    assert cli("list", "--split", "nowhere", repo=case_repo.root).exit_code == 2


# --- import / export -------------------------------------------------------------------------

def test_import_banking77(case_repo, cli, banking77) -> None:
    result = cli("import", str(banking77 / "cases.jsonl"), repo=case_repo.root)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("imported 210 pending cases")
    rows = json.loads(cli("list", "--json", repo=case_repo.root).stdout)
    assert len(rows) == 210 and {r["split"] for r in rows} == {"pending"}
    assert all(r["source"].startswith("banking77 ") and r["meta"]["group"] for r in rows)
    assert cli("validate", repo=case_repo.root).exit_code == 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_import_round_trip(demo_repo, make_case_repo, cli, tmp_path, fmt) -> None:
    curation.add_case(demo_repo, input=[{"role": "user", "content": "[bold]שלום[/]"}], expected="benign")
    curation.add_case(demo_repo, input='comma, "quote"\nnewline', expected=["a", "b"], match="one_of")
    out = tmp_path / f"all.{fmt}"
    exported = cli("export", "--format", fmt, "-o", str(out), repo=demo_repo.root)
    assert exported.exit_code == 0, exported.output
    target = make_case_repo("copy")
    imported = cli("import", str(out), repo=target.root)
    assert imported.exit_code == 0, imported.output
    before = {c.id: c.data for c in demo_repo.load().cases}
    after = {c.id: c.data for c in target.load().cases}
    assert after == before
    # stdout export is the same text as the file
    assert cli("export", "--format", fmt, repo=demo_repo.root).stdout == out.read_text("utf-8")


# --- true end to end: the installed script, other processes ----------------------------------

def test_installed_script_end_to_end(tmp_path, straw_bin) -> None:
    repo = tmp_path / "e2e"
    assert straw_bin("init", str(repo)).returncode == 0
    added = straw_bin("add", "--input", "hello", "--expected", "greeting", cwd=repo)
    assert added.returncode == 0 and added.stdout.strip().startswith("c-")
    bad = straw_bin("add", "--input", "hello", "--expected", "bye", cwd=repo)
    assert bad.returncode == 1 and "contradicts" in _one_line(bad.stderr)
    outside = straw_bin("list", cwd=tmp_path)
    assert outside.returncode == 2 and "not a git repository" in _one_line(outside.stderr)


def test_two_writers_at_once(case_repo) -> None:
    per_writer = 6
    env = os.environ.copy()
    script = ("import sys\nfrom straw.cli import main\n"
              f"for i in range({per_writer}):\n"
              "    try:\n"
              "        main(['add', '--input', f'writer {sys.argv[1]} case {i}', '--expected', 'x',"
              " '--repo', sys.argv[2]])\n"
              "    except SystemExit as e:\n"
              "        assert e.code == 0, e.code\n")
    python = str(Path(straw_executable()).parent / "python")
    procs = [subprocess.Popen([python, "-c", script, name, str(case_repo.root)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("A", "B")]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert len(out.split()) == per_writer
    ids = {line for out, _ in outputs for line in out.split()}
    assert len(ids) == 2 * per_writer
    assert commit_count(case_repo.root) == 1 + 2 * per_writer
    loaded = case_repo.load()
    assert loaded.issues == [] and {c.id for c in loaded.cases} == ids
    committed = {c.id for c in case_repo.load_ref("main").cases}
    assert committed == ids
    assert git(case_repo.root, "status", "--porcelain").stdout == ""
    assert git(case_repo.root, "fsck", "--no-dangling").returncode == 0


def test_sigint_during_import_leaves_all_or_nothing(demo_repo, tmp_path) -> None:
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps({"input": f"interrupted question {i}", "expected": "benign"})
                              + "\n" for i in range(3000)))
    before = commit_count(demo_repo.root)
    pending_before = sorted(p.name for p in (demo_repo.root / "cases/pending").iterdir())
    proc = subprocess.Popen([straw_executable(), "import", str(source), "--repo", str(demo_repo.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the import has started writing case files, then press Ctrl-C
    deadline = time.monotonic() + 30
    pending = demo_repo.root / "cases/pending"
    while time.monotonic() < deadline and len(list(pending.iterdir())) <= len(pending_before) + 50:
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    after = commit_count(demo_repo.root)
    pending_after = sorted(p.name for p in pending.iterdir())
    if after == before:  # interrupted in time: nothing of it is left
        assert proc.returncode == 130, err
        assert "interrupted" in err
        assert pending_after == pending_before
    else:  # the commit landed first: all of it is there
        assert after == before + 1
        assert len(pending_after) == len(pending_before) + 3000
    assert git(demo_repo.root, "status", "--porcelain", "--untracked-files=all").stdout == ""
    assert not list(demo_repo.root.rglob(".*.tmp"))
    assert not (demo_repo.root / ".git/index.lock").exists()


@pytest.mark.parametrize("command", [["add", "--input", "where is my refund", "--expected", "billing"],
                                     ["list"], ["log", "CASE"]])
def test_everyday_commands_do_not_import_gitpython(demo_repo, command: list[str]) -> None:
    # GitPython costs ~80 ms to import: the commands a person runs all day use the git CLI
    import sys

    case_id = demo_repo.load().split("pending")[0].id
    args = [case_id if a == "CASE" else a for a in command] + ["--repo", str(demo_repo.root)]
    code = ("import atexit, sys; atexit.register(lambda: print('loaded:', 'git' in sys.modules)); "
            f"from straw.cli import main; main({args!r})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("loaded: False")


def _editor(tmp_path: Path, steps: list[str]) -> str:
    """A real $EDITOR: a script that, on its Nth run, saves steps[N] over the file ("" quits
    without saving) and records what it was shown."""
    import sys

    script = tmp_path / "editor.py"
    script.write_text(
        "import json, pathlib, sys\n"
        f"state = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "runs = json.loads(state.read_text()) if state.exists() else []\n"
        "target = pathlib.Path(sys.argv[1])\n"
        "runs.append(target.read_text())\n"
        "state.write_text(json.dumps(runs))\n"
        f"steps = {steps!r}\n"
        "step = steps[len(runs) - 1]\n"
        "if step:\n"
        "    target.write_text(step)\n")
    return f"{sys.executable} {script}"


def test_editor_reopens_with_the_error_on_top_and_keeps_the_edit(demo_repo, cli, tmp_path,
                                                                 monkeypatch) -> None:
    case = demo_repo.load().split("pending")[0]
    bad = json.dumps({**case.data, "match": "fuzzy", "notes": "my careful note"}, indent=2)
    good = json.dumps({**case.data, "notes": "my careful note"}, indent=2)
    monkeypatch.setenv("EDITOR", _editor(tmp_path, [bad, "# straw: stale comment\n" + good]))
    result = cli("edit", case.id, repo=demo_repo.root)
    assert result.exit_code == 0, result.output
    runs = json.loads((tmp_path / "runs").read_text())
    assert len(runs) == 2
    assert runs[1].startswith(f"# straw: {case.path}::$.match: 'fuzzy' is not one of")
    assert "my careful note" in runs[1]  # reopened on the user's edit, not the original
    assert json.loads(cli("show", case.id, repo=demo_repo.root).stdout)["notes"] == "my careful note"


def test_editor_quit_after_an_error_keeps_the_draft(demo_repo, cli, tmp_path, monkeypatch) -> None:
    case = demo_repo.load().split("pending")[0]
    bad = json.dumps({**case.data, "match": "fuzzy", "notes": "keep me"}, indent=2)
    monkeypatch.setenv("EDITOR", _editor(tmp_path, [bad, ""]))
    result = cli("edit", case.id, repo=demo_repo.root)
    assert result.exit_code == 1
    draft = demo_repo.git_dir / f"straw-draft-{case.id}.json"
    assert f"your edit is kept at {draft}" in _one_line(result.stderr)
    assert "keep me" in draft.read_text()
    assert json.loads(cli("show", case.id, repo=demo_repo.root).stdout) == {
        "split": "pending", "path": case.path, **case.data}
