"""The watch split (issue 14): curated like the others, evaluated by every tune and eval, never
trained on. Real git repositories, the tiny real classifier, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from test_training import Spy, baseline_cases, make_backend, make_case, new_cases
from test_tune import BASELINE, NEW, case, commit, write_config

from repo_store import batches, curation, schemas
from repo_store.cases import case_path, serialize
from repo_store.repo import CaseRepo, open_case_repo
from repo_store.wording import plural
from tuning.evaluate import evaluate
from tuning.training import TrainingSet
from tuning.tune import run_rounds, tune_batch

WATCH = {"refund": "could I get my money back", "shipping": "has my parcel shipped yet"}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuning.testing import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny-neigh") / "model")


def write_cases(root: Path, split: str, datas: list[dict[str, Any]]) -> list[str]:
    paths = []
    for data in datas:
        path = case_path(split, data["id"])
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(serialize(data))
        paths.append(path)
    return paths


@pytest.fixture
def watched_repo(make_case_repo, tiny_model: Path):
    """tests.test_tune's tiny repository plus two watch cases on main; returns (repo, batch id)."""
    repo = make_case_repo("watched")
    write_config(repo.root, tiny_model)
    paths = []
    for split, table in (("baseline", BASELINE), ("pending", NEW)):
        paths += write_cases(repo.root, split, [case(f"{split[0]}-{label}-{i}", text, label)
                                                 for label, texts in table.items()
                                                 for i, text in enumerate(texts)])
    paths += write_cases(repo.root, "watch", [case(f"w-{label}", text, label)
                                              for label, text in WATCH.items()])
    commit(repo.root, paths, "cases")
    repo = open_case_repo(repo.root)
    return repo, batches.create_batch(repo).id


def test_cli_adds_imports_lists_shows_and_exports_watch_cases(case_repo, cli, tmp_path) -> None:
    root = case_repo.root
    added = cli("add", "--input", "is my card blocked", "--expected", "card", "--split", "watch",
                repo=root)
    assert added.exit_code == 0, added.output
    case_id = added.stdout.strip()
    assert (root / case_path("watch", case_id)).is_file()
    assert not (root / case_path("pending", case_id)).exists()

    source = tmp_path / "watch.jsonl"
    source.write_text(json.dumps({"input": "where is my box", "expected": "shipping"}) + "\n")
    imported = cli("import", str(source), "--split", "watch", repo=root)
    assert imported.exit_code == 0 and "imported 1 watch case from" in imported.stdout, imported.output
    pending = cli("add", "--input", "refund me", "--expected", "refund", repo=root)
    assert pending.exit_code == 0

    listed = json.loads(cli("list", "--split", "watch", "--json", repo=root).stdout)
    assert sorted(c["input"] for c in listed) == ["is my card blocked", "where is my box"]
    assert {c["split"] for c in listed} == {"watch"}
    shown = json.loads(cli("show", case_id, repo=root).stdout)
    assert shown["split"] == "watch" and shown["path"] == case_path("watch", case_id)
    out = tmp_path / "out.jsonl"
    assert cli("export", "--split", "watch", "-o", str(out), repo=root).exit_code == 0
    exported = out.read_text().splitlines()
    assert len(exported) == 2 and all(json.loads(line)["split"] == "watch" for line in exported)

    # watch cases are curated like pending ones: edited, removed and restored in place
    edited = curation.edit_case(open_case_repo(root), case_id, {"notes": "a neighbour"})
    assert edited.split == "watch"
    assert json.loads((root / case_path("watch", case_id)).read_text())["notes"] == "a neighbour"
    removed = cli("rm", case_id, repo=root)
    assert removed.exit_code == 0 and not (root / case_path("watch", case_id)).exists()
    restored = cli("restore", case_id, repo=root)
    assert restored.exit_code == 0, restored.output
    assert (root / case_path("watch", case_id)).is_file()
    assert not (root / case_path("pending", case_id)).exists()

    # a watch case is not approvable: a batch takes pending cases only
    batch = batches.create_batch(open_case_repo(root), allow_small=True)
    assert batch.cases == [pending.stdout.strip()]


def test_bad_split_is_refused_with_one_line(case_repo, cli) -> None:
    result = cli("add", "--input", "x", "--expected", "y", "--split", "baseline", repo=case_repo.root)
    assert result.exit_code == 2 and "baseline" in result.output


