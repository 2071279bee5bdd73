"""Bad input, built as an attacker would with plain files and plain git: one hostile committed file
is one validation error for that file (exit 1 from validate) while the rest of the repository
still lists, exports and diffs; nothing is followed, nothing huge is read, nothing reaches the
terminal raw."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import commit_count, git, straw_executable

from repo_store import cases as case_files
from repo_store import curation
from repo_store.errors import ValidationFailed

CASE = {"match": "label", "created": "2026-01-01T00:00:00Z", "author": "mallory"}


def _raw_case(case_id: str, body: str) -> str:
    """A case file's text with `body` spliced in as raw JSON (what json.dumps would never write)."""
    head = json.dumps({"id": case_id, **CASE})[:-1]
    return f"{head}, {body}}}"


HOSTILE = {
    "surrogate": (_raw_case("surrogate", '"input": "\\ud800 x", "expected": "a"'), "lone surrogate"),
    "bigint": (_raw_case("bigint", '"input": "b", "expected": "a", "meta": {"n": ' + "9" * 5000 + "}"),
               "5,000 digits"),
    "deep": (_raw_case("deep", '"input": "c", "expected": "a", "meta": {"n": '
                       + "[" * 100_000 + "]" * 100_000 + "}"), "nested more than"),
    "nan": (_raw_case("nan", '"input": "d", "expected": "a", "meta": {"n": NaN}'), "NaN"),
    "dupkey": (_raw_case("dupkey", '"input": "e", "expected": "a", "expected": "b"'),
               "duplicate key 'expected'"),
}


def _commit_raw(root: Path, files: dict[str, str | bytes], branch: str | None = None) -> None:
    """Write files and commit them past the hooks, as someone with push access could."""
    if branch:
        git(root, "switch", "-q", branch)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "hostile files")
    if branch:
        git(root, "switch", "-q", "main")


def test_each_hostile_json_file_is_one_error_and_the_rest_still_works(demo_repo, cli) -> None:
    root = demo_repo.root
    total = len(demo_repo.load().cases)
    _commit_raw(root, {f"cases/pending/{name}.json": text for name, (text, _) in HOSTILE.items()})
    validated = cli("validate", repo=root)
    assert validated.exit_code == 1, validated.output
    for name, (_, reason) in HOSTILE.items():
        lines = [line for line in validated.stdout.splitlines() if f"cases/pending/{name}.json" in line]
        assert len(lines) == 1 and reason in lines[0], (name, validated.stdout)
    assert "internal error" not in validated.output
    listed = cli("list", "--json", repo=root)
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == total
    for fmt in ("csv", "jsonl"):
        exported = cli("export", "--format", fmt, repo=root)
        assert exported.exit_code == 0 and exported.stdout.count("\n") >= total
        assert exported.stderr.count("skipped") == len(HOSTILE)


def test_hostile_files_on_a_batch_branch_still_diff(demo_repo, cli) -> None:
    root = demo_repo.root
    created = cli("batch", "create", "--json", repo=root)
    assert created.exit_code == 0, created.output
    batch = json.loads(created.stdout)
    _commit_raw(root, {f"cases/baseline/{name}.json": text for name, (text, _) in HOSTILE.items()},
                branch=batch["branch"])
    diff = cli("batch", "diff", batch["id"], repo=root)
    assert diff.exit_code == 0, diff.output
    assert f"{len(batch['cases']) + len(HOSTILE)} added" in diff.stderr
    assert diff.stdout.count("unreadable case file") == len(HOSTILE)
    as_json = json.loads(cli("batch", "diff", batch["id"], "--json", repo=root).stdout)
    unreadable = [c for c in as_json if c["error"]]  # a field of its own, never posing as input
    assert {c["case_id"] for c in unreadable} == set(HOSTILE)
    assert all(c["case"] is None for c in unreadable)
    assert all(c["case"]["input"] for c in as_json if not c["error"] and c["kind"] != "foreign")
    body = cli("batch", "pr-body", batch["id"], repo=root).stdout
    assert body.count("(unreadable case file: ") == len(HOSTILE)
    loaded = demo_repo.load_ref(batch["branch"])  # the committed tree: each one an issue
    assert {i.path.rsplit("/", 1)[-1] for i in loaded.issues} == {f"{n}.json" for n in HOSTILE}


