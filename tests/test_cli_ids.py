"""Ids like git on real repositories: unique prefixes of case ids, batch ids and model hashes in
every command, `latest` for batches, and an ambiguous prefix refused with its candidates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import model_tuned
from report_helpers import MODEL, merge_by_rule, rule_report

from repo_store import batches, curation, lockfile, resolve
from repo_store.errors import UsageError
from repo_store.repo import CaseRepo
from repo_store.reports import write_report


def tuned(repo: CaseRepo, model: str = MODEL, **kwargs: object) -> batches.Batch:
    batch = batches.create_batch(repo, **kwargs)  # type: ignore[arg-type]
    write_report(repo, batch.id, rule_report(repo, batch.id, model=model))
    return batch


def unique_prefix(value: str, others: list[str]) -> str:
    """The shortest prefix of `value` that no other id starts with."""
    for n in range(1, len(value) + 1):
        if not any(o.startswith(value[:n]) for o in others if o != value):
            return value[:n]
    return value


def test_case_prefixes_in_show_edit_rm_and_log(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    root = str(demo_repo.root)
    pending = [c.id for c in demo_repo.load().split("pending")]
    everyone = [c.id for c in demo_repo.load().cases]
    target = pending[0]
    short = unique_prefix(target, everyone)
    assert len(short) < len(target)

    shown = cli("show", short, "--repo", root)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == target
    edited = cli("edit", short, "--notes", "via prefix", "--repo", root)
    assert edited.exit_code == 0, edited.stderr
    assert curation.get_case(demo_repo, target).data["notes"] == "via prefix"
    logged = cli("log", short, "--json", "--repo", root)
    assert logged.exit_code == 0 and len(json.loads(logged.stdout)) == 2  # added, edited
    removed = cli("rm", short, "--repo", root)
    assert removed.exit_code == 0 and f"{target}.json" in removed.stdout
    assert target not in [c.id for c in demo_repo.load().cases]


def test_ambiguous_case_prefix_lists_candidates(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    before = sorted(p.name for p in (demo_repo.root / "cases/pending").iterdir())
    result = cli("rm", "c-", "--repo", str(demo_repo.root))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "'c-' is ambiguous" in line and "give more characters" in line and "\n" not in line
    assert sorted(p.name for p in (demo_repo.root / "cases/pending").iterdir()) == before
    # an exact id wins even when it is a prefix of another, and nothing matching passes through
    assert resolve._pick("case id", "ab", ["ab", "abc"]) == "ab"
    missing = cli("show", "zz-no-such", "--repo", str(demo_repo.root))
    assert missing.exit_code == 2 and "zz-no-such" in missing.stderr


def test_batch_prefixes_and_latest_in_every_batch_command(demo_repo: CaseRepo, cli,  # noqa: ANN001
                                                         tmp_path: Path, tiny_classifier: Path) -> None:
    root = str(demo_repo.root)
    demo_repo, first, _ = model_tuned(demo_repo, tiny_classifier, title="first")
    second = batches.create_batch(demo_repo, title="second")
    tie = cli("batch", "show", "latest", "--repo", root)  # manifests record whole seconds
    rejected: list[str] = []  # a rejected batch still answers to its id, so to prefixes too
    if first.created == second.created:
        assert tie.exit_code == 2 and "same second" in tie.stderr
        import time

        second_data = second.manifest()
        batches.reject_batch(demo_repo, second.id)
        rejected.append(second.id)
        time.sleep(1.05)
        second = batches.create_batch(demo_repo, title=second_data["title"])
    else:
        assert tie.exit_code == 0
    ids = [first.id, second.id]
    short = unique_prefix(first.id, ids + rejected)

    assert cli("gate", short, "--repo", root).exit_code == 0
    assert cli("gate", f"batch/{short}", "--repo", root).exit_code == 0
    shown = json.loads(cli("batch", "show", "latest", "--json", "--repo", root).stdout)
    assert shown["id"] == second.id and shown["status"] == "open"
    diff = json.loads(cli("batch", "diff", short, "--json", "--repo", root).stdout)
    assert len(diff) == len(first.cases)
    body = cli("batch", "pr-body", "latest", "--repo", root)
    assert body.exit_code == 0 and f"`{second.id}`" in body.stdout
    flips = cli("flips", "latest", "--repo", root)  # resolved: the batch's own message
    assert flips.exit_code == 2 and f"batch {second.id} has no report" in flips.stderr
    import subprocess

    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", str(remote)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(remote)], cwd=root, check=True)
    pushed = cli("batch", "push", short, "--repo", root)
    assert pushed.exit_code == 0 and f"origin/batch/{first.id}" in pushed.stdout
    merged = cli("merge", short, "--repo", root)
    assert merged.exit_code == 0, merged.stderr
    assert lockfile.read_lock(demo_repo)["batch"] == first.id  # type: ignore[index]
    updated = cli("batch", "update", "latest", "--repo", root)
    assert updated.exit_code == 0 and f"batch/{second.id}" in updated.stdout
    rejection = cli("reject", "latest", "--reason", "not now", "--repo", root)
    assert rejection.exit_code == 0 and f"batch-rejected/{second.id}" in rejection.stdout
    # rejected batches are closed: `latest` is the merged one again
    assert resolve.batch_id(demo_repo, "latest") == first.id


def test_ambiguous_batch_prefix_and_no_batches(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    root = str(demo_repo.root)
    none = cli("gate", "latest", "--repo", root)
    assert none.exit_code == 2 and "no batches yet" in none.stderr
    one = batches.create_batch(demo_repo, allow_small=True, case_ids=[
        c.id for c in demo_repo.load().split("pending")[:2]])
    two = batches.create_batch(demo_repo, allow_small=True, case_ids=[
        c.id for c in demo_repo.load().split("pending")[2:4]])
    shared = one.id[:10]  # both start with today's date
    assert two.id.startswith(shared)
    result = cli("gate", shared, "--repo", root)
    assert result.exit_code == 2
    assert one.id in result.stderr and two.id in result.stderr and "ambiguous" in result.stderr


def test_model_prefixes_in_rollback(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    root = str(demo_repo.root)
    old_model, new_model = "sha256:" + "a1" * 32, "sha256:" + "a2" * 32
    merge_by_rule(demo_repo, tuned(demo_repo, model=old_model).id, model=old_model)
    merge_by_rule(demo_repo, tuned(demo_repo, model=new_model).id, model=new_model)
    assert resolve.model_hash(demo_repo, "a1a") == old_model
    assert resolve.model_hash(demo_repo, "sha256:a2") == new_model
    ambiguous = cli("rollback", "a", "--repo", root)
    assert ambiguous.exit_code == 2 and "ambiguous" in ambiguous.stderr
    assert old_model[7:19] in ambiguous.stderr and new_model[7:19] in ambiguous.stderr
    done = cli("rollback", "a1a1", "--force", "--repo", root)  # rule models: none stored to run
    assert done.exit_code == 0, done.stderr
    assert lockfile.read_lock(demo_repo)["model"] == old_model  # type: ignore[index]
    with pytest.raises(UsageError, match="ambiguous"):
        resolve.model_hash(demo_repo, "sha256:a")


def test_tune_resolves_its_batch_before_loading_the_engine(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    one = batches.create_batch(demo_repo, allow_small=True, case_ids=[
        c.id for c in demo_repo.load().split("pending")[:2]])
    batches.create_batch(demo_repo, allow_small=True, case_ids=[
        c.id for c in demo_repo.load().split("pending")[2:4]])
    result = cli("tune", one.id[:11], "--repo", str(demo_repo.root))
    assert result.exit_code == 2 and "ambiguous" in result.stderr and one.id in result.stderr


def test_batch_create_takes_case_prefixes(demo_repo: CaseRepo, cli) -> None:  # noqa: ANN001
    pending = [c.id for c in demo_repo.load().split("pending")]
    everyone = [c.id for c in demo_repo.load().cases]
    chosen = pending[:3]
    prefixes = [unique_prefix(c, everyone) for c in chosen]
    result = cli("batch", "create", "--allow-small", "--cases", ",".join(prefixes), "--json",
                 "--repo", str(demo_repo.root))
    assert result.exit_code == 0, result.stderr
    assert sorted(json.loads(result.stdout)["cases"]) == sorted(chosen)