def test_watch_cases_are_validated_every_round_and_never_trained_on(tiny_classifier: Path) -> None:
    backend = make_backend(tiny_classifier, max_iterations=2, replay="all")
    spy = Spy(backend)
    watch = [make_case("w-refund", "refund my money for the order now please", "refund", "watch"),
             make_case("w-account", "I forgot my password again", "account", "watch")]
    data = TrainingSet(baseline_cases(), new_cases(), watch)
    outcome = run_rounds(backend, data, backend.train_settings,
                         {"baseline_threshold": 1.0, "new_threshold": 1.0},
                         progress=lambda e: None, cancel=None)
    trained_inputs = {ex.input for examples in spy.trained for ex in examples}
    assert spy.trained and not trained_inputs & {w.input for w in watch}
    assert trained_inputs >= {c.input for c in data.new}
    # every validation covered the watch cases, and the outcome carries their predictions
    assert all(len(v.predictions) == len(data.cases) for v in spy.validations)
    assert len(outcome.predictions) == len(data.cases)


def test_tune_and_eval_report_watch_cases_outside_both_scores(watched_repo) -> None:
    repo, batch_id = watched_repo
    report = tune_batch(repo, batch_id)
    schemas.check("report", report, "report")
    watch_rows = [r for r in report["cases"] if r["split"] == "watch"]
    assert sorted(r["id"] for r in watch_rows) == ["w-refund", "w-shipping"]
    assert report["summary"]["baseline"]["total"] == 12
    assert report["summary"]["new"]["total"] == 5

    evaluated = evaluate(repo, report["model"]["hash"], "baseline")
    schemas.check("report", evaluated, "eval")
    assert {r["id"] for r in evaluated["cases"] if r["split"] == "watch"} == {"w-refund",
                                                                              "w-shipping"}
    assert evaluated["summary"]["baseline"]["total"] == 12
    # the tune's watch predictions are the model's own: eval (from the cache) agrees
    assert ({r["id"]: r["predicted"] for r in evaluated["cases"] if r["split"] == "watch"}
            == {r["id"]: r["predicted"] for r in watch_rows})


# ---- flips against the production model -------------------------------------------------------


def rows(split: str, passes: list[bool], predicted: str = "x") -> list[dict[str, Any]]:
    return [{"id": f"{split}-{i}", "split": split, "expected": "e", "predicted": predicted,
             "pass": ok} for i, ok in enumerate(passes)]


def test_flips_and_mcnemar_on_hand_built_prediction_sets() -> None:
    from repo_store.flips import flip_lines, flips

    # watch: 10 paired cases; 7 right -> wrong, 1 wrong -> right, 2 unchanged
    before = rows("watch", [True] * 7 + [False] + [True, False], "old")
    after = rows("watch", [False] * 7 + [True] + [True, False], "new")
    # baseline: 1 negative flip, nothing else discordant; one case the production model never saw
    before += rows("baseline", [True, True, True], "old")
    after += rows("baseline", [True, False, True, True], "new")
    result = flips("sha256:" + "0" * 64, before, after)
    watch, base = result["watch"], result["baseline"]
    assert [f["id"] for f in watch["negative"]] == [f"watch-{i}" for i in range(7)]
    assert [f["id"] for f in watch["positive"]] == ["watch-7"]
    assert watch["negative"][0] == {"id": "watch-0", "expected": "e", "production": "old",
                                    "candidate": "new"}
    assert watch["cases"] == 10 and watch["nfr"] == 0.7
    assert watch["mcnemar_p"] == round(2 * 9 / 256, 6)  # n = 8 discordant, k = 1: 2·(1+8)/2^8
    assert watch["note"] is None
    assert base["cases"] == 3 and base["unpaired"] == 1
    assert [f["id"] for f in base["negative"]] == ["baseline-1"] and base["positive"] == []
    assert base["nfr"] == round(1 / 3, 6) and base["mcnemar_p"] == 1.0
    assert "1 discordant pair: too few" in base["note"]
    lines = flip_lines({"flips": result})
    assert lines[0].startswith("baseline: 1 negative flip, 0 positive of 3")
    assert "watch-0, watch-1" in lines[1] and "McNemar p = 0.0703" in lines[1]


