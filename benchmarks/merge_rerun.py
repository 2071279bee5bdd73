"""The cost of `straw merge`'s own check: rerunning the report's stored model on every case of the
batch branch (tuning.recheck.rerun_batch: read the branch's cases from git, hash the model's files
when first used on this machine, load it, predict every case, no prediction cache), beside the
bare work in the same process (the same backend loaded from the same folder predicting the same
inputs). The model is the embedded MiniLM classifier (its head untrained: the cost of a
prediction does not depend on the weights), saved in the repository's model store.

    .venv/bin/python benchmarks/merge_rerun.py [--cases 0 1000] [--runs 3]

`--cases 0` is the demo repository (100 baseline + 20 new cases); any other N is a generated
repository of N cases with a batch of 20."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Row, print_table, run_rows  # noqa: E402
from benchmarks.repo_scale import ensure_git_identity, make_repo  # noqa: E402

if TYPE_CHECKING:
    from repo_store.cases import Case
    from repo_store.repo import CaseRepo
    from tuning.backends.base import Input


def setup(n: int, folder: Path) -> tuple[CaseRepo, str, list[Case]]:
    """(repo, batch id, the branch's cases) with a stored model and its report committed."""
    from repo_store import batches, gitio, reports
    from repo_store.config_set import set_value
    from repo_store.repo import open_case_repo
    from repo_store.setup import init_case_repo
    from tuning import backends
    from tuning.backends.base import Example, settings_from_config
    from tuning.model_store import ModelStore
    from tuning.report import case_rows

    if n:
        make_repo(folder, n)
        repo = open_case_repo(folder)
    else:
        repo, _ = init_case_repo(folder, demo=True)
    for key in ("gate.baseline_threshold", "gate.new_threshold"):
        set_value(repo, key, "0.0")  # an untrained head fails cases; the cost is the same
    set_value(repo, "batch.min_size", "1")
    repo = open_case_repo(folder)
    model_s, train_s = settings_from_config(repo.verdict_config)
    backend = backends.create(model_s, train_s)
    backend.load(model_s.base)
    backend.prepare([Example(c.input, str(c.expected), c.id) for c in repo.load().cases])
    model = ModelStore(repo.model_store).save(
        backend, {"base": model_s.base, "created": "2026-12-03T00:00:00Z", "max_length": model_s.max_length})
    batch = batches.create_batch(repo)
    baseline, new = batches.split_cases(repo, batch.id)
    group = baseline + new
    preds = backend.predict([c.input for c in group])
    rows = case_rows(group, ["baseline"] * len(baseline) + ["new"] * len(new), preds)
    score = {s: {"passed": sum(r["pass"] for r in rows if r["split"] == s),
                 "total": sum(1 for r in rows if r["split"] == s)} for s in ("baseline", "new")}
    report = {
        "kind": "tune", "batch": batch.id, "created": "2026-12-03T00:00:00Z",
        "model": {"hash": model, "base": model_s.base, "backend": backend.name},
        "cases_tree": repo.cases_tree(batch.branch),
        "main_baseline_tree": gitio.tree_of(repo.git, "main", "cases/baseline"),
        "cases": rows, "summary": {**score, "passed": True},
    }
    reports.write_report(repo, batch.id, report)
    return repo, batch.id, group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[0, 1000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    ensure_git_identity()
    from tuning import backends
    from tuning.backends.base import settings_from_config
    from tuning.model_store import VERIFIED_FILE, ModelStore
    from tuning.recheck import rerun_batch

    rows = []
    for n in args.cases:
        folder = Path(tempfile.mkdtemp(prefix="straw-rerun-")) / "repo"
        repo, batch_id, group = setup(n, folder)
        store = ModelStore(repo.model_store)
        model = store.hashes()[0]
        inputs: list[Input] = [c.input for c in group]

        def bare(model: str = model, inputs: list[Input] = inputs, repo: CaseRepo = repo,
                 store: ModelStore = store) -> None:
            model_s, train_s = settings_from_config(repo.verdict_config)
            backend = backends.create(model_s, train_s)
            backend.load(store.folder(model))
            backend.predict(inputs)

        def cold(repo: CaseRepo = repo, batch_id: str = batch_id, store: ModelStore = store) -> None:
            (store.root / VERIFIED_FILE).unlink(missing_ok=True)
            rerun_batch(repo, batch_id)

        def warm(repo: CaseRepo = repo, batch_id: str = batch_id) -> None:
            rerun_batch(repo, batch_id)

        label = "demo, 120 cases" if n == 0 else f"{len(group):,} cases"
        rows += [
            Row(f"merge rerun, first use of the model ({label})", cold, bare, target_ratio=None,
                note="load the stored model + predict the same inputs, in-process"),
            Row(f"merge rerun, model hashed before ({label})", warm, bare, target_ratio=None,
                note="load the stored model + predict the same inputs, in-process"),
        ]
    print_table(run_rows(rows, runs=args.runs, warmup=0, progress=lambda m: print(m, file=sys.stderr)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
