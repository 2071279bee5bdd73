"""`straw demo`: the seed's story, measured. In a fresh case repository seeded with the demo
cases, on the embedded default model:

1. train the first production model on the baseline;
2. Pharaoh's way — take the new cases one at a time and fine-tune on that case alone until it
   passes (what a team does when each customer complaint triggers a fine-tune), counting the
   baseline cases broken after each;
3. straw's way — the same cases as one batch → branch → tune on baseline + batch → gate → merge.

Both ways start from the same production model and use the same optimiser settings. The numbers
are whatever the run measures: if the naive way breaks nothing for some seed, the table says so."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repo_store import batches
from repo_store import config as repo_config
from repo_store.gate import check_gate
from repo_store.gitio import commit_paths
from repo_store.repo import MAIN, CaseRepo, open_case_repo
from repo_store.setup import init_case_repo
from tuning import backends
from tuning.backends.base import Example, TrainHooks, settings_from_config
from tuning.bootstrap import train_baseline
from tuning.cases_io import examples_of, passes, target_of
from tuning.model_store import ModelStore
from tuning.progress import Phase, Progress, ignore
from tuning.recheck import merge_checked
from tuning.tune import tune_batch


@dataclass
class WayResult:
    name: str
    baseline_before: int
    baseline_after: int
    baseline_total: int
    new_passed: int
    new_total: int
    broken: list[str]
    seconds: float
    trainings: int  # optimiser runs: single-case fine-tunes, or tune rounds


@dataclass
class DemoResult:
    root: Path
    production: str
    naive: WayResult
    straw: WayResult
    per_case: list[dict[str, Any]] = field(default_factory=list)  # the naive way, case by case
    git_log: str = ""


def _load(repo: CaseRepo, model_hash: str) -> Any:
    model_s, train_s = settings_from_config(repo.config)
    backend = backends.create(model_s, train_s)
    backend.load(ModelStore(repo.model_store).load(model_hash))
    return backend


def pharaohs_way(repo: CaseRepo, model_hash: str, new: list[Any], *, max_steps: int = 20,
                 progress: Progress = ignore) -> tuple[WayResult, list[dict[str, Any]]]:
    """Fine-tune the production model on each new case alone until it passes."""
    started = time.monotonic()
    baseline = repo.load_ref(MAIN).split("baseline")
    backend = _load(repo, model_hash)
    before = [passes(c, p.text) for c, p in zip(baseline, backend.predict([c.input for c in baseline]),
                                                  strict=True)]
    backend.prepare(examples_of(baseline + new, backend.name))  # room for any new label
    seed = backend.train_settings.seed
    per_case, trainings = [], 0
    broken: set[str] = set()
    for index, case in enumerate(new, 1):
        progress(Phase("pharaoh", f"case {index}/{len(new)}: fine-tune on {case.id} alone"))
        example = [Example(case.input, target_of(case, backend.name))]
        steps = 0
        while steps < max_steps:
            steps += 1
            trainings += 1
            backend.train(example, 1, TrainHooks(), seed=seed + steps)
            if passes(case, backend.predict([case.input])[0].text):
                break
        now = backend.predict([c.input for c in baseline])
        broken_now = {c.id for c, was, p in zip(baseline, before, now, strict=True)
                      if was and not passes(c, p.text)}
        broken |= broken_now
        per_case.append({"case": case.id, "steps": steps, "broken_now": len(broken_now)})
    final_base = backend.predict([c.input for c in baseline])
    final_new = backend.predict([c.input for c in new])
    broken_end = [c.id for c, was, p in zip(baseline, before, final_base, strict=True)
                  if was and not passes(c, p.text)]
    result = WayResult(
        "Pharaoh's way (one case at a time)", sum(before),
        sum(passes(c, p.text) for c, p in zip(baseline, final_base, strict=True)), len(baseline),
        sum(passes(c, p.text) for c, p in zip(new, final_new, strict=True)), len(new),
        broken_end, round(time.monotonic() - started, 1), trainings)
    return result, per_case


def straws_way(repo: CaseRepo, new: list[Any], *, progress: Progress = ignore) -> WayResult:
    """Batch → branch → tune on baseline + batch → gate → merge."""
    started = time.monotonic()
    batch = batches.create_batch(repo, [c.id for c in new], title="demo: the new cases")
    report = tune_batch(repo, batch.id, progress=progress)
    gate = check_gate(repo, batch.id)
    if gate.passed:
        merge_checked(repo, batch.id)
    s = report["summary"]
    return WayResult(
        "straw's way (batch + baseline, gated)", s["baseline"]["total"] - len(report["blame"]),
        s["baseline"]["passed"], s["baseline"]["total"], s["new"]["passed"], s["new"]["total"],
        list(report["blame"]), round(time.monotonic() - started, 1), len(report["rounds"]))


def run_demo(workdir: Path, *, seed: int = 0, base: str | None = None,
             config: dict[str, dict[str, Any]] | None = None, new_cases: int | None = None,
             max_steps: int = 20, progress: Progress | None = None) -> DemoResult:
    """`base`, `config`, `new_cases`: a smaller demo for tests (a tiny model, fewer rounds)."""
    emit = progress or ignore
    emit(Phase("setup", f"case repository in {workdir}"))
    repo, _ = init_case_repo(workdir, demo=True)
    overrides = {**(config or {})}
    overrides["train"] = {**overrides.get("train", {}), "seed": seed}
    if base:
        overrides["model"] = {**overrides.get("model", {}), "base": base}
    if new_cases:
        overrides["batch"] = {"min_size": 1, "max_size": new_cases}
    repo_config.write(repo.root, overrides)
    commit_paths(repo.root, ["straw.toml"], "demo: settings")
    repo = open_case_repo(repo.root)
    emit(Phase("baseline", "train the first production model on the baseline"))
    lock = train_baseline(repo, progress=emit, promote_failing=True)  # the story's imperfect start
    pending = sorted(repo.load_ref(MAIN).split("pending"), key=lambda c: (c.created, c.id))
    new = pending[: repo.config["batch"]["max_size"]]
    naive, per_case = pharaohs_way(repo, lock["model"], new, max_steps=max_steps, progress=emit)
    emit(Phase("straw", f"batch of {len(new)} cases → tune → gate → merge"))
    gated = straws_way(repo, new, progress=emit)
    log = subprocess.run(["git", "log", "--graph", "--format=%h %s%n%(trailers:only,unfold)", "-n", "8"],
                         cwd=repo.root, capture_output=True, text=True).stdout
    return DemoResult(repo.root, lock["model"], naive, gated, per_case, log)