@pytest.fixture
def flipped_repo(watched_repo):
    """Production = batch 1's model (it learned 'reset my password' → account); a watch case the
    production model passes; batch 2 teaches near neighbours of it another label, so the
    candidate flips it. Returns (repo, batch 2 id, production hash)."""
    from repo_store import lockfile

    repo, batch_id = watched_repo
    first = tune_batch(repo, batch_id)
    assert first["summary"]["passed"]
    production = first["model"]["hash"]
    lockfile.commit_lock(repo, {
        "model": production, "backend": "classifier", "base": first["model"]["base"],
        "batch": batch_id, "promoted": "2026-01-02T00:00:00Z", "reason": "merge"}, "promote")
    paths = write_cases(repo.root, "watch", [case("w-password", "reset my password today", "account")])
    paths += write_cases(repo.root, "pending", [
        case("p-password-0", "reset my password today please", "refund"),
        case("p-password-1", "please reset my password today", "refund")])
    commit(repo.root, paths, "a watched neighbour and a batch that relabels its neighbours")
    second = batches.create_batch(repo, ["p-password-0", "p-password-1"], allow_small=True)
    return repo, second.id, production


def test_tune_reports_flips_against_production_and_the_gate_names_them(flipped_repo, cli) -> None:
    from repo_store.gate import check_gate

    repo, batch_id, production = flipped_repo
    before = evaluate(repo, production, "baseline", ref=f"batch/{batch_id}")
    assert {r["id"]: r["pass"] for r in before["cases"]}["w-password"], "production must pass it"
    report = tune_batch(repo, batch_id)
    schemas.check("report", report, "report")
    assert report["summary"]["passed"]
    assert report["hyperparameters"]["interpolate"] is False and "interpolation" not in report
    found = report["flips"]
    assert found["production"] == production
    # the report's flips are exactly what evaluating both models says
    was = {r["id"]: r["pass"] for r in before["cases"]}
    now = {r["id"]: r for r in report["cases"]}
    for split in ("baseline", "watch"):
        ids = [i for i, r in now.items() if r["split"] == split and i in was]
        assert found[split]["cases"] == len(ids)
        assert [f["id"] for f in found[split]["negative"]] == [
            i for i in ids if was[i] and not now[i]["pass"]]
        assert [f["id"] for f in found[split]["positive"]] == [
            i for i in ids if now[i]["pass"] and not was[i]]
    assert "w-password" in [f["id"] for f in found["watch"]["negative"]]
    assert found["watch"]["note"]  # two or three watch cases: too few discordant pairs

    result = check_gate(repo, batch_id)
    assert not result.passed and result.status == "tuned-failing"
    assert "w-password (account → refund)" in result.reason and "max_watch_negative_flips = 0" \
        in result.reason
    gate_cli = cli("gate", batch_id, repo=repo.root)
    assert gate_cli.exit_code == 1 and "w-password" in gate_cli.output

    shown = cli("batch", "show", batch_id, repo=repo.root).stdout
    assert "flips    watch: " in shown and "broken: " in shown and "w-password" in shown
    body = cli("batch", "pr-body", batch_id, repo=repo.root).stdout
    assert "- Flips vs production, watch: " in body and "w-password" in body

    # a looser limit lets the same report through
    limit = len(found["watch"]["negative"])
    with open(repo.root / "straw.toml", "a") as fh:
        fh.write(f"\n[gate]\nmax_watch_negative_flips = {limit}\n")
    commit(repo.root, ["straw.toml"], "allow the flips")
    assert check_gate(open_case_repo(repo.root), batch_id).passed


