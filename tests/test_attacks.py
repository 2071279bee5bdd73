"""Issue 12's attacks, each built with plain git as an attacker would, on real repositories: the
gate, the merge or `straw verify` must refuse or name every one of them with a one-line reason.
Models are real (a tiny classifier with random weights, saved in the model store); where only
the store's judgement is tested, reports come from a trivial rule (report_helpers)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from report_helpers import (
    MODEL,
    merge_by_rule,
    model_report,
    rule_report,
    rule_rerun,
    stored_tiny_model,
)

from repo_store import audit, batches, gitio, lockfile
from repo_store.batches import Batch
from repo_store.flip_check import FlipsDisagree
from repo_store.gate import check_gate
from repo_store.lockfile import read_lock
from repo_store.merge import merge_batch
from repo_store.repo import CaseRepo, open_case_repo
from repo_store.reports import report_path, write_report
from repo_store.setup import init_case_repo
from straw.cli import main as straw_main


@pytest.fixture
def repo(tmp_path: Path) -> CaseRepo:
    case_repo, _ = init_case_repo(tmp_path / "cases", demo=True)
    return case_repo


def git(repo: CaseRepo, *args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd or repo.root, check=True, capture_output=True,
                          text=True, input=stdin).stdout.strip()


def straw(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the real CLI in-process: (exit code, stdout + stderr)."""
    capsys.readouterr()
    try:
        straw_main(list(args))
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def on_branch(repo: CaseRepo, branch: str, tmp: Path) -> Path:
    """A linked worktree on `branch`: how an attacker edits a batch branch with plain git."""
    folder = tmp / f"wt-{branch.replace('/', '-')}"
    git(repo, "worktree", "add", "-q", str(folder), branch)
    return folder


