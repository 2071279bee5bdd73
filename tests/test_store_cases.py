"""repo_store on real git repositories: loading, writing, ids, cross-case checks, config, and what
bad input gets (SPEC §6). The CLI face of the same is in test_cli_cases.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import commit_count, git

from repo_store import cases, config, curation, gitio, io_formats, schemas, validation
from repo_store.errors import GitError, NoSuchCase, NotARepository, UsageError, ValidationFailed
from repo_store.ids import SAFE_ID, is_safe_id, new_case_id
from repo_store.repo import open_case_repo

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def _pending_files(repo) -> set[str]:
    return {p.name for p in (repo.root / "cases" / "pending").iterdir()}


def _stray(repo) -> list[str]:
    """Leftovers an interrupted write could leave: temp files, git locks, temp indexes."""
    root = Path(repo.root)
    found = [str(p) for p in root.rglob(".*.tmp")]
    found += [str(p) for p in Path(repo.git_dir).glob("*.lock") if p.name != "straw.lock"]
    found += [str(p) for p in Path(repo.git_dir).glob("straw-index-*")]
    return found


# --- schemas ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_schema_is_valid_2020_12(path: Path) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_fast_and_precise_validators_agree_on_the_demo_cases(demo_repo) -> None:
    loaded = demo_repo.load()
    assert not loaded.issues
    for case in loaded.cases[:20]:
        assert schemas.schema_issues("case", case.data, case.path) == []
        bad = {**case.data, "match": "nope"}
        (issue, *_) = schemas.schema_issues("case", bad, case.path)
        assert issue.pointer == "$.match"


def test_safe_id_pattern_is_the_schemas() -> None:
    schema = schemas.load_schema("case")
    assert schema["properties"]["id"]["pattern"] == SAFE_ID.pattern


# --- loading ---------------------------------------------------------------------------------

def test_demo_repo_loads_clean(demo_repo) -> None:
    loaded = demo_repo.load()
    assert loaded.issues == []
    assert len(loaded.split("baseline")) >= 90 and len(loaded.split("pending")) >= 30
    assert validation.validate_repo(demo_repo) == []


def test_malformed_json_among_good_files_the_rest_still_load(demo_repo) -> None:
    before = len(demo_repo.load().cases)
    (demo_repo.root / "cases/pending/broken.json").write_text('{"id": "broken", "input": ', "utf-8")
    loaded = demo_repo.load()
    assert len(loaded.cases) == before
    (issue,) = loaded.issues
    assert issue.path == "cases/pending/broken.json" and issue.pointer == "$"
    assert issue.message.startswith("malformed JSON")


def test_schema_violation_names_path_pointer_reason(demo_repo) -> None:
    victim = demo_repo.load().split("pending")[0]
    data = {**victim.data, "expected": ["not", "a", "label"]}
    (demo_repo.root / victim.path).write_text(json.dumps(data), "utf-8")
    (issue,) = [i for i in demo_repo.load().issues]
    assert str(issue) == f"{victim.path}::$.expected: ['not', 'a', 'label'] is not of type 'string'"


def test_non_utf8_file_is_an_issue_not_a_crash(demo_repo) -> None:
    (demo_repo.root / "cases/pending/latin1.json").write_bytes(
        '{"id": "latin1", "input": "caf\xe9"}'.encode("latin-1"))
    loaded = demo_repo.load()
    (issue,) = loaded.issues
    assert issue.path == "cases/pending/latin1.json" and "not UTF-8" in issue.message


def test_file_name_must_match_id(case_repo) -> None:
    case = curation.add_case(case_repo, input="hello", expected="greeting")
    shutil.copy(case_repo.root / case.path, case_repo.root / "cases/pending/other-name.json")
    issues = case_repo.load().issues
    assert [(i.path, i.pointer) for i in issues] == [("cases/pending/other-name.json", "$.id")]


def test_load_ref_reads_committed_cases_without_checkout(demo_repo) -> None:
    committed = demo_repo.load_ref("main")
    assert {c.id for c in committed.cases} == {c.id for c in demo_repo.load().cases}


def test_load_ref_caches_checked_blobs_and_still_checks_every_file(demo_repo) -> None:
    first = demo_repo.load_ref("main")
    (cache_file,) = cases.cache_dir(demo_repo.root).glob("blob-cases-*.marshal")
    cached = cases.BlobCache(demo_repo.root)
    assert len(cached.old) == len({c.id for c in first.cases})  # one entry per distinct blob
    # committed straight through git: a schema fault and a valid case under the wrong name
    good = first.split("pending")[0]
    bad = first.split("pending")[1]
    (demo_repo.root / bad.path).write_text(json.dumps({**bad.data, "match": "fuzzy"}), "utf-8")
    shutil.copy(demo_repo.root / good.path, demo_repo.root / "cases/pending/renamed.json")
    git(demo_repo.root, "add", "cases")
    git(demo_repo.root, "commit", "-qm", "hand edit", "--no-verify")
    issues = {(i.path, i.pointer) for i in demo_repo.load_ref("main").issues}
    assert issues == {(bad.path, "$.match"), ("cases/pending/renamed.json", "$.id")}
    cache_file.write_bytes(b"garbage")  # a broken cache is only a slower load
    assert len(demo_repo.load_ref("main").issues) == 2
    assert git(demo_repo.root, "status", "--porcelain", "--", ".straw").stdout == ""


def test_caches_live_in_the_git_directory_where_no_commit_can_put_one(demo_repo) -> None:
    # a cache in the work tree could arrive with `git pull` and vouch for files it never saw
    demo_repo.load()
    demo_repo.load_ref("main")
    cache = cases.cache_dir(demo_repo.root)
    assert cache == demo_repo.root / ".git" / "straw" / "cache"
    assert {p.name.split("-")[0] for p in cache.iterdir()} >= {"valid", "blob"}
    assert not (demo_repo.root / ".straw" / "cache").exists()
    # a linked worktree keeps its own, in its own git directory
    git(demo_repo.root, "worktree", "add", "-q", str(demo_repo.root.parent / "wt"), "-b", "wt")
    linked = cases.cache_dir(demo_repo.root.parent / "wt")
    assert linked.parent.parent.parent == demo_repo.root / ".git" / "worktrees"


def test_read_blobs_names_a_missing_object(demo_repo) -> None:
    from repo_store import gitio

    files = gitio.ls_tree(demo_repo.git, "main", "cases")
    shas = list(files.values())[:3]
    assert gitio.read_blobs(demo_repo.git, shas) == {s: gitio.read_blob(demo_repo.git, s) for s in shas}
    with pytest.raises(GitError, match="0{40} is missing"):
        gitio.read_blobs(demo_repo.git, [shas[0], "0" * 40])


# --- writing ---------------------------------------------------------------------------------

def test_add_case_writes_validated_file_and_commits(case_repo) -> None:
    before = commit_count(case_repo.root)
    case = curation.add_case(case_repo, input="שלום, איפה הכרטיס שלי?", expected="card_arrival",
                             tags=["hebrew", "hebrew"], source="ticket #12", notes="[bold]x[/]")
    assert case.split == "pending" and is_safe_id(case.id)
    on_disk = json.loads((case_repo.root / case.path).read_text("utf-8"))
    assert on_disk == case.data and on_disk["tags"] == ["hebrew"]
    assert on_disk["author"] == "Test Author <author@example.com>"
    assert commit_count(case_repo.root) == before + 1
    log = git(case_repo.root, "log", "-1", "--format=%an <%ae>|%s").stdout.strip()
    assert log.startswith("Test Author <author@example.com>|Add pending case " + case.id)
    assert gitio.dirty_paths(case_repo.root) == []


def test_invalid_case_touches_nothing(case_repo) -> None:
    before = commit_count(case_repo.root)
    with pytest.raises(ValidationFailed) as err:
        curation.add_case(case_repo, input="x", expected="two\nlines")
    assert "$.expected" in str(err.value)
    assert commit_count(case_repo.root) == before
    assert _pending_files(case_repo) == {".gitkeep"}


def test_new_ids_are_unique_and_safe() -> None:
    ids = {new_case_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(is_safe_id(i) for i in ids)


@pytest.mark.parametrize("bad_id, reason", [
    ("../x", "path separator"),
    ("a/b", "path separator"),
    ("..", "'..'"),
    ("x" * 300, "300 characters"),
    (".hidden", "not a safe file name"),
])
def test_unsafe_ids_are_refused(case_repo, bad_id: str, reason: str) -> None:
    data = curation.new_case_data(case_repo, input="q", expected="a", case_id=bad_id)
    with pytest.raises(ValidationFailed) as err:
        curation.add_cases(case_repo, [data], "x")
    assert err.value.issues[0].pointer == "$.id" and reason in str(err.value)
    assert _pending_files(case_repo) == {".gitkeep"}
    assert not (case_repo.root / "x").exists() and not (case_repo.root / "cases" / "x.json").exists()
    with pytest.raises(UsageError):
        curation.get_case(case_repo, bad_id)


def test_duplicate_id_is_refused(demo_repo) -> None:
    existing = demo_repo.load().split("baseline")[0]
    data = curation.new_case_data(demo_repo, input="a brand new input", expected="benign",
                                  case_id=existing.id)
    with pytest.raises(ValidationFailed) as err:
        curation.add_cases(demo_repo, [data], "dup")
    assert "duplicate id" in str(err.value)


def test_duplicate_id_on_disk_is_found_by_validate(demo_repo) -> None:
    case = demo_repo.load().split("pending")[0]
    shutil.copy(demo_repo.root / case.path, demo_repo.root / "cases/baseline" / f"{case.id}.json")
    issues = validation.validate_repo(demo_repo)
    assert any(i.pointer == "$.id" and "duplicate id" in i.message for i in issues)
    named = " ".join(str(i) for i in issues)
    assert f"cases/baseline/{case.id}.json" in named and f"cases/pending/{case.id}.json" in named


def test_contradictory_pair_is_refused_on_add_and_named_by_validate(demo_repo) -> None:
    base = demo_repo.load().split("baseline")[0]
    other_label = "benign" if base.expected != "benign" else "off_topic"
    # the same input up to case and spacing
    shouted = "  " + base.text.upper() + " "
    with pytest.raises(ValidationFailed) as err:
        curation.add_case(demo_repo, input=shouted, expected=other_label)
    assert f"contradicts {base.id}" in str(err.value)
    # written behind straw's back: validate names both
    data = curation.new_case_data(demo_repo, input=base.text, expected=other_label)
    (demo_repo.root / cases.case_path("pending", data["id"])).write_bytes(cases.serialize(data))
    issues = validation.validate_repo(demo_repo)
    (issue,) = [i for i in issues if "contradicts" in i.message]
    assert base.id in issue.message and data["id"] in issue.path


def test_empty_input_is_refused(case_repo) -> None:
    for empty in ("", "   \n\t"):
        with pytest.raises(ValidationFailed) as err:
            curation.add_case(case_repo, input=empty, expected="x")
        assert err.value.issues[0].pointer == "$.input"
    with pytest.raises(ValidationFailed):
        curation.add_case(case_repo, input=[], expected="x")


def test_one_megabyte_input_gets_a_short_message(case_repo) -> None:
    with pytest.raises(ValidationFailed) as err:
        curation.add_case(case_repo, input="a" * 1_000_000, expected="x")
    message = str(err.value)
    assert "$.input" in message and "too long" in message and len(message) < 300
    assert _pending_files(case_repo) == {".gitkeep"}


def test_edit_and_remove_pending_case(demo_repo) -> None:
    case = demo_repo.load().split("pending")[0]
    edited = curation.edit_case(demo_repo, case.id, {"notes": "checked", "tags": ["x"]})
    assert edited.data["notes"] == "checked"
    assert json.loads((demo_repo.root / case.path).read_text("utf-8"))["tags"] == ["x"]
    with pytest.raises(UsageError):
        curation.edit_case(demo_repo, case.id, {"id": "renamed"})
    with pytest.raises(ValidationFailed):
        curation.edit_case(demo_repo, case.id, {"match": "bogus"})
    assert json.loads((demo_repo.root / case.path).read_text("utf-8"))["notes"] == "checked"
    curation.remove_case(demo_repo, case.id)
    assert not (demo_repo.root / case.path).exists()
    assert gitio.dirty_paths(demo_repo.root) == []
    with pytest.raises(NoSuchCase):
        curation.get_case(demo_repo, case.id)


def test_baseline_cases_are_not_curated_directly(demo_repo) -> None:
    case = demo_repo.load().split("baseline")[0]
    with pytest.raises(UsageError, match="batch"):
        curation.edit_case(demo_repo, case.id, {"notes": "x"})
    with pytest.raises(UsageError, match="batch"):
        curation.remove_case(demo_repo, case.id)


def test_dirty_case_is_not_edited_or_removed(demo_repo) -> None:
    case = demo_repo.load().split("pending")[0]
    path = demo_repo.root / case.path
    local = path.read_text("utf-8").replace('"match"', '"notes": "my local edit",\n  "match"')
    path.write_text(local, "utf-8")
    with pytest.raises(UsageError, match="uncommitted changes"):
        curation.edit_case(demo_repo, case.id, {"notes": "theirs"})
    with pytest.raises(UsageError, match="uncommitted changes"):
        curation.remove_case(demo_repo, case.id)
    assert path.read_text("utf-8") == local  # the local edit is not lost


def test_writes_need_main_checked_out(demo_repo) -> None:
    git(demo_repo.root, "switch", "-q", "-c", "elsewhere")
    with pytest.raises(UsageError, match="check out main"):
        curation.add_case(demo_repo, input="x", expected="y")


def test_failed_commit_leaves_nothing_behind(case_repo) -> None:
    before = commit_count(case_repo.root)
    lock = case_repo.root / ".git/refs/heads/main.lock"  # git itself refuses to move main
    lock.write_text("")
    with pytest.raises(GitError, match="update-ref"):
        curation.add_case(case_repo, input="x", expected="y")
    lock.unlink()
    assert commit_count(case_repo.root) == before
    assert _pending_files(case_repo) == {".gitkeep"}
    assert gitio.dirty_paths(case_repo.root) == []
    assert curation.finish_interrupted_write(case_repo) is None  # the marker is simply dropped
    assert gitio.rev(case_repo.root, curation.UNFINISHED) is None


def test_failed_commit_restores_edited_and_removed_case(demo_repo, monkeypatch) -> None:
    case = demo_repo.load().split("pending")[0]
    original = (demo_repo.root / case.path).read_bytes()

    def broken(*_a, **_k):
        raise GitError("git commit: simulated failure")

    monkeypatch.setattr(gitio, "commit_paths", broken)
    with pytest.raises(GitError):
        curation.edit_case(demo_repo, case.id, {"notes": "x"})
    assert (demo_repo.root / case.path).read_bytes() == original
    with pytest.raises(GitError):
        curation.remove_case(demo_repo, case.id)
    assert (demo_repo.root / case.path).read_bytes() == original
    assert gitio.dirty_paths(demo_repo.root) == []


# --- import / export -------------------------------------------------------------------------

def test_ctrl_c_during_import_leaves_no_half_import(demo_repo, tmp_path) -> None:
    """A Ctrl-C anywhere before main moves leaves nothing; the same import then goes through."""
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps({"input": f"question number {i}", "expected": "benign"}) + "\n"
                              for i in range(200)), "utf-8")
    before_commits = commit_count(demo_repo.root)
    before_files = _pending_files(demo_repo)
    lock = demo_repo.root / ".git/refs/heads/main.lock"
    lock.write_text("")  # main cannot move: the import fails at the last step, as a Ctrl-C would
    with pytest.raises(GitError):
        io_formats.import_file(demo_repo, source)
    lock.unlink()
    assert commit_count(demo_repo.root) == before_commits
    assert _pending_files(demo_repo) == before_files
    assert gitio.dirty_paths(demo_repo.root) == [] and _stray(demo_repo) == []
    assert len(io_formats.import_file(demo_repo, source)) == 200
    assert commit_count(demo_repo.root) == before_commits + 1
    assert gitio.dirty_paths(demo_repo.root) == []


def test_import_banking77_as_it_is(case_repo, banking77) -> None:
    added = io_formats.import_file(case_repo, banking77 / "cases.jsonl")
    assert len(added) == 210
    loaded = case_repo.load()
    assert loaded.issues == [] and len(loaded.split("pending")) == 210
    records = [json.loads(line) for line in (banking77 / "cases.jsonl").read_text("utf-8").splitlines()]
    by_input = {c.text: c for c in loaded.cases}
    for record in records:
        case = by_input[record["input"]]
        assert case.expected == record["expected"]
        assert case.data["source"] == record["source"]
        assert case.data["meta"]["group"] == record["group"]
    assert validation.validate_repo(case_repo) == []


def _tricky_repo(demo_repo):
    curation.add_case(demo_repo, input=[{"role": "system", "content": "You are a bank bot."},
                                        {"role": "user", "content": "[bold]hi[/] — מה שלומך?"}],
                      expected="benign", tags=["chat"])
    curation.add_case(demo_repo, input="Which colour, \"red\",\nor blue?", expected=["red", "blue"],
                      match="one_of", notes="line1\nline2, with comma", meta={"k": [1, {"z": None}]})
    curation.add_case(demo_repo, input="give JSON", expected={"a": [1, 2.5, "ש"]}, match="json")
    return demo_repo


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_import_round_trip_is_lossless(demo_repo, make_case_repo, tmp_path, fmt) -> None:
    source = _tricky_repo(demo_repo).load().cases
    text = io_formats.export_jsonl(source) if fmt == "jsonl" else io_formats.export_csv(source)
    path = tmp_path / f"export.{fmt}"
    path.write_text(text, "utf-8")
    target = make_case_repo("target")
    io_formats.import_file(target, path)
    again = {c.id: c.data for c in target.load().cases}
    assert again == {c.id: c.data for c in source}
    # and exporting the imported copy gives the same text, splits aside
    copy = target.load().cases
    assert len(copy) == len(source)


def test_import_refuses_whole_file_on_one_bad_record(case_repo, tmp_path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"input": "ok", "expected": "a"}\n{"input": "no expectation"}\n', "utf-8")
    with pytest.raises(ValidationFailed) as err:
        io_formats.import_file(case_repo, path)
    assert str(err.value).startswith(f"{path}:2::$.expected: is required")
    assert _pending_files(case_repo) == {".gitkeep"}


def test_import_names_the_file_line_not_a_generated_case_path(case_repo, tmp_path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"input": "a" * 1_000_000, "expected": "x"}) + "\n", "utf-8")
    with pytest.raises(ValidationFailed) as err:
        io_formats.import_file(case_repo, path)
    assert str(err.value) == f"{path}:1::$.input: text of 1,000,000 characters is too long"


def test_import_of_huge_csv_cell_is_a_clear_error(case_repo, tmp_path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("input,expected\n\"" + "b" * 1_000_000 + "\",x\n", "utf-8")
    with pytest.raises(ValidationFailed) as err:
        io_formats.import_file(case_repo, path)
    assert str(err.value) == f"{path}:2::$.input: text of 1,000,000 characters is too long"


def test_import_rejects_non_utf8_and_unknown_formats(case_repo, tmp_path) -> None:
    bad = tmp_path / "latin.jsonl"
    bad.write_bytes('{"input": "caf\xe9", "expected": "x"}\n'.encode("latin-1"))
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        io_formats.import_file(case_repo, bad)
    other = tmp_path / "cases.txt"
    other.write_text("x")
    with pytest.raises(UsageError, match="unknown format"):
        io_formats.import_file(case_repo, other)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="no records"):
        io_formats.import_file(case_repo, empty)


# --- config and repository -------------------------------------------------------------------

def test_config_unknown_key_is_named(case_repo) -> None:
    (case_repo.root / "straw.toml").write_text('[model]\nbackend = "classifier"\ncolour = "red"\n')
    with pytest.raises(ValidationFailed) as err:
        config.load(case_repo.root)
    assert str(err.value).startswith("straw.toml::$.model: ") and "'colour'" in str(err.value)
    (case_repo.root / "straw.toml").write_text('[modle]\nbackend = "classifier"\n')
    opened = open_case_repo(case_repo.root)  # opening reads no settings: listing still works
    with pytest.raises(ValidationFailed, match="'modle'"):
        assert opened.config


def test_config_wrong_type_is_named(case_repo) -> None:
    (case_repo.root / "straw.toml").write_text('[train]\nbatch_size = "sixteen"\n')
    with pytest.raises(ValidationFailed) as err:
        config.load(case_repo.root)
    assert str(err.value) == "straw.toml::$.train.batch_size: 'sixteen' is not of type 'integer'"
    (case_repo.root / "straw.toml").write_text("[train\n")
    with pytest.raises(ValidationFailed, match="not valid TOML"):
        config.load(case_repo.root)


def test_config_defaults_merge(case_repo) -> None:
    (case_repo.root / "straw.toml").write_text("[batch]\nmin_size = 3\n")
    loaded = config.load(case_repo.root)
    assert loaded["batch"] == {"min_size": 3, "max_size": 20}
    assert loaded["train"]["max_iterations"] == config.DEFAULTS["train"]["max_iterations"]


def test_not_a_git_folder(tmp_path) -> None:
    with pytest.raises(NotARepository, match="not a git repository"):
        open_case_repo(tmp_path)
    git(tmp_path, "init", "-q")
    with pytest.raises(NotARepository, match="straw init"):
        open_case_repo(tmp_path)


def test_init_is_idempotent_and_keeps_users_hook(tmp_path) -> None:
    from repo_store.setup import init_case_repo

    git(tmp_path, "init", "-q", "-b", "main")
    hook = tmp_path / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    init_case_repo(tmp_path)
    assert (tmp_path / ".git/hooks/pre-commit.pre-straw").read_text() == "#!/bin/sh\nexit 0\n"
    count = commit_count(tmp_path)
    init_case_repo(tmp_path)
    assert commit_count(tmp_path) == count
    assert git(tmp_path, "status", "--porcelain").stdout == ""


def test_validation_cache_never_hides_a_bad_file(demo_repo) -> None:
    assert demo_repo.load().issues == []  # fills the caches
    assert list(cases.cache_dir(demo_repo.root).glob("valid-cases-*.bin"))
    case = demo_repo.load().split("pending")[0]
    (demo_repo.root / case.path).write_text(json.dumps({**case.data, "match": "fuzzy"}), "utf-8")
    (issue,) = demo_repo.load().issues
    assert issue.path == case.path and issue.pointer == "$.match"
    # a valid file copied under another name: the content is known, the name check still runs
    good = demo_repo.load().split("pending")[0]
    shutil.copy(demo_repo.root / good.path, demo_repo.root / "cases/pending/renamed.json")
    assert any(i.path == "cases/pending/renamed.json" for i in demo_repo.load().issues)
    assert git(demo_repo.root, "status", "--porcelain", "--", ".straw").stdout == ""


def _age(root: Path, seconds: float = 60) -> None:
    """Make every case file older than the racy window, as files are in a repository in use."""
    import os
    import time

    past = time.time() - seconds
    for path in (root / "cases").rglob("*.json"):
        os.utime(path, (past, past))


def test_parsed_cache_serves_unchanged_files_and_rereads_changed_ones(demo_repo) -> None:
    root = demo_repo.root
    _age(root)
    first = demo_repo.load()
    (cache_file,) = cases.cache_dir(root).glob("parsed-cases-*.marshal")
    parsed = cases.ParsedCache(root, cases.ValidCache(root).tag)
    assert len(parsed.old) == len(first.cases)  # every (old enough) valid file is cached
    again = demo_repo.load()
    assert [c.data for c in again.cases] == [c.data for c in first.cases]
    # an edit changes the stamp, even once the file is old again
    case = again.split("pending")[0]
    path = root / case.path
    path.write_text(json.dumps({**case.data, "expected": "changed"}), "utf-8")
    _age(root, 30)
    assert demo_repo.load().by_id()[case.id].expected == "changed"
    path.write_text("{not json", "utf-8")
    _age(root, 20)
    (issue,) = demo_repo.load().issues
    assert issue.path == case.path and "malformed JSON" in issue.message
    path.unlink()
    assert case.id not in demo_repo.load().by_id()
    cache_file.write_bytes(b"garbage")  # a broken cache is only a slower load
    assert len(demo_repo.load().cases) == len(first.cases) - 1


def test_parsed_cache_skips_files_written_just_now(demo_repo) -> None:
    root = demo_repo.root
    demo_repo.load()  # the demo files were written a moment ago: too fresh to trust their stamp
    parsed = cases.ParsedCache(root, cases.ValidCache(root).tag)
    assert parsed.old == {}


def test_a_write_commits_only_its_case_and_leaves_the_users_staged_work_staged(demo_repo) -> None:
    notes = demo_repo.root / "NOTES.md"
    notes.write_text("work in progress\n")
    git(demo_repo.root, "add", "NOTES.md")
    case = curation.add_case(demo_repo, input="a question while other work is staged", expected="benign")
    committed = git(demo_repo.root, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert committed == [case.path]
    assert git(demo_repo.root, "diff", "--cached", "--name-only").stdout.split() == ["NOTES.md"]
    # nothing else staged: the plain commit takes exactly the case too
    git(demo_repo.root, "reset", "-q", "NOTES.md")
    other = curation.add_case(demo_repo, input="a question with nothing else staged", expected="benign")
    assert git(demo_repo.root, "show", "--name-only", "--format=", "HEAD").stdout.split() == [other.path]
    assert git(demo_repo.root, "status", "--porcelain").stdout.strip() == "?? NOTES.md"