def test_a_report_edited_to_hide_a_watch_flip_is_refused_by_the_merge(flipped_repo, cli) -> None:
    """Trust nothing committed: the gate's watch rule reads the report's flips, so a report
    whose flip was deleted by hand passes it; `straw merge` reruns the production model and the
    report's model on the branch, recomputes the flips and refuses, naming the case."""
    from repo_store.gate import check_gate
    from repo_store.reports import write_report

    repo, batch_id, production = flipped_repo
    report = tune_batch(repo, batch_id)
    watch = report["flips"]["watch"]
    assert "w-password" in [f["id"] for f in watch["negative"]]
    assert not check_gate(repo, batch_id).passed  # max_watch_negative_flips = 0
    write_report(repo, batch_id, {**report, "flips": {**report["flips"], "watch": {
        **watch, "negative": [f for f in watch["negative"] if f["id"] != "w-password"]}}})
    assert check_gate(open_case_repo(repo.root), batch_id).passed
    main = open_case_repo(repo.root).git.rev_parse("main")
    for path in (repo.model_store / "predictions").iterdir():
        path.unlink()  # production's predictions computed afresh, not read from the cache
    merged = cli("merge", batch_id, repo=repo.root)
    assert merged.exit_code == 1, merged.output
    assert "watch negative flips disagree with the rerun" in merged.output
    assert "the rerun finds w-password" in merged.output.replace("\n", " ")
    assert open_case_repo(repo.root).git.rev_parse("main") == main

    # the honest report, with its flip allowed by main's limit, merges: recomputed, it agrees
    write_report(repo, batch_id, report)
    assert cli("config", "set", "gate.max_watch_negative_flips", "1", repo=repo.root).exit_code == 0
    for path in (repo.model_store / "predictions").iterdir():
        path.unlink()
    honest = cli("merge", batch_id, repo=repo.root)
    assert honest.exit_code == 0, honest.output


def test_the_merge_asks_production_at_the_tunes_max_length(flipped_repo, cli) -> None:
    """A `[model] max_length` change on main after the tune: the merge's production answers (to
    recompute the flips) come at the length the tune used, the stored model's, so the honest
    report still merges; at main's new length long inputs would be cut and answer otherwise."""
    from dataclasses import replace

    from tuning.backends.base import settings_from_config
    from tuning.model_store import ModelStore
    from tuning.recheck import rerun_batch
    from tuning.tune import load_stored

    repo, batch_id, production = flipped_repo
    long = [case(f"w-long-{i}", text, label) for i, (text, label) in enumerate([
        # the words that decide come after the eighth token
        ("refund refund refund refund refund refund refund but where has my parcel shipped "
         "shipping shipping shipping parcel parcel", "shipping"),
        ("shipping shipping shipping shipping shipping shipping shipping no I want my money back "
         "refund refund refund refund", "refund"),
        ("refund refund refund refund refund refund refund reset my password password password "
         "login account account", "account")])]
    commit(repo.root, write_cases(repo.root, "watch", long), "long watch cases")
    assert cli("batch", "update", batch_id, repo=repo.root).exit_code == 0
    report = tune_batch(open_case_repo(repo.root), batch_id)
    for key, value in (("gate.max_watch_negative_flips", "5"), ("model.max_length", "8")):
        assert cli("config", "set", key, value, repo=repo.root).exit_code == 0
    repo = open_case_repo(repo.root)
    store = ModelStore(repo.model_store)
    model_s, train_s = settings_from_config(repo.verdict_config)
    inputs = [c["input"] for c in long]
    at = {n: [p.text for p in load_stored(store, production, replace(model_s, max_length=n),
                                          train_s).predict(inputs)] for n in (8, 32)}
    assert at[8] != at[32], "the long inputs must answer otherwise when cut to 8 tokens"
    for path in (repo.model_store / "predictions").iterdir():
        path.unlink()  # nothing cached: production is run
    rerun = rerun_batch(repo, batch_id)
    assert [rerun.production_predictions[c["id"]] for c in long] == at[32]
    assert report["model"]["hash"] == rerun.model
    merged = cli("merge", batch_id, repo=repo.root)
    assert merged.exit_code == 0, merged.output


def test_straw_tune_ends_with_the_gates_verdict(flipped_repo, cli) -> None:  # noqa: ANN001
    """A report that passes the thresholds and breaks a watch case: `straw tune` says PASSED for
    the contract and still exits 1 with the gate's refusal, so CI that runs only `tune` fails."""
    repo, batch_id, _ = flipped_repo
    result = cli("tune", batch_id, "--quiet", repo=repo.root)
    assert result.exit_code == 1, result.output
    assert "PASSED: baseline" in result.stdout and "next: see the gate's refusal below" in result.stdout
    assert "straw: gate: refused: breaks 1 watch case the production model passed" in result.stderr
    assert f"`straw flips {batch_id} --promote` moves them into pending" in result.stderr
    as_json = cli("tune", batch_id, "--json", repo=repo.root)
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["summary"]["passed"]