def commit_all(folder: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run(["git", "commit", "-q", "--no-verify", "-m", message], cwd=folder, check=True)


def hand_merge(repo: CaseRepo, batch: Batch) -> None:
    git(repo, "merge", "-q", "--no-ff", "--no-verify", "-m",
        f"Merge batch {batch.id}\n\nStraw-Batch: {batch.id}", batch.branch)


def thresholds_zero(repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> CaseRepo:
    for key in ("gate.baseline_threshold", "gate.new_threshold"):
        assert straw(capsys, "config", "set", key, "0.0", "--repo", str(repo.root))[0] == 0
    return open_case_repo(repo.root)


# ---- 1. a hand-written report ----------------------------------------------------------------


def test_attack_1_a_hand_written_report_is_refused_and_named(repo: CaseRepo, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    batch = batches.create_batch(repo)
    folder = on_branch(repo, batch.branch, tmp_path)
    tree = git(repo, "rev-parse", f"{batch.branch}:cases")
    main_base = git(repo, "rev-parse", "main:cases/baseline")
    one_line = {"summary": {"passed": True, "baseline": {"passed": 1, "total": 1},
                            "new": {"passed": 1, "total": 1}},
                "cases": [], "cases_tree": tree, "main_baseline_tree": main_base,
                "model": {"hash": "sha256:" + "0" * 64, "base": "x", "backend": "classifier"}}
    (folder / report_path(batch.id)).parent.mkdir(exist_ok=True)
    (folder / report_path(batch.id)).write_text(json.dumps(one_line))
    commit_all(folder, "report")
    root = str(repo.root)
    code, out = straw(capsys, "gate", batch.id, "--repo", root)
    assert code == 1 and "invalid report" in out and "kind" in out
    main_before = git(repo, "rev-parse", "main")
    code, out = straw(capsys, "merge", batch.id, "--repo", root)
    assert code == 1 and "invalid report" in out
    assert git(repo, "rev-parse", "main") == main_before
    # schema-valid now, but with no rows: the rows must be the tree's cases
    full = {**one_line, "kind": "tune", "batch": batch.id, "created": "2026-12-03T00:00:00Z"}
    (folder / report_path(batch.id)).write_text(json.dumps(full))
    commit_all(folder, "a schema-valid report")
    code, out = straw(capsys, "gate", batch.id, "--repo", root)
    assert code == 1 and "no row for case" in out
    # the bypass: a hand merge; verify names it
    hand_merge(repo, batch)
    code, out = straw(capsys, "verify", "--full", "--repo", root)
    assert code == 1 and "no row for case" in out and batch.id in out


def test_attack_1_a_model_missing_from_the_store_is_refused(repo: CaseRepo,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, rule_report(repo, batch.id))  # rows fine, model hash made up
    code, out = straw(capsys, "gate", batch.id, "--repo", str(repo.root))
    assert code == 1 and f"model {MODEL} is not in the model store" in out
    code, out = straw(capsys, "merge", batch.id, "--repo", str(repo.root))
    assert code == 1 and "not in the model store" in out
    assert read_lock(repo) is None


# ---- 2. a case edited after tuning, cases_tree patched -------------------------------------------


def test_attack_2_an_edited_case_with_a_patched_tree_is_refused(repo: CaseRepo, tmp_path: Path) -> None:
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, rule_report(repo, batch.id))
    folder = on_branch(repo, batch.branch, tmp_path)
    victim = folder / "cases" / "baseline" / f"{batch.cases[0]}.json"
    data = json.loads(victim.read_text())
    data["expected"] = "wrong-label"
    victim.write_text(json.dumps(data, indent=2) + "\n")
    commit_all(folder, "edit a case")
    report_file = folder / report_path(batch.id)
    report = json.loads(report_file.read_text())
    report["cases_tree"] = git(repo, "rev-parse", "HEAD:cases", cwd=folder)
    report_file.write_text(json.dumps(report))
    commit_all(folder, "patch the tree")
    result = check_gate(repo, batch.id)
    assert not result.passed and result.status == "invalid"
    assert f"case {batch.cases[0]}'s expected differs" in result.reason
    hand_merge(repo, batch)
    (violation,) = audit.verify_history(repo, full=True)
    assert "expected differs" in violation.why


# ---- 3. a hand merge with a two-field report ------------------------------------------------------


def test_attack_3_a_two_field_report_hand_merged_is_named(repo: CaseRepo, tmp_path: Path) -> None:
    batch = batches.create_batch(repo)
    folder = on_branch(repo, batch.branch, tmp_path)
    tree = git(repo, "rev-parse", f"{batch.branch}:cases")
    (folder / "reports").mkdir(exist_ok=True)
    (folder / report_path(batch.id)).write_text(json.dumps({"summary": {"passed": True},
                                                            "cases_tree": tree}))
    commit_all(folder, "report")
    hand_merge(repo, batch)
    for full in (False, True):
        (violation,) = audit.verify_history(repo, full=full)
        assert "invalid report" in violation.why and batch.id in violation.why


# ---- 4. the branch changes straw.toml or other files ----------------------------------------------


def test_attack_4_a_branch_that_changes_settings_is_refused_and_shown(
        repo: CaseRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = batches.create_batch(repo)
    folder = on_branch(repo, batch.branch, tmp_path)
    toml = folder / "straw.toml"
    toml.write_text(toml.read_text().replace("baseline_threshold = 1.0", "baseline_threshold = 0.0")
                    .replace('alert_command = ""', 'alert_command = "id"'))
    (folder / "evil.sh").write_text("id\n")
    commit_all(folder, "tweak")
    write_report(repo, batch.id, rule_report(repo, batch.id))
    result = check_gate(repo, batch.id)
    assert not result.passed and result.status == "invalid"
    assert "a batch may change only its cases" in result.reason
    code, out = straw(capsys, "batch", "diff", batch.id, "--repo", str(repo.root))
    assert "! straw.toml" in out and "! evil.sh" in out and "2 other file(s) changed" in out
    hand_merge(repo, batch)
    violations = audit.verify_history(repo, full=True)
    assert any("also changed" in v.why and batch.id in v.why for v in violations)


# ---- 5. uncommitted thresholds ---------------------------------------------------------------------


def test_attack_5_uncommitted_thresholds_decide_nothing(repo: CaseRepo,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    batch = batches.create_batch(repo)
    toml = repo.root / "straw.toml"
    toml.write_text(toml.read_text().replace("baseline_threshold = 1.0", "baseline_threshold = 0.0"))
    repo = open_case_repo(repo.root)
    assert repo.config["gate"]["baseline_threshold"] == 0.0  # the work tree says 0 ...
    assert repo.verdict_config["gate"]["baseline_threshold"] == 1.0  # ... main says 1
    failing = rule_report(repo, batch.id, predict=lambda c: "nonsense")
    write_report(repo, batch.id, failing)
    result = check_gate(repo, batch.id)
    assert not result.passed and "main's thresholds" in result.reason
    code, out = straw(capsys, "tune", batch.id, "--repo", str(repo.root))
    assert code == 2 and "commit it first" in out


# ---- 6. replaying an older batch's merge -----------------------------------------------------------


def test_attack_6_replaying_a_merge_is_named(repo: CaseRepo) -> None:
    first = batches.create_batch(repo)
    write_report(repo, first.id, rule_report(repo, first.id))
    first_merge = merge_by_rule(repo, first.id)
    second = batches.create_batch(repo)
    write_report(repo, second.id, rule_report(repo, second.id))
    merge_by_rule(repo, second.id)
    assert audit.verify_history(repo) == []
    # replay: the first merge's tree (without the second batch's cases) and its batch tip again
    tree = git(repo, "rev-parse", f"{first_merge}^{{tree}}")
    replay = git(repo, "commit-tree", tree, "-p", "main", "-p", f"{first_merge}^2",
                 stdin=f"Merge batch {first.id}\n\nStraw-Batch: {first.id}\n")
    git(repo, "update-ref", "refs/heads/main", replay)
    (violation,) = audit.verify_history(repo)
    assert f"batch {first.id} merged twice" in violation.why


# ---- 7. models.lock bumped by a plain commit; a swapped label file ---------------------------------


def test_attack_7_a_lock_bump_and_a_tampered_model_are_refused(
        repo: CaseRepo, tiny_classifier: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = thresholds_zero(repo, capsys)
    model, predict_all = stored_tiny_model(repo, tiny_classifier)
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, model_report(repo, batch.id, model, predict_all))
    assert straw(capsys, "merge", batch.id, "--repo", str(repo.root))[0] == 0
    assert audit.verify_history(repo) == []
    # a plain commit points models.lock at a model no merge promoted
    lock = json.loads((repo.root / "models.lock").read_text())
    lock["model"] = "sha256:" + "1" * 64
    (repo.root / "models.lock").write_text(json.dumps(lock, indent=2) + "\n")
    git(repo, "commit", "-q", "--no-verify", "-am", "deploy")
    (violation,) = audit.verify_history(repo)
    assert "which no gated merge promoted" in violation.why
    # the store hashes a model again before using it: a swapped label file is refused
    from tuning.model_store import ModelStore, TamperedModel

    store = ModelStore(repo.model_store)
    labels = store.folder(model) / "straw_labels.json"
    swapped = json.loads(labels.read_text())
    labels.write_text(json.dumps(list(reversed(swapped))) + "\n")
    with pytest.raises(TamperedModel, match="tampered"):
        store.load(model)


# ---- 8. no local main --------------------------------------------------------------------------


def test_attack_8_verify_without_a_local_main_audits_what_is_checked_out(
        repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    victim = next((repo.root / "cases/baseline").glob("*.json"))
    victim.write_text(victim.read_text().replace('"expected": "', '"expected": "x', 1))
    git(repo, "commit", "-q", "--no-verify", "-am", "quick fix")
    git(repo, "branch", "-m", "main", "master")
    code, out = straw(capsys, "verify", "--repo", str(repo.root))
    assert code == 1 and "quick fix" in out and "HEAD (master; no local main)" in out
    git(repo, "checkout", "-q", "--detach")
    code, out = straw(capsys, "verify", "--repo", str(repo.root))
    assert code == 1 and "HEAD (detached; no local main)" in out
    code, out = straw(capsys, "verify", "--ref", "master~1", "--repo", str(repo.root))
    assert code == 0 and out.startswith("ok: master~1 at ") and "commits read" in out


# ---- 12. a stale index.lock ------------------------------------------------------------------------


def test_attack_12_a_locked_index_leaves_main_and_the_index_alone(
        repo: CaseRepo, tiny_classifier: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = thresholds_zero(repo, capsys)
    model, predict_all = stored_tiny_model(repo, tiny_classifier)
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, model_report(repo, batch.id, model, predict_all))
    main_before = git(repo, "rev-parse", "main")
    (repo.root / ".git" / "index.lock").write_text("")
    code, out = straw(capsys, "merge", batch.id, "--repo", str(repo.root))
    assert code == 2 and "index is locked" in out and "not merged" in out
    assert git(repo, "rev-parse", "main") == main_before
    (repo.root / ".git" / "index.lock").unlink()
    assert git(repo, "status", "--porcelain") == ""  # no index that reverses anything
    assert straw(capsys, "merge", batch.id, "--repo", str(repo.root))[0] == 0
    assert git(repo, "status", "--porcelain") == ""


# ---- the rerun: a report whose predictions are not the model's -----------------------------------


def test_merge_refuses_a_report_the_model_does_not_reproduce(
        repo: CaseRepo, tiny_classifier: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = thresholds_zero(repo, capsys)
    model, predict_all = stored_tiny_model(repo, tiny_classifier)
    batch = batches.create_batch(repo)
    report = model_report(repo, batch.id, model, predict_all)
    # the rows stay consistent (pass recomputed from the prediction), but one prediction is made up
    row = next(r for r in sorted(report["cases"], key=lambda r: r["id"]) if not r["pass"])
    row["predicted"] = str(row["expected"])  # claims a pass the model never made
    row["pass"] = True
    for split in ("baseline", "new"):
        rows = [r for r in report["cases"] if r["split"] == split]
        report["summary"][split] = {"passed": sum(r["pass"] for r in rows), "total": len(rows)}
    write_report(repo, batch.id, report)
    assert check_gate(repo, batch.id).passed
    code, out = straw(capsys, "merge", batch.id, "--repo", str(repo.root))
    assert code == 1 and f"on case {row['id']}" in out and "the model says" in out
    assert read_lock(repo) is None
    assert gitio.rev(repo.git, "refs/heads/main") == git(repo, "rev-parse", "main")


def test_the_honest_path_with_a_real_model(repo: CaseRepo, tiny_classifier: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    repo = thresholds_zero(repo, capsys)
    model, predict_all = stored_tiny_model(repo, tiny_classifier)
    batch = batches.create_batch(repo)
    write_report(repo, batch.id, model_report(repo, batch.id, model, predict_all))
    root = str(repo.root)
    assert straw(capsys, "gate", batch.id, "--repo", root)[0] == 0
    code, out = straw(capsys, "merge", batch.id, "--repo", root)
    assert code == 0, out
    assert read_lock(repo)["model"] == model  # type: ignore[index]
    code, out = straw(capsys, "verify", "--repo", root)
    assert code == 0 and out.splitlines()[-1].startswith("ok: main at ")
    # the two threshold changes are listed, each approved
    assert out.count("approved by") == 2 and "gate.baseline_threshold: 1.0 -> 0.0" in out


# ---- the flips and the blame: recomputed by the merge, never read ------------------------------


def test_a_report_edited_to_hide_its_blame_passes_the_gate_and_the_merge_refuses_it(
        repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """The gate's blame rule reads the report's `blame`; one emptied by hand (and its baseline
    flips with it) passes the gate, and the merge, which reruns production and the candidate
    and recomputes both, refuses it by name with main unmoved."""
    first = batches.create_batch(repo)
    write_report(repo, first.id, rule_report(repo, first.id))
    merge_by_rule(repo, first.id)  # production: the memorizer, right on every baseline case
    repo = thresholds_zero(repo, capsys)
    second = batches.create_batch(open_case_repo(repo.root), allow_small=True)
    victim = sorted(c.id for c in repo.load().split("baseline"))[0]

    def breaks(c):  # noqa: ANN001, ANN202 - the candidate forgets one baseline case
        return "wrong" if c.id == victim else str(c.expected)

    honest = rule_report(repo, second.id, breaks)
    assert honest["blame"] == [victim]
    assert [f["id"] for f in honest["flips"]["baseline"]["negative"]] == [victim]
    write_report(repo, second.id, honest)
    assert "breaks baseline cases the production model passed" in check_gate(repo, second.id).reason

    forged = {**honest, "blame": [], "flips": {**honest["flips"], "baseline": {
        **honest["flips"]["baseline"], "negative": [], "nfr": 0.0}}}
    write_report(repo, second.id, forged)
    assert check_gate(repo, second.id).passed
    main = gitio.rev(repo.git, "refs/heads/main")
    with pytest.raises(FlipsDisagree, match=f"baseline negative flips disagree.*finds {victim}"):
        merge_batch(repo, second.id, rerun=rule_rerun(repo, second.id, breaks))
    assert gitio.rev(repo.git, "refs/heads/main") == main


def test_a_report_against_a_model_that_is_no_longer_production_is_stale(
        repo: CaseRepo, capsys: pytest.CaptureFixture[str]) -> None:
    """Its flips and blame are about the production model of its day: after a rollback (or any
    other models.lock change) the batch is tuned again before it can merge."""
    first = batches.create_batch(repo)
    write_report(repo, first.id, rule_report(repo, first.id))
    merge_by_rule(repo, first.id)
    second = batches.create_batch(open_case_repo(repo.root), allow_small=True)
    write_report(repo, second.id, rule_report(repo, second.id))
    assert check_gate(repo, second.id).passed
    lock = read_lock(repo)
    assert lock is not None
    other = "sha256:" + "ef" * 32
    lockfile.commit_lock(repo, {**lock, "model": other, "reason": "rollback"}, "roll back")
    result = check_gate(open_case_repo(repo.root), second.id)
    assert not result.passed and result.status == "stale"
    assert f"flips are against {MODEL[:19]}" in result.reason and other[:19] in result.reason
    assert f"straw tune {second.id}" in result.reason


def test_a_report_naming_another_previous_model_than_its_flips_is_invalid(
        repo: CaseRepo) -> None:
    """`previous_model` is what `batch show` and the reports name as the model replaced; a tune
    writes it and the flips' production from the same models.lock, so they must agree."""
    first = batches.create_batch(repo)
    write_report(repo, first.id, rule_report(repo, first.id))
    merge_by_rule(repo, first.id)
    second = batches.create_batch(open_case_repo(repo.root), allow_small=True)
    report = rule_report(repo, second.id)
    assert report["previous_model"] == report["flips"]["production"] == MODEL
    write_report(repo, second.id, {**report, "previous_model": "sha256:" + "ef" * 32})
    result = check_gate(repo, second.id)
    assert not result.passed and result.status == "invalid"
    assert "previous_model sha256:efefefefefef is not the model its flips" in result.reason
