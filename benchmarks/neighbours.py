"""Neighbours benchmark (issue 14): `python benchmarks/neighbours.py [--seeds 0,1,2]
[--methods replay,distill,interpolate,both]`.

banking77 from ../shared/data/banking77: the baseline and three 20-case batches of cases.jsonl,
watch.jsonl as the watch split, and test.jsonl only for the final score (never used to choose
anything). For each seed and method: the baseline is tuned from the embedded MiniLM and merged,
then each batch is tuned from production, gated and merged. Per merge it prints: contract kept
(baseline and new at 100 %), watch and test negative flips against the previous production model,
test NFR, test accuracy, seconds. The watch gate is lifted (`max_watch_negative_flips` = 10000) so
every method merges and the flips are compared, not refused."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/banking77")
IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
METHODS = {"replay": {}, "distill": {"distill": 0.5}, "interpolate": {"interpolate": True},
           "both": {"distill": 0.5, "interpolate": True}}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def config(seed: int, method: str) -> str:
    train = {"seed": seed, **METHODS[method]}
    lines = ["[train]", *[f"{k} = {json.dumps(v)}" for k, v in train.items()],
             "", "[gate]", "max_watch_negative_flips = 10000", "", "[batch]", "min_size = 1"]
    return "\n".join(lines) + "\n"


def test_predictions(repo, model_hash: str) -> list[str]:  # noqa: ANN001 - CaseRepo
    from tuning.backends.base import settings_from_config
    from tuning.model_store import ModelStore
    from tuning.tune import load_stored

    model_s, train_s = settings_from_config(repo.config)
    backend = load_stored(ModelStore(repo.model_store), model_hash, model_s, train_s)
    return [p.text for p in backend.predict([r["input"] for r in rows("test.jsonl")])]


def run(seed: int, method: str, folder: Path) -> Iterator[dict]:
    """One entry per merge after the baseline, yielded as it is measured."""
    from repo_store import batches, curation, gate, gitio
    from repo_store.repo import open_case_repo
    from repo_store.setup import init_case_repo
    from tuning.recheck import merge_checked
    from tuning.tune import tune_batch

    repo, _ = init_case_repo(folder)
    (repo.root / "straw.toml").write_text(config(seed, method))
    gitio.commit_paths(repo.root, ["straw.toml"], "benchmark config")
    repo = open_case_repo(repo.root)
    watch = [curation.new_case_data(repo, input=r["input"], expected=r["expected"])
             for r in rows("watch.jsonl")]
    curation.add_cases(repo, watch, "watch", split="watch")
    expected = [r["expected"] for r in rows("test.jsonl")]
    groups: dict[str, list[dict]] = {}
    for row in rows("cases.jsonl"):
        groups.setdefault(row["group"], []).append(row)
    before = None
    for name, items in groups.items():
        records = [curation.new_case_data(repo, input=r["input"], expected=r["expected"])
                   for r in items]
        curation.add_cases(repo, records, f"banking77 {name}")
        first = name == "baseline"
        batch = batches.create_batch(repo, all_pending=first, allow_small=not first)
        started = time.monotonic()
        report = tune_batch(repo, batch.id)
        seconds = time.monotonic() - started
        s = report["summary"]
        kept = s["baseline"]["passed"] == s["baseline"]["total"] and \
            s["new"]["passed"] == s["new"]["total"]
        if not gate.check_gate(repo, batch.id).passed:
            yield {"merge": name, "kept": kept, "merged": False, "seconds": round(seconds, 1)}
            return
        merge_checked(repo, batch.id)
        now = test_predictions(repo, report["model"]["hash"])
        right = [p == e for p, e in zip(now, expected, strict=True)]
        entry = {"merge": name, "kept": kept, "merged": True, "seconds": round(seconds, 1),
                 "test_accuracy": sum(right) / len(right)}
        if before is not None:
            was = [p == e for p, e in zip(before, expected, strict=True)]
            entry["test_negative_flips"] = sum(w and not r for w, r in zip(was, right, strict=True))
            entry["test_nfr"] = entry["test_negative_flips"] / len(right)
            entry["watch_negative_flips"] = len(report["flips"]["watch"]["negative"])
            entry["lambda"] = (report.get("interpolation") or {}).get("lambda")
            yield entry
        before = now


def main() -> None:
    args = dict(zip(sys.argv[1::2], sys.argv[2::2], strict=False))
    seeds = [int(s) for s in args.get("--seeds", "0,1,2").split(",")]
    methods = args.get("--methods", ",".join(METHODS)).split(",")
    for key, value in IDENTITY.items():
        os.environ.setdefault(key, value)
    print("| seed | method | merge | contract kept | watch neg. flips | test neg. flips | test NFR "
          "| test accuracy | λ | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, list[int]] = {}
    for seed in seeds:
        for method in methods:
            with tempfile.TemporaryDirectory(prefix="straw-neigh-") as tmp:
                for r in run(seed, method, Path(tmp) / "repo"):
                    print(f"| {seed} | {method} | {r['merge']} | {'yes' if r['kept'] else 'NO'} | "
                          f"{r.get('watch_negative_flips', '')} | {r.get('test_negative_flips', '')} | "
                          f"{r.get('test_nfr', 0):.1%} | {r.get('test_accuracy', 0):.1%} | "
                          f"{r.get('lambda')} | {r['seconds']} |", flush=True)
                    totals.setdefault(method, []).append(r.get("test_negative_flips", 0))
    for method, flips in totals.items():
        print(f"{method}: test negative flips over all merges and seeds {sum(flips)}; "
              f"median per merge {statistics.median(flips)}")


if __name__ == "__main__":
    main()