def test_flip_ledger_lists_and_promotes_watch_flips_with_provenance(flipped_repo, cli) -> None:
    from conftest import commit_count, git

    repo, batch_id, production = flipped_repo
    report = tune_batch(repo, batch_id)
    candidate = report["model"]["hash"]
    negative = report["flips"]["watch"]["negative"]
    assert "w-password" in [f["id"] for f in negative]

    listed = cli("flips", batch_id, repo=repo.root)
    assert listed.exit_code == 0, listed.output
    assert plural(len(negative), "watch negative flip") in listed.stdout
    assert any("w-password" in line and "was account" in line and "now refund" in line
               for line in listed.stdout.splitlines())
    by_models = json.loads(cli("flips", "--model", candidate, "--vs", production, "--json",
                               repo=repo.root).stdout)
    assert by_models["negative"] == negative  # evaluating both models agrees with the report
    # BATCH and the models take what every other command takes: `batch/<id>`, unique prefixes
    # (`latest` too, but this fixture makes two batches in the same second: ambiguous)
    assert cli("flips", f"batch/{batch_id}", repo=repo.root).stdout == listed.stdout
    short = cli("flips", "--model", candidate[7:19], "--vs", production[7:19], "--json",
                repo=repo.root)
    assert short.exit_code == 0 and json.loads(short.stdout)["negative"] == negative
    assert cli("flips", repo=repo.root).exit_code == 2
    assert cli("flips", batch_id, "--model", candidate, repo=repo.root).exit_code == 2

    commits = commit_count(repo.root)
    promoted = cli("flips", batch_id, "--promote", repo=repo.root)
    assert promoted.exit_code == 0, promoted.output
    assert commit_count(repo.root) == commits + 1
    assert git(repo.root, "status", "--porcelain").stdout == ""
    for flip in negative:
        assert not (repo.root / case_path("watch", flip["id"])).exists()
        moved = json.loads((repo.root / case_path("pending", flip["id"])).read_text())
        assert moved["meta"]["flip"] == {
            "from": "watch", "batch": batch_id, "production_model": production,
            "candidate_model": candidate, "production_predicted": flip["production"],
            "candidate_predicted": flip["candidate"]}
    shown = json.loads(cli("show", "w-password", repo=repo.root).stdout)
    assert shown["split"] == "pending" and shown["expected"] == "account"
    again = cli("flips", batch_id, "--promote", repo=repo.root)
    assert again.exit_code == 2 and "no watch negative flips left" in again.output

    # the report judged a watch split main no longer has: the gate sends the batch back for a
    # retune, which no longer counts the promoted cases as watch flips
    assert f"next: straw batch update {batch_id}, then straw tune {batch_id}" in promoted.stdout
    refused = cli("gate", batch_id, repo=repo.root)
    assert refused.exit_code == 1
    assert "main's watch cases changed" in refused.output
    assert f"straw batch update {batch_id}" in refused.output
    assert cli("batch", "update", batch_id, repo=repo.root).exit_code == 0
    retuned = tune_batch(open_case_repo(repo.root), batch_id)
    assert "w-password" not in [r["id"] for r in retuned["cases"] if r["split"] == "watch"]
    assert "w-password" not in [f["id"] for f in retuned["flips"]["watch"]["negative"]]
    from repo_store.gate import check_gate

    assert check_gate(open_case_repo(repo.root), batch_id).status != "stale"  # a way forward


def test_a_watch_case_added_on_main_after_the_tune_makes_the_report_stale(watched_repo) -> None:
    """The gate protects the watch split the tune judged; a case added to main's since was never
    evaluated, so the batch goes back for `batch update` and a retune that includes it."""
    from repo_store.gate import check_gate

    repo, batch_id = watched_repo
    tune_batch(repo, batch_id)
    assert check_gate(repo, batch_id).passed
    curation.add_cases(repo, [curation.new_case_data(repo, input="is my parcel lost",
                                                     expected="shipping")], "a new neighbour",
                       split="watch")
    result = check_gate(open_case_repo(repo.root), batch_id)
    assert not result.passed and result.status == "stale"
    assert "main's watch cases changed" in result.reason
    assert f"straw batch update {batch_id}" in result.reason