def test_symlinked_case_files_are_refused_not_followed(demo_repo, cli, straw_bin) -> None:
    root = demo_repo.root
    target = next((root / "cases/baseline").iterdir())
    pending = root / "cases/pending"
    (pending / "zero.json").symlink_to("/dev/zero")
    (pending / "alias.json").symlink_to(os.path.relpath(target, pending))
    os.mkfifo(pending / "fifo.json")  # reading a FIFO would block forever
    listed = straw_bin("list", cwd=root, timeout=60)  # following /dev/zero would never end
    assert listed.returncode == 0
    for name in ("zero", "alias"):
        assert f"cases/pending/{name}.json::$: is a symbolic link (refused, not followed)" in listed.stderr
    assert "cases/pending/fifo.json::$: is not a regular file" in listed.stderr
    validated = cli("validate", repo=root)
    assert validated.exit_code == 1 and validated.stdout.count("symbolic link") == 2
    shown = cli("show", "zero", repo=root)
    assert shown.exit_code == 1 and "symbolic link" in shown.stderr


def test_committed_symlink_and_huge_blob_are_refused_when_read_from_a_ref(demo_repo) -> None:
    root = demo_repo.root
    (root / "cases/pending/zero.json").symlink_to("/dev/zero")
    size = case_files.MAX_CASE_BYTES + 1
    (root / "cases/pending/huge.json").write_bytes(b" " * size)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "symlink and a huge file")
    loaded = demo_repo.load_ref("main")
    assert sorted(str(i) for i in loaded.issues) == [
        f"cases/pending/huge.json::$: is {size:,} bytes (at most {case_files.MAX_CASE_BYTES:,}; "
        f"refused, not read)",
        "cases/pending/zero.json::$: is a symbolic link (refused, not followed)"]
    assert len(loaded.cases) == len(demo_repo.load_ref("main~1").cases)


def test_a_huge_case_file_is_refused_before_it_is_read(demo_repo, cli) -> None:
    root = demo_repo.root
    huge = root / "cases/pending/huge.json"
    with open(huge, "wb") as fh:  # 200 MB, sparse: costs no disk, would cost 200 MB of memory
        fh.truncate(200 * 1024 * 1024)
    validated = cli("validate", repo=root)
    assert validated.exit_code == 1
    (line,) = [x for x in validated.stdout.splitlines() if "huge.json" in x]
    assert "209,715,200 bytes" in line and "refused, not read" in line
    assert case_files.MAX_CASE_BYTES < 200 * 1024 * 1024
    listed = cli("list", repo=root)
    assert listed.exit_code == 0 and "huge.json" in listed.stderr


@pytest.mark.parametrize("value", ["\x1b]0;owned\x07", "\x1b[2J", "\x9b31m", "\x07\x00"])
def test_terminal_escapes_never_reach_the_terminal_raw(demo_repo, cli, value) -> None:
    root = demo_repo.root
    added = cli("add", "--input", f"hello {value} world", "--expected", "card_arrival",
                "--tag", f"t{value}", repo=root)
    assert added.exit_code == 0, added.output
    case_id = added.stdout.strip()
    git(root, "commit", "-q", "--allow-empty", "--no-verify", "-m",
        f"subject {value} here".replace("\x00", ""))  # git itself refuses NUL in a message
    outputs = {
        "list": cli("list", repo=root),
        "list --json": cli("list", "--json", repo=root),
        "show": cli("show", case_id, repo=root),
        "log CASE": cli("log", case_id, repo=root),
        "export jsonl": cli("export", repo=root),
    }
    controls = [ch for ch in value if ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F]
    for name, result in outputs.items():
        assert result.exit_code == 0, (name, result.output)
        assert not any(ch in result.output for ch in controls), name
    assert "\\u001b" in outputs["list"].stdout or "\\u009b" in outputs["list"].stdout \
        or "\\u0007" in outputs["list"].stdout
    json.loads(outputs["list --json"].stdout)  # escaped, still valid JSON


