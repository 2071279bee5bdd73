"""The batch workflow on real git repositories: create → report → gate → merge → log → verify,
and every refusal of issue 3's bad-input list."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from report_helpers import merge_by_rule, model_report, rule_report, stored_tiny_model

from repo_store import audit, batch_status, batches, curation, gitio, history, review
from repo_store.cases import cache_dir
from repo_store.errors import NoSuchBatch, NoSuchCase, StrawError, UsageError, ValidationFailed
from repo_store.gate import GateRefused, check_gate
from repo_store.lockfile import read_lock
from repo_store.repo import CaseRepo, open_case_repo
from repo_store.reports import write_report
from repo_store.setup import init_case_repo
from straw.cli import main as straw_main


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"GIT_AUTHOR_NAME": "Ada Tester", "GIT_AUTHOR_EMAIL": "ada@example.com",
                       "GIT_COMMITTER_NAME": "Ada Tester", "GIT_COMMITTER_EMAIL": "ada@example.com"}.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def repo(tmp_path: Path) -> CaseRepo:
    case_repo, _ = init_case_repo(tmp_path / "cases", demo=True)
    return case_repo


def git(repo: CaseRepo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo.root, check=True, capture_output=True,
                          text=True).stdout


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        straw_main(list(args))
    return int(exit_info.value.code or 0)


def tuned(repo: CaseRepo, **kwargs: object) -> batches.Batch:
    batch = batches.create_batch(repo, **kwargs)  # type: ignore[arg-type]
    write_report(repo, batch.id, rule_report(repo, batch.id))
    return batch


def test_full_loop_tells_the_story_in_git_log(repo: CaseRepo) -> None:
    main_before = gitio.rev(repo.git, "main")
    batch = batches.create_batch(repo, title="crisis routing")
    assert gitio.rev(repo.git, "main") == main_before, "creating a batch must not touch main"
    assert len(batch.cases) == 20
    baseline, new = batches.split_cases(repo, batch.id)
    assert (len(baseline), len(new)) == (100, 20)
    assert check_gate(repo, batch.id).status == "open"

    write_report(repo, batch.id, rule_report(repo, batch.id))
    result = check_gate(repo, batch.id)
    assert result.passed, result.reason
    commit = merge_by_rule(repo, batch.id)

    body = git(repo, "log", "-1", "--format=%B", commit)
    assert f"Straw-Batch: {batch.id}" in body
    assert "Straw-Baseline: 100/100" in body and "Straw-New: 20/20" in body
    assert "Approved-by: Ada Tester <ada@example.com>" in body
    assert len(git(repo, "log", "-1", "--format=%P", commit).split()) == 2  # --no-ff merge
    lock = read_lock(repo)
    assert lock and lock["batch"] == batch.id and lock["reason"] == "merge"
    # the work tree follows main: the batch's cases are baseline files now, no longer pending
    for case_id in batch.cases:
        assert (repo.root / f"cases/baseline/{case_id}.json").exists()
        assert not (repo.root / f"cases/pending/{case_id}.json").exists()
    assert git(repo, "status", "--porcelain") == ""
    log = history.baseline_log(repo)
    assert [e.kind for e in log] == ["merge", "bootstrap"]
    assert log[0].batch == batch.id and log[0].baseline == "100/100"
    assert audit.verify_history(repo) == []
    events = history.case_log(repo, batch.cases[0])
    assert [e.where for e in events] == ["baseline", "pending"]
    assert batch_status.list_batches(repo)[0].status == "merged"


def test_log_reads_backward_transfer_from_the_merge_trailer_or_the_report(repo: CaseRepo) -> None:
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, {**rule_report(repo, batch.id), "bwt": -0.125})
    commit = merge_by_rule(repo, batch.id)
    assert "Straw-BWT: -0.125\n" in git(repo, "log", "-1", "--format=%B", commit)
    assert history.baseline_log(repo)[0].bwt == -0.125
    # a merge made before the trailer existed: the value comes from the merged report
    body = git(repo, "log", "-1", "--format=%B", commit).replace("Straw-BWT: -0.125\n", "")
    tree = git(repo, "rev-parse", f"{commit}^{{tree}}").strip()
    parents = git(repo, "log", "-1", "--format=%P", commit).split()
    older = gitio.commit_tree(repo.git, tree, parents, body)
    git(repo, "update-ref", "refs/heads/main", older)
    (entry, _) = history.baseline_log(repo)
    assert entry.commit == older and entry.bwt == -0.125


def test_cli_scripting_contract(repo: CaseRepo, capsys: pytest.CaptureFixture[str],
                                tiny_classifier: Path) -> None:
    root = str(repo.root)
    # a real model (random weights) that fails many cases: main's thresholds say 0 is enough
    assert run_cli("config", "set", "gate.baseline_threshold", "0.0", "--repo", root) == 0
    assert run_cli("config", "set", "gate.new_threshold", "0.0", "--repo", root) == 0
    assert "Approved-by recorded" in capsys.readouterr().out
    repo = open_case_repo(repo.root)
    model, predict_all = stored_tiny_model(repo, tiny_classifier)
    assert run_cli("batch", "create", "--json", "--repo", root) == 0
    created = json.loads(capsys.readouterr().out)
    assert set(created) == {"id", "branch", "cases"} and created["branch"] == f"batch/{created['id']}"
    assert run_cli("gate", created["id"], "--repo", root) == 1
    assert "run `straw tune" in capsys.readouterr().err
    assert run_cli("gate", "no-such-batch", "--repo", root) == 2
    assert run_cli("gate", "feature/x", "--repo", root) == 2
    assert "not a batch" in capsys.readouterr().err
    write_report(repo, created["id"], model_report(repo, created["id"], model, predict_all))
    assert run_cli("gate", created["id"], "--repo", root) == 0
    assert capsys.readouterr().out.startswith("passes")
    assert run_cli("batch", "list", "--json", "--repo", root) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["status"] == "passing"
    assert run_cli("merge", created["id"], "--repo", root) == 0
    assert run_cli("verify", "--repo", root) == 0


def test_batch_size_bounds(repo: CaseRepo) -> None:
    pending = [c.id for c in repo.load().split("pending")]
    with pytest.raises(UsageError, match="at least 10"):
        batches.create_batch(repo, pending[:3])
    with pytest.raises(UsageError, match="at most 20"):
        batches.create_batch(repo, pending[:21])
    small = batches.create_batch(repo, pending[:3], allow_small=True)
    assert len(small.cases) == 3


def test_unknown_baseline_and_already_batched_cases(repo: CaseRepo) -> None:
    pending = [c.id for c in repo.load().split("pending")]
    baseline_id = repo.load().split("baseline")[0].id
    with pytest.raises(NoSuchCase):
        batches.create_batch(repo, ["c-nope"], allow_small=True)
    with pytest.raises(UsageError, match="already in the baseline"):
        batches.create_batch(repo, [baseline_id], allow_small=True)
    first = batches.create_batch(repo, pending[:10])
    with pytest.raises(UsageError, match=f"already in open batch {first.id}"):
        batches.create_batch(repo, pending[5:15])
    # without --cases the next batch skips what open batches hold
    second = batches.create_batch(repo)
    assert not set(second.cases) & set(first.cases)
    # a pending case in an open batch cannot be removed from pending either
    with pytest.raises(UsageError, match="open batch"):
        curation.remove_case(repo, pending[0])


def test_contradiction_with_baseline_refused(repo: CaseRepo) -> None:
    base = repo.load().split("baseline")[0]
    assert isinstance(base.input, str)  # a text case, not chat messages
    wrong = "billing" if base.expected != "billing" else "benign"
    with pytest.raises(ValidationFailed, match="contradicts"):
        curation.add_case(repo, input=base.input + "  ", expected=wrong)
    # a contradiction committed with plain git is still caught when the batch is approved
    data = curation.new_case_data(repo, input=base.input.upper(), expected=wrong)
    path = repo.root / f"cases/pending/{data['id']}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    git(repo, "add", str(path))
    git(repo, "commit", "-qm", "sneak a contradiction in")
    with pytest.raises(ValidationFailed, match=f"contradicts {base.id}"):
        batches.create_batch(repo, [data["id"]], allow_small=True)


def test_merge_refusals(repo: CaseRepo) -> None:
    batch = batches.create_batch(repo)
    with pytest.raises(GateRefused, match="no reports/"):
        merge_by_rule(repo, batch.id)

    failing = rule_report(repo, batch.id, predict=lambda c: "benign")
    write_report(repo, batch.id, failing)
    with pytest.raises(GateRefused, match="report fails"):
        merge_by_rule(repo, batch.id)

    write_report(repo, batch.id, rule_report(repo, batch.id))
    # edit a case on the branch after tuning: the report no longer matches its tree
    path = f"cases/baseline/{batch.cases[0]}.json"
    data = json.loads(gitio.read_file(repo.git, batch.branch, path) or b"{}")
    data["notes"] = "edited after tuning"
    gitio.commit_to_branch(repo.git, batch.branch, {path: json.dumps(data).encode()}, "edit")
    result = check_gate(repo, batch.id)
    assert result.status == "stale" and "changed after tuning" in result.reason
    write_report(repo, batch.id, rule_report(repo, batch.id))
    assert check_gate(repo, batch.id).passed

    # a dirty work tree on main refuses, and nothing is lost
    pending_file = next((repo.root / "cases/pending").glob("*.json"))
    pending_file.write_text(pending_file.read_text() + " ")
    main_before = gitio.rev(repo.git, "main")
    with pytest.raises(UsageError, match="dirty work tree"):
        merge_by_rule(repo, batch.id)
    assert gitio.rev(repo.git, "main") == main_before
    assert pending_file.read_text().endswith(" ")
    git(repo, "checkout", "--", str(pending_file.relative_to(repo.root)))
    merge_by_rule(repo, batch.id)


def test_main_moved_on_then_update(repo: CaseRepo) -> None:
    first, second = batches.create_batch(repo), batches.create_batch(repo)
    for b in (first, second):
        write_report(repo, b.id, rule_report(repo, b.id))
    merge_by_rule(repo, first.id)
    result = check_gate(repo, second.id)
    assert not result.passed and "main moved on" in result.reason
    assert "straw batch update" in result.reason
    assert batches.update_batch(repo, second.id) is not None
    assert batches.update_batch(repo, second.id) is None  # already up to date
    assert check_gate(repo, second.id).status == "stale"
    write_report(repo, second.id, rule_report(repo, second.id))
    merge_by_rule(repo, second.id)
    assert read_lock(repo)["batch"] == second.id  # type: ignore[index]
    assert len(repo.load().split("baseline")) == 140
    assert audit.verify_history(repo) == []


def test_reject_keeps_everything(repo: CaseRepo) -> None:
    batch = batches.create_batch(repo)
    tip = gitio.rev(repo.git, batch.branch)
    tag = batches.reject_batch(repo, batch.id, reason="labels disputed")
    assert gitio.rev(repo.git, f"{tag}^{{commit}}") == tip
    assert gitio.rev(repo.git, f"refs/heads/{batch.branch}") is None
    pending_ids = {c.id for c in repo.load().split("pending")}
    assert set(batch.cases) <= pending_ids
    info = [i for i in batch_status.list_batches(repo) if i.id == batch.id][0]
    assert info.status == "rejected" and "labels disputed" in info.reason
    again = batches.create_batch(repo, batch.cases)  # the cases are free again
    assert again.cases == batch.cases
    with pytest.raises(NoSuchBatch, match="rejected"):
        check_gate(repo, batch.id)


def test_reject_of_merged_batch_refused(repo: CaseRepo) -> None:
    batch = tuned(repo)
    merge_by_rule(repo, batch.id)
    with pytest.raises(UsageError, match="already merged"):
        batches.reject_batch(repo, batch.id)


def test_branch_deleted_by_hand(repo: CaseRepo) -> None:
    batch = batches.create_batch(repo)
    git(repo, "branch", "-D", batch.branch)
    with pytest.raises(NoSuchBatch, match="does not exist"):
        check_gate(repo, batch.id)
    assert batch.id not in [i.id for i in batch_status.list_batches(repo)]
    # its cases were never moved on main: still pending, free for a new batch
    assert set(batch.cases) <= {c.id for c in repo.load().split("pending")}


def test_new_batch_id_never_reuses_a_merged_batchs_id(repo: CaseRepo,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    merged = tuned(repo)
    merge_by_rule(repo, merged.id)
    subprocess.run(["git", "branch", "-D", merged.branch], cwd=repo.root, capture_output=True)
    ids = iter([merged.id, "2026-11-29-beef"])  # the daily random part collides once
    monkeypatch.setattr(batches, "new_batch_id", lambda: next(ids))
    assert batches.create_batch(repo).id == "2026-11-29-beef"


def _loose_in_sample(repo: CaseRepo, count: int) -> Path:
    """Commit filler blobs (reachable: gc keeps unreachable loose objects) until objects/17/,
    the folder `gc --auto` counts, holds `count` loose objects."""
    sample = repo.root / ".git/objects/17"
    filler: dict[str, bytes | gitio.Blob | None] = {}
    while len(list(sample.glob("*"))) < count:
        filler[f"filler/{len(filler)}"] = gitio.Blob(gitio.store_blob(repo.git, b"%d" % len(filler)))
    commit = gitio.commit_tree(repo.git, gitio.write_tree(repo.git, None, filler), [], "filler")
    git(repo, "update-ref", "refs/heads/filler", commit)
    return sample


def test_plumbing_writes_keep_the_object_store_packed(repo: CaseRepo) -> None:
    # git's porcelain runs `gc --auto` after it writes; straw's plumbing writes must ask too,
    # or a busy repository piles up loose objects that slow every `git log` down
    git(repo, "config", "gc.autoDetach", "false")
    # straw's threshold, 1,000 loose objects, is due at more than 1000/256 in the sample folder
    sample = _loose_in_sample(repo, 5)
    batches.create_batch(repo)
    assert not any(sample.glob("*")), "the loose objects were not packed"
    assert list((repo.root / ".git/objects/pack").glob("*.pack"))
    # a repository's own gc.auto wins: 0 turns automatic packing off
    git(repo, "config", "gc.auto", "0")
    sample = _loose_in_sample(repo, 5)
    batches.create_batch(repo)
    assert len(list(sample.glob("*"))) >= 5


def test_verify_reports_direct_baseline_commit(repo: CaseRepo) -> None:
    victim = next((repo.root / "cases/baseline").glob("*.json"))
    data = json.loads(victim.read_text())
    data["expected"] = "benign" if data["expected"] != "benign" else "billing"
    victim.write_text(json.dumps(data, indent=2) + "\n")
    git(repo, "add", str(victim))
    refused = subprocess.run(["git", "commit", "-m", "quick fix"], cwd=repo.root,
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "gated batch merge" in refused.stderr
    git(repo, "commit", "--no-verify", "-m", "quick fix")
    violations = audit.verify_history(repo)
    assert len(violations) == 1
    assert "quick fix" in violations[0].line() and "direct change" in violations[0].why
    assert run_cli("verify", "--repo", str(repo.root)) == 1


def test_verify_reads_each_good_commit_once_and_never_caches_a_violation(
        repo: CaseRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    merged = tuned(repo)
    merge_commit = merge_by_rule(repo, merged.id)
    assert audit.verify_history(repo) == []
    (cache,) = cache_dir(repo.root).glob("verified-commits-*.txt")
    assert merge_commit in cache.read_text().split()
    victim = next((repo.root / "cases/baseline").glob("*.json"))
    victim.write_text(victim.read_text().replace('"expected": "', '"expected": "x', 1))
    git(repo, "commit", "--no-verify", "-am", "quick fix")
    real_check_rows = audit.check_rows
    read: list[str] = []

    def counting(report: dict, expected: list, where: str) -> dict:
        read.append(report["batch"])
        return real_check_rows(report, expected, where)

    monkeypatch.setattr(audit, "check_rows", counting)
    for _ in range(2):  # the direct change is found every time: violations are never cached
        read.clear()
        (violation,) = audit.verify_history(repo)
        assert "quick fix" in violation.line()
        assert read == []  # the merge's report rows are not read again
    read.clear()
    assert len(audit.verify_history(repo, full=True)) == 1
    assert read == [merged.id]  # --full reads them all again
    assert run_cli("verify", "--full", "--repo", str(repo.root)) == 1


def test_a_merged_case_is_not_restorable_as_removed(repo: CaseRepo) -> None:
    batch = tuned(repo)
    merge_by_rule(repo, batch.id)
    with pytest.raises(NoSuchCase, match="nothing to restore"):
        curation.removed_case(repo, batch.cases[0])  # moved to the baseline, not removed


def _hand_merged(repo: CaseRepo, report: bytes) -> str:
    """A batch merged with plain git, around the gate, its branch holding `report`."""
    batch = batches.create_batch(repo)
    gitio.commit_to_branch(repo.git, batch.branch, {f"reports/{batch.id}.json": report},
                           "a report written by hand")
    git(repo, "merge", "--no-ff", "--no-verify", "-m", f"Merge it\n\nStraw-Batch: {batch.id}",
        batch.branch)
    return batch.id


@pytest.mark.parametrize(("report", "why"), [(b"{not json", "not JSON"),
                                             (b'{"summary": null}', "invalid report")])
def test_verify_names_a_hand_made_merge_with_a_broken_report(repo: CaseRepo, report: bytes,
                                                              why: str) -> None:
    batch_id = _hand_merged(repo, report)
    (violation,) = audit.verify_history(repo)
    assert why in violation.why and batch_id in violation.why
    assert history.baseline_log(repo)[0].bwt is None  # and the log does not crash on it


def test_interrupted_merge_leaves_main(repo: CaseRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = tuned(repo)
    main_before = gitio.rev(repo.git, "main")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gitio, "update_ref", interrupted)
    with pytest.raises(KeyboardInterrupt):
        merge_by_rule(repo, batch.id)
    assert gitio.rev(repo.git, "main") == main_before
    assert git(repo, "status", "--porcelain") == ""
    monkeypatch.undo()
    merge_by_rule(repo, batch.id)


def test_diff_shows_field_changes(repo: CaseRepo) -> None:
    batch = batches.create_batch(repo)
    path = f"cases/baseline/{batch.cases[0]}.json"
    data = json.loads(gitio.read_file(repo.git, batch.branch, path) or b"{}")
    data["tags"] = ["reviewed"]
    gitio.commit_to_branch(repo.git, batch.branch, {path: json.dumps(data).encode()}, "retag")
    changes = {c.case_id: c for c in batches.batch_diff(repo, batch.id)}
    assert len(changes) == 20 and all(c.kind == "added" for c in changes.values())
    assert [f[0] for f in changes[batch.cases[0]].fields] == ["tags"]
    old, gone = repo.load().split("baseline")[:2]
    edited = dict(old.data, expected="something else")
    gitio.commit_to_branch(repo.git, batch.branch, {old.path: json.dumps(edited).encode(),
                                                    gone.path: None}, "edit one, drop one")
    changes = {c.case_id: c for c in batches.batch_diff(repo, batch.id)}
    assert changes[old.id].kind == "changed"
    assert changes[old.id].fields == [("expected", old.expected, "something else")]
    assert changes[gone.id].kind == "removed" and changes[gone.id].case == gone.data


def test_push_and_pr_body(repo: CaseRepo, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    batch = tuned(repo, title="crisis routing")
    assert batches.push_batch(repo, batch.id) == f"origin/{batch.branch}"
    pushed = subprocess.run(["git", "rev-parse", batch.branch], cwd=remote, capture_output=True,
                            text=True).stdout.strip()
    assert pushed == gitio.rev(repo.git, batch.branch)
    body = review.pr_body(repo, batch.id)
    assert "crisis routing" in body and "✅ passes" in body and "Baseline: 100/100" in body
    assert body.count("| added |") == 20
    with pytest.raises(UsageError, match="no remote"):
        batches.push_batch(repo, batch.id, remote="upstream")


def test_bootstrap_first_batch_through_the_gate(tmp_path: Path) -> None:
    repo, _ = init_case_repo(tmp_path / "fresh")
    for i in range(3):
        curation.add_case(repo, input=f"question number {i}", expected="benign")
    with pytest.raises(UsageError, match="at least 10"):
        batches.create_batch(repo)
    batch = batches.create_batch(repo, all_pending=True)
    assert batch.bootstrap and len(batch.cases) == 3
    write_report(repo, batch.id, rule_report(repo, batch.id))
    merge_by_rule(repo, batch.id)
    assert len(repo.load().split("baseline")) == 3
    assert audit.verify_history(repo) == []
    curation.add_case(repo, input="another", expected="benign")
    with pytest.raises(UsageError, match="first batch"):
        batches.create_batch(repo, all_pending=True)


def test_report_writer_refuses_stale_or_foreign_report(repo: CaseRepo) -> None:
    a = batches.create_batch(repo)
    report = rule_report(repo, a.id)
    with pytest.raises(StrawError, match="not"):
        write_report(repo, a.id, {**report, "batch": "other"})
    with pytest.raises(ValidationFailed, match=r"reports/.*::\$"):
        write_report(repo, a.id, {**report, "seed": "zero"})
    with pytest.raises(StrawError, match="cases changed"):
        write_report(repo, a.id, {**report, "cases_tree": "0" * 40})