# ---- old↔new weight interpolation -------------------------------------------------------------


def second_batch(watched_repo, tiny_model: Path, watch: list[tuple[str, str]], label: str,  # noqa: ANN001
                 texts: list[str], **train: Any) -> tuple[CaseRepo, str, str]:
    """The watched repository's first batch tuned and promoted; then `watch` (text, label) added
    as watch cases and `texts` as pending cases of `label`, `[train]` set to `train`, and those
    pending cases made batch 2. (repo, batch 2's id, production's hash)."""
    from repo_store import lockfile

    repo, batch_id = watched_repo
    first = tune_batch(repo, batch_id)
    lockfile.commit_lock(repo, {
        "model": first["model"]["hash"], "backend": "classifier", "base": first["model"]["base"],
        "batch": batch_id, "promoted": "2026-01-02T00:00:00Z", "reason": "merge"}, "promote")
    paths = write_cases(repo.root, "watch", [case(f"w-near-{i}", text, expected)
                                             for i, (text, expected) in enumerate(watch)])
    paths += write_cases(repo.root, "pending", [case(f"p-near-{label}-{i}", text, label)
                                                for i, text in enumerate(texts)])
    commit(repo.root, paths, f"watch cases near a batch of {label} cases")
    write_config(repo.root, tiny_model, **train)
    repo = open_case_repo(repo.root)
    second = batches.create_batch(repo, [f"p-near-{label}-{i}" for i in range(len(texts))],
                                  allow_small=True)
    return repo, second.id, first["model"]["hash"]


@pytest.fixture
def drifting_repo(watched_repo, tiny_model: Path):
    """Production = batch 1's model; watch cases of the old labels share words ('code', 'never
    arrives') with batch 2's new account cases, so full training drifts over one of them while
    the new cases pass well before λ = 1. [train] interpolate is on."""
    watch = [("my parcel never arrives", "shipping"), ("the package arrives late", "shipping"),
             ("code for my delivery", "shipping"), ("money back code", "refund"),
             ("refund never arrives", "refund"), ("my box is lost", "shipping")]
    new = ["login code delivery is late", "the login code never arrives",
           "two factor code delivery is late"]  # production calls the first shipping
    return second_batch(watched_repo, tiny_model, watch, "account", new, interpolate=True)


def test_interpolation_keeps_a_conservative_lambda_that_spares_the_watch_case(
        drifting_repo, tiny_model: Path) -> None:
    """Every tune keeps the λ with the fewest watch flips among those that pass, then the
    smallest; with one of a few seeds (which one depends on the CPU's float kernels) θ(1) flips
    a watch case and a λ below 1 spares it."""
    repo, batch_id, production = drifting_repo
    for seed in range(4):
        write_config(repo.root, tiny_model, interpolate=True, seed=seed)
        report = tune_batch(open_case_repo(repo.root), batch_id)
        schemas.check("report", report, "report")
        assert report["summary"]["passed"] and report["hyperparameters"]["interpolate"] is True
        chosen = report["interpolation"]
        tried = {t["lambda"]: t for t in chosen["tried"]}
        assert tried[1.0]["passed"]
        passing = [(t["watch_negative_flips"], t["lambda"]) for t in chosen["tried"]
                   if t["passed"]]
        assert (tried[chosen["lambda"]]["watch_negative_flips"], chosen["lambda"]) == \
            min(passing)
        assert len(report["flips"]["watch"]["negative"]) == tried[chosen["lambda"]][
            "watch_negative_flips"]
        watch_rows = [r for r in report["cases"] if r["split"] == "watch"]
        assert tried[chosen["lambda"]]["watch_passed"] == sum(r["pass"] for r in watch_rows)
        if tried[chosen["lambda"]]["watch_negative_flips"] < tried[1.0]["watch_negative_flips"]:
            break  # θ_new flips a watch case that the kept θ(λ) spares
    else:
        pytest.fail("no seed's θ(λ < 1) spared a watch case that θ(1) flips")
    assert chosen["lambda"] < 1.0
    # batch show says which λ was kept and what the tuned model would have flipped
    shown = run_cli(["batch", "show", batch_id, "--repo", str(repo.root)])
    assert shown.exit_code == 0, shown.output
    kept = tried[chosen["lambda"]]
    assert (f"interpolation: kept λ = {chosen['lambda']} "
            f"({plural(kept['watch_negative_flips'], 'watch negative flip')}, "
            f"{kept['watch_passed']} watch cases right") in shown.stdout
    assert f"λ = 1: {plural(tried[1.0]['watch_negative_flips'], 'watch negative flip')}" in shown.stdout
    body = run_cli(["batch", "pr-body", batch_id, "--repo", str(repo.root)])
    assert f"- Interpolation: kept λ = {chosen['lambda']} (" in body.stdout, body.output
    # the stored model is θ(λ): its predictions computed afresh match the report's rows
    assert_stored_model_answers_as_reported(repo, report, batch_id)