def test_add_with_bytes_that_are_not_utf8_is_a_usage_error(case_repo, straw_bin) -> None:
    for args, option in ((["--input", b"\xff".decode("utf-8", "surrogateescape"), "--expected", "x"],
                          "--input"),
                         (["--input", "ok", "--expected", "x", "--tag", "\udcfe"], "--tag")):
        result = subprocess.run([straw_executable(), "add", *args], cwd=case_repo.root,
                                capture_output=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stderr.decode().strip().startswith(f"straw: {option}: not valid UTF-8 text")
    assert not list((case_repo.root / "cases/pending").glob("*.json"))


def test_store_refuses_text_that_cannot_be_written(case_repo) -> None:
    with pytest.raises(ValidationFailed, match="not valid UTF-8"):
        curation.add_case(case_repo, input="a \udcff b", expected="x")


# --- regex match rules ---------------------------------------------------------------------------

def test_invalid_regex_is_refused_at_add_edit_import_and_validate(demo_repo, cli, tmp_path) -> None:
    root = demo_repo.root
    added = cli("add", "--input", "x", "--expected", "(unclosed", "--match", "regex", repo=root)
    assert added.exit_code == 2
    assert added.stderr.strip() == ("straw: --expected: not a valid regular expression: "
                                    "missing ) at position 9")
    good = cli("add", "--input", "order 12", "--expected", r"^order \d+$", "--match", "regex", repo=root)
    assert good.exit_code == 0, good.output
    case_id = good.stdout.strip()
    edited = cli("edit", case_id, "--expected", "[a-", repo=root)
    assert edited.exit_code == 2 and "not a valid regular expression" in edited.stderr
    with pytest.raises(ValidationFailed, match=r"\$\.expected: not a valid regular expression"):
        curation.edit_case(demo_repo, case_id, {"expected": "a{2,1}"})
    assert json.loads(cli("show", case_id, repo=root).stdout)["expected"] == r"^order \d+$"
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps({"input": "a", "expected": "ok", "match": "regex"}) + "\n"
                     + json.dumps({"input": "b", "expected": "(?<", "match": "regex"}) + "\n")
    imported = cli("import", str(lines), repo=root)
    assert imported.exit_code == 1
    assert f"{lines}:2::$.expected: not a valid regular expression" in imported.stderr
    _commit_raw(root, {"cases/pending/bad-re.json": json.dumps(
        {"id": "bad-re", "input": "z", "expected": "*", **{**CASE, "match": "regex"}})})
    validated = cli("validate", repo=root)
    assert validated.exit_code == 1
    assert validated.stdout.startswith("cases/pending/bad-re.json::$.expected: not a valid regular")


def test_a_backtracking_regex_cannot_hang_matching() -> None:
    from repo_store import matching

    assert matching.pattern_issue("^(a|aa)+$") is None  # compiles (and the regex import is paid)
    started = time.monotonic()
    assert matching.passes("regex", "^(a|aa)+$", "a" * 60 + "b") is False  # 2^60 paths on `re`
    # not a speed target: without the timeout this would run for years; the margin is for load
    assert time.monotonic() - started < matching.MATCH_TIMEOUT_S + 20
    assert matching.passes("regex", r"^order \d+$", "order 12") is True
    assert matching.passes("regex", "(", "(") is False  # never raises


def test_an_unknown_label_warns_naming_the_known_ones(demo_repo, cli) -> None:
    added = cli("add", "--input", "my card never came", "--expected", "bilLing_", repo=demo_repo.root)
    assert added.exit_code == 0
    assert "label 'bilLing_' is new" in added.stderr and "did you mean billing" in added.stderr
    assert "known labels: " in added.stderr
    known = cli("add", "--input", "card still not here", "--expected", "billing", repo=demo_repo.root)
    assert known.exit_code == 0 and "warning" not in known.stderr