def assert_stored_model_answers_as_reported(repo, report: dict, batch_id: str) -> None:  # noqa: ANN001
    """The model a tune stored, evaluated afresh (prediction cache emptied), predicts what the
    tune's report says for every baseline and watch case: what was chosen is what was saved."""
    for path in (repo.model_store / "predictions").iterdir():
        path.unlink()
    fresh = evaluate(repo, report["model"]["hash"], "all", ref=f"batch/{batch_id}")
    by_id = {r["id"]: r["predicted"] for r in fresh["cases"]}
    assert all(by_id[r["id"]] == r["predicted"] for r in report["cases"] if r["id"] in by_id)
    assert {r["split"] for r in fresh["cases"]} >= {"baseline", "watch"}



def test_a_lambda_that_fails_is_rescued_by_refitting_the_head(drifting_repo, tiny_model: Path
                                                              ) -> None:
    """θ(0) is the production model, which fails one of the batch's cases; with [train]
    refit_head its output layer is refitted on the baseline and new cases and θ(0) passes, and
    it then takes part in the choice like any λ that passes. Without the refit θ(0) fails."""
    repo, batch_id, _ = drifting_repo
    tried = {}
    for refit in (False, True):
        write_config(repo.root, tiny_model, interpolate=True, refit_head=refit,
                     interpolate_distill=0.0)  # the plain refit; its distillation: test_head_refit
        report = tune_batch(open_case_repo(repo.root), batch_id)
        schemas.check("report", report, "report")
        tried[refit] = {t["lambda"]: t for t in report["interpolation"]["tried"]}
        if refit:
            kept = report["interpolation"]["lambda"]
    assert not tried[False][0.0]["passed"] and "head_refit" not in tried[False][0.0]
    assert tried[True][0.0]["passed"] and tried[True][0.0]["head_refit"] is True
    passing = sorted((t["watch_negative_flips"], t["lambda"]) for t in tried[True].values()
                     if t["passed"])
    assert kept == passing[0][1]  # the fewest watch flips, then the smallest λ
    first_clean = min((lam for flips, lam in passing if flips == 0), default=1.0)
    assert max(tried[True]) == 1.0 and all(lam <= first_clean for lam in tried[True] if lam < 1)


def test_a_tune_that_validated_production_first_judges_theta_zero_without_a_forward_pass(
        drifting_repo, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adaptive replay over a baseline larger than `replay_size` validates the production model
    before round 1; the tune hands that validation to interpolation, whose grid then runs one
    forward pass fewer than the λ it tries below 1 (θ(0) is judged from production's features)."""
    from tuning import interpolation

    calls: list[int] = []
    real = interpolation.validate

    def counted(*args: Any, **kwargs: Any) -> Any:  # stands in for interpolation.validate
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(interpolation, "validate", counted)
    repo, batch_id, _ = drifting_repo
    for replay_size, forward_passes_saved in ((4, 1), (1000, 0)):
        calls.clear()
        write_config(repo.root, tiny_model, interpolate=True, replay_size=replay_size)
        report = tune_batch(open_case_repo(repo.root), batch_id)
        assert report["summary"]["passed"]
        below_one = [t for t in report["interpolation"]["tried"] if t["lambda"] < 1.0]
        assert below_one[0]["lambda"] == 0.0
        assert len(calls) == len(below_one) - forward_passes_saved, replay_size
        assert_stored_model_answers_as_reported(open_case_repo(repo.root), report, batch_id)


# ---- focal distillation from the production model ---------------------------------------------


def test_distillation_adds_a_kl_term_that_changes_the_result(tiny_classifier: Path,
                                                             tmp_path: Path) -> None:
    """Same production model, same seed, same data: with distill > 0 the loss holds the KL term
    (higher at the start, where the student is the teacher only on the old labels' rows) and the
    trained weights differ; with distill = 0 the teacher is ignored."""
    import torch

    from tuning.training import train_until_pass

    production = make_backend(tiny_classifier, max_iterations=2, replay="all")
    production.prepare(examples_of_cases(baseline_cases()))
    production.train(examples_of_cases(baseline_cases()), 6, seed=0)
    production.save(tmp_path / "production")

    def tuned(distill: float) -> tuple[Any, Any]:
        backend = make_backend(tmp_path / "production", max_iterations=1, replay="all",
                               distill=distill, distill_temperature=2.0)
        data = TrainingSet(baseline_cases(), new_cases())
        backend.set_teacher([c.input for c in data.baseline + data.new])
        assert backend.teacher and len(next(iter(backend.teacher.values()))) == 4  # old labels
        outcome = train_until_pass(backend, data, backend.train_settings,
                                   lambda *a: False)
        return outcome.rounds[0]["loss"], backend.snapshot()[1]

    plain_loss, plain = tuned(0.0)
    again_loss, again = tuned(0.0)
    kl_loss, distilled = tuned(1.0)
    assert plain_loss == again_loss  # the run is deterministic: a difference is the KL term's
    assert all(torch.equal(plain[k], again[k]) for k in plain)
    assert kl_loss != plain_loss
    assert any(not torch.equal(plain[k], distilled[k]) for k in plain if plain[k].is_floating_point())


def examples_of_cases(cases: list) -> list:
    from tuning.cases_io import examples_of

    return examples_of(cases, "classifier")


def test_tune_with_distillation_records_it_and_still_reaches_the_gate(drifting_repo,
                                                                      tiny_model) -> None:
    """The tiny random model's logits run to thousands, so even strength 0.1 is a strong pull;
    at 1.0 its tune does not reach the gate in 4 rounds (the KL term holds it back)."""
    repo, batch_id, _ = drifting_repo
    write_config(repo.root, tiny_model, distill=0.1, distill_temperature=2.0)
    repo = open_case_repo(repo.root)
    report = tune_batch(repo, batch_id)
    schemas.check("report", report, "report")
    assert report["hyperparameters"]["distill"] == 0.1
    assert report["hyperparameters"]["distill_temperature"] == 2.0
    assert report["summary"]["passed"] and "flips" in report


def test_a_report_with_watch_rows_gates_merges_through_the_rerun_and_verifies(watched_repo,
                                                                              cli) -> None:
    """The gate checks watch rows against the branch's watch cases (counted in no score), the
    merge's rerun predicts them too, and verify accepts the merged report."""
    from repo_store.gate import check_gate
    from tuning.recheck import merge_checked

    repo, batch_id = watched_repo
    report = tune_batch(repo, batch_id)
    assert {r["id"] for r in report["cases"] if r["split"] == "watch"} == {"w-refund", "w-shipping"}
    assert check_gate(repo, batch_id).passed
    merge_checked(repo, batch_id)
    verified = cli("verify", repo=repo.root)
    # the one violation is the fixture's seeding commit; the batch's merge (watch rows) is good
    assert "1 violation(s)" in verified.stderr, verified.output
    assert "not a straw batch merge" in verified.stdout and batch_id not in verified.stdout


def test_eval_of_a_model_that_is_not_production_records_its_flips(flipped_repo, cli) -> None:
    """`evaluate` judges a candidate the way a tune does: its baseline and watch flips against
    the production model, the same as the tune report's; production itself has none."""
    repo, batch_id, production = flipped_repo
    tuned = tune_batch(repo, batch_id)
    candidate = tuned["model"]["hash"]
    report = evaluate(repo, candidate, "baseline")  # main: its baseline and watch cases
    schemas.check("report", report, "report")
    assert report["flips"] == tuned["flips"]
    assert "w-password" in [f["id"] for f in report["flips"]["watch"]["negative"]]
    assert "flips" not in evaluate(repo, production, "baseline")
    shown = cli("eval", "--model", candidate, repo=repo.root)
    assert "flips vs production: watch: " in shown.stdout and "w-password" in shown.stdout