# --- CSV -----------------------------------------------------------------------------------------

def test_csv_duplicate_header_and_extra_fields_name_the_line(case_repo, cli, tmp_path) -> None:
    dup = tmp_path / "dup.csv"
    dup.write_text("input,expected,expected\nhello,a,b\n")
    result = cli("import", str(dup), repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"straw: {dup}:1::$: column 'expected' appears more than once "
                                     f"in the header")
    extra = tmp_path / "extra.csv"
    extra.write_text('input,expected\nfine,a\n"two\nlines",b\nhello,a,surprise\n')
    result = cli("import", str(extra), repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"straw: {extra}:5::$: 3 fields, the header has 2"
    assert not list((case_repo.root / "cases/pending").glob("*.json"))  # nothing half imported


def test_csv_round_trip_keeps_crlf_in_a_field_and_guards_formulas(case_repo, cli, tmp_path) -> None:
    texts = ["line one\r\nline two", "=HYPERLINK(\"http://x.invalid\")", "+1+1", "-5 degrees",
             "@SUM(A1)", "'=already quoted", "''", "'plain apostrophe", "\ttab first"]
    for i, text in enumerate(texts):
        curation.add_case(case_repo, input=text, expected=f"label{i}", notes=text)
    out = tmp_path / "out.csv"
    assert cli("export", "--format", "csv", "-o", str(out), repo=case_repo.root).exit_code == 0
    import csv

    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # what a spreadsheet would see: no cell starts a formula
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert {r["input"] for r in rows} >= {"'=HYPERLINK(\"http://x.invalid\")", "'-5 degrees",
                                          "''=already quoted", "'''", "'plain apostrophe"}
    other = cli("init", str(tmp_path / "other"))
    assert other.exit_code == 0
    assert cli("import", str(out), repo=tmp_path / "other").exit_code == 0
    back = {c["id"]: c for c in json.loads(cli("list", "--json", repo=tmp_path / "other").stdout)}
    mine = {c["id"]: c for c in json.loads(cli("list", "--json", repo=case_repo.root).stdout)}
    assert back == mine
    assert sorted(c["input"] for c in back.values()) == sorted(texts)


def test_files_written_with_o_get_normal_permissions(demo_repo, cli, tmp_path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "cases.jsonl"
        assert cli("export", "-o", str(out), repo=demo_repo.root).exit_code == 0
        assert oct(out.stat().st_mode & 0o777) == "0o644"
        out.chmod(0o640)  # a file that exists keeps the mode its owner gave it
        assert cli("export", "-o", str(out), repo=demo_repo.root).exit_code == 0
        assert oct(out.stat().st_mode & 0o777) == "0o640"
    finally:
        os.umask(old)


# --- imports: size, ids, interruption, disk full -------------------------------------------------

def _lines(path: Path, count: int, prefix: str) -> Path:
    path.write_text("".join(json.dumps({"input": f"{prefix} question {i}", "expected": "benign"}) + "\n"
                            for i in range(count)))
    return path


@pytest.mark.slow
def test_import_of_50000_lines(case_repo, cli, tmp_path) -> None:
    source = _lines(tmp_path / "big.jsonl", 50_000, "bulk")
    result = cli("import", str(source), repo=case_repo.root)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"imported 50000 pending cases from {source}"
    assert len(case_repo.load_ref("main").cases) == 50_000
    assert git(case_repo.root, "status", "--porcelain", "--untracked-files=all").stdout == ""


def test_ids_do_not_collide_and_a_collision_names_both(case_repo, cli, tmp_path) -> None:
    from repo_store.ids import new_case_id

    ids = {new_case_id() for _ in range(100_000)}
    assert len(ids) == 100_000 and all(len(i) == 27 for i in ids)
    twice = tmp_path / "twice.jsonl"
    twice.write_text(json.dumps({"id": "same", "input": "a", "expected": "x"}) + "\n"
                     + json.dumps({"id": "other", "input": "b", "expected": "x"}) + "\n"
                     + json.dumps({"id": "same", "input": "c", "expected": "x"}) + "\n")
    result = cli("import", str(twice), repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"straw: {twice}:3::$.id: duplicate id 'same': also {twice}:1"
    once = tmp_path / "once.jsonl"
    once.write_text(json.dumps({"id": "same", "input": "a", "expected": "x"}) + "\n")
    assert cli("import", str(once), repo=case_repo.root).exit_code == 0
    again = tmp_path / "again.jsonl"
    again.write_text("\n" + json.dumps({"id": "same", "input": "new text", "expected": "x"}) + "\n")
    result = cli("import", str(again), repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"straw: {again}:2::$.id: duplicate id: also "
                                     f"cases/pending/same.json")


def _wait_for(condition, proc: subprocess.Popen, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)


@pytest.mark.parametrize("when", ["early", "commit-written", "main-moved", "late"])
def test_sigkill_during_import_leaves_no_untracked_files_nor_index_lock(demo_repo, tmp_path,
                                                                        when) -> None:
    root = demo_repo.root
    source = _lines(tmp_path / "killed.jsonl", 3000, f"killed {when}")
    before = commit_count(root)
    main_before = git(root, "rev-parse", "main").stdout
    marker = root / ".git" / curation.UNFINISHED
    proc = subprocess.Popen([straw_executable(), "import", str(source), "--repo", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    if when == "early":
        time.sleep(0.3)
    elif when == "commit-written":  # fast-import done, main not moved yet
        _wait_for(marker.exists, proc)
    elif when == "main-moved":  # main moved, git busy checking 3000 files out
        _wait_for(lambda: (root / ".git/refs/heads/main").read_text() != main_before, proc)
    else:
        time.sleep(2.5)
    os.killpg(proc.pid, signal.SIGKILL)  # straw and the git it runs, at once
    proc.communicate(timeout=60)
    after = commit_count(root)
    assert after in (before, before + 1)
    unfinished = marker.exists() and after == before + 1
    listed = subprocess.run([straw_executable(), "list", "--repo", str(root)], capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert ("finished an interrupted write of 3000 case file(s)" in listed.stderr) == unfinished
    assert not marker.exists() and not (root / ".git/index.lock").exists()
    assert git(root, "status", "--porcelain", "--untracked-files=all").stdout == ""
    pending = {c.id for c in demo_repo.load().split("pending")}
    committed = {c.id for c in demo_repo.load_ref("main").split("pending")}
    assert pending == committed  # the work tree is main
    assert len(committed) - len(demo_repo.load_ref("main~1" if after > before else "main")
                                .split("pending")) in (0, 3000)


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (needs root and mount; skipped where neither is allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_disk_full_during_import_is_a_clear_message_and_writes_nothing(small_disk, cli, tmp_path) -> None:
    root = small_disk / "repo"
    assert cli("init", str(root)).exit_code == 0
    source = tmp_path / "full.jsonl"
    source.write_text("".join(json.dumps({"input": os.urandom(1000).hex(), "expected": "x"}) + "\n"
                              for _ in range(3000)))  # 6 MB of text that does not compress
    free_before = os.statvfs(small_disk).f_bavail
    result = cli("import", str(source), repo=root)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("straw: git fast-import:") and "Out of diskspace" in line
    assert line.endswith("nothing was written")
    assert commit_count(root) == 1
    assert git(root, "status", "--porcelain", "--untracked-files=all").stdout == ""
    assert os.statvfs(small_disk).f_bavail >= free_before - 8  # the partial pack is gone
    assert not list((root / ".git").glob("fast_import_crash_*"))
    added = cli("add", "--input", "still works", "--expected", "x", repo=root)
    assert added.exit_code == 0, added.output


@pytest.fixture
def read_only_repo(demo_repo, tmp_path):
    """The demo repository seen through a read-only bind mount (root ignores file modes; a
    read-only mount stops root too). Skipped where mounting is not allowed."""
    view = tmp_path / "read-only"
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(demo_repo.root), str(view)], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)


def test_a_read_only_repository_reads_and_refuses_writes_with_a_message(read_only_repo, cli,
                                                                       tmp_path) -> None:
    root = read_only_repo
    case_id = next((root / "cases/pending").iterdir()).name.removesuffix(".json")
    source = _lines(tmp_path / "one.jsonl", 1, "read-only")
    for args in (["add", "--input", "hi", "--expected", "benign"], ["edit", case_id, "--notes", "n"],
                 ["rm", case_id], ["import", str(source)], ["batch", "create", "--all"]):
        result = cli(*args, repo=root)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip().endswith("(Read-only file system); changing the repository "
                                              "needs write access to it"), args
    for args in (["list"], ["validate"], ["export"], ["show", case_id]):
        assert cli(*args, repo=root).exit_code == 0, args
    exported = cli("export", "-o", str(root / "out.jsonl"), repo=root)
    assert exported.exit_code == 1 and "Read-only file system" in exported.stderr
    assert "internal error" not in exported.stderr


def test_config_nan_and_a_directory_for_straw_toml(case_repo, cli) -> None:
    config = case_repo.root / "straw.toml"
    config.write_text("[gate]\nbaseline_threshold = nan\n")
    result = cli("validate", repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stdout.strip() == ("straw.toml::$.gate.baseline_threshold: nan is not a "
                                     "number straw can compare")
    config.unlink()
    config.mkdir()
    result = cli("validate", repo=case_repo.root)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"straw: {config}: cannot be read (Is a directory)"


def test_terminal_escapes_are_escaped_in_batch_show_diff_and_pr_body(demo_repo, cli) -> None:
    root = demo_repo.root
    added = cli("add", "--input", "clear \x1b[2J title \x1b]0;x\x07 c1 \x9b1m", "--expected", "benign",
                "--tag", "t\x1b[31m", repo=root)
    case_id = added.stdout.strip()
    created = cli("batch", "create", "--cases", case_id, "--allow-small", "--json",
                  "--title", "t \x1b[2J", repo=root)
    assert created.exit_code == 0, created.output
    batch_id = json.loads(created.stdout)["id"]
    for args in (["batch", "show", batch_id], ["batch", "diff", batch_id], ["batch", "pr-body", batch_id],
                 ["batch", "list"], ["log", case_id]):
        result = cli(*args, repo=root)
        assert result.exit_code == 0, (args, result.output)
        raw = [ch for ch in result.output if (ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F]
        assert raw == [], args
    assert "\\u001b[2J" in cli("batch", "diff", batch_id, repo=root).stdout


def test_a_hostile_batch_manifest_is_an_error_naming_it(demo_repo, cli) -> None:
    root = demo_repo.root
    created = json.loads(cli("batch", "create", "--json", repo=root).stdout)
    manifest = f"batches/{created['id']}.json"
    _commit_raw(root, {manifest: '{"id": "x", "n": ' + "9" * 5000 + "}"}, branch=created["branch"])
    for args in (["batch", "show", created["id"]], ["gate", created["id"]]):
        result = cli(*args, repo=root)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip() == (f"straw: {created['branch']}:{manifest}::$: an integer of "
                                         f"5,000 digits (at most 100)")


def test_hostile_json_inside_an_imported_line_or_csv_cell_names_it(case_repo, cli, tmp_path) -> None:
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"input": "a", "expected": "x"}\n{"input": "b", "expected": "x", "n": '
                     + "9" * 5000 + "}\n")
    result = cli("import", str(lines), repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"straw: {lines}:2::$: an integer of 5,000 digits (at most 100)"
    table = tmp_path / "in.csv"
    table.write_text('input,expected,meta_json\nhello,x,"{""a"": NaN}"\n')
    result = cli("import", str(table), repo=case_repo.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"straw: {table}:2::$.meta_json: NaN is not a JSON value"
    assert not list((case_repo.root / "cases/pending").glob("*.json"))
