"""benchmarks/neighbours.py's own arithmetic: its configs are valid straw.toml, flips and the
per-method summary are counted right (the benchmark itself takes an hour; these take a second)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from repo_store import config

SPEC = importlib.util.spec_from_file_location(
    "neighbours_bench", Path(__file__).resolve().parents[1] / "benchmarks" / "neighbours.py")
assert SPEC is not None and SPEC.loader is not None
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)


def test_every_method_config_is_a_valid_straw_toml() -> None:
    for method in [*bench.METHODS, "baseline"]:
        parsed = config.parse(bench.config(3, method))
        assert parsed["train"]["seed"] == 3
        assert parsed["gate"]["max_watch_negative_flips"] == 10000
    assert config.parse(bench.config(0, "both"))["train"]["distill"] == 0.5
    naive = config.parse(bench.config(0, "naive"))["train"]
    assert (naive["distill"], naive["interpolate"]) == (0.0, False)


def test_score_counts_negative_flips_only() -> None:
    expected = ["a", "b", "c", "d"]
    before = ["a", "b", "x", "x"]  # right on a, b
    now = ["a", "x", "c", "x"]  # b broke (negative), c fixed (positive)
    s = bench.score(before, now, expected)
    assert s == {"accuracy": 0.5, "negative_flips": 1, "nfr": 0.25}
    assert bench.score(None, now, expected) == {"accuracy": 0.5}


def test_summary_sums_flips_over_merges_and_takes_the_median_of_seeds() -> None:
    rows = [{"seed": seed, "method": "replay", "merge": merge, "kept": True, "seconds": 10.0,
             "test_negative_flips": flips, "test_accuracy": 0.9}
            for seed, merge, flips in [(0, "b1", 3), (0, "b2", 4), (1, "b1", 1), (1, "b2", 1),
                                       (2, "b1", 9), (2, "b2", 0)]]
    rows[1]["test_wrong_since_baseline"] = 5  # the last merge's floor, per seed
    rows.append({"seed": 0, "method": "baseline", "merge": "baseline", "kept": True,
                 "seconds": 99.0, "test_accuracy": 0.7})
    (text,) = bench.summary(rows)
    assert "test negative flips per seed {0: 7, 1: 2, 2: 9} (median 7)" in text
    assert "tune seconds {0: 20.0, 1: 20.0, 2: 20.0} (median 20.0)" in text
    assert "every contract kept: True" in text
    assert "(a floor under the summed flips) {0: 5, 1: None, 2: None}" in text


def test_dev_rows_are_the_eight_intents_and_touch_no_other_split(banking77: Path) -> None:
    dev = bench.dev_rows()
    labels = {r["expected"] for r in bench.rows("cases.jsonl")}
    assert len(labels) == 8 and {r["expected"] for r in dev} == labels
    others = {r["input"].lower() for f in ("cases.jsonl", "watch.jsonl", "test.jsonl")
              for r in bench.rows(f)}
    assert len(dev) > 500 and not others & {r["input"].lower() for r in dev}


def test_held_out_scores_test_then_dev_apart(banking77: Path) -> None:
    n = len(bench.rows("test.jsonl"))
    expected = ["a"] * n + ["b", "b", "b"]
    before = ["a"] * n + ["b", "x", "x"]
    # one test flip; dev: one negative flip, one positive, one wrong before and after
    now = ["x"] + ["a"] * (n - 1) + ["x", "b", "x"]
    s = bench.held_out(before, now, expected)
    assert (s["test_negative_flips"], s["dev_negative_flips"]) == (1, 1)
    assert s["dev_accuracy"] == pytest.approx(1 / 3)
    assert s["dev_flips_to"] == {"b → x": 1}  # where each dev flip went
    assert s["dev_wrong_as"] == {"b → x": 2}  # every wrong dev answer, flipped or not
    # dev's odd rows alone (the half that --watch-plus-dev never adds to watch): the second row
    assert (s["devb_negative_flips"], s["devb_accuracy"]) == (0, 1.0)


def test_paired_compares_final_test_answers_with_replay_question_by_question() -> None:
    def row(method: str, seed: int, merge: str, right: str) -> dict:
        return {"seed": seed, "method": method, "merge": merge, "kept": True, "seconds": 1.0,
                "test_right": right}

    rows = [row("replay", 0, "b1", "0000000000"), row("replay", 0, "b2", "1111111111"),
            # the last merge counts: replay alone right on 8 questions, interpolate alone on 0
            row("interpolate", 0, "b1", "1111111111"), row("interpolate", 0, "b2", "1100000000"),
            row("interpolate", 1, "b2", "1"),  # no replay on seed 1: nothing to pair with
            # on seed 2 interpolate stopped after b1 and replay went on: not the same point
            row("replay", 2, "b1", "1"), row("replay", 2, "b2", "0"), row("interpolate", 2, "b1", "1"),
            {"seed": 0, "method": "baseline", "merge": "baseline", "kept": True, "seconds": 1.0}]
    (text,) = bench.paired(rows)
    assert text.startswith("interpolate against replay, final test answers: seed 0: ")
    assert "replay alone right on 8, interpolate alone on 0 (p = 0.00781)" in text
    assert "seed 1" not in text and "seed 2" not in text


def test_held_out_records_each_test_answer_right_or_wrong(banking77: Path) -> None:
    n = len(bench.rows("test.jsonl"))
    expected = ["a"] * n + ["b"] * 3
    now = ["x", "a"] + ["a"] * (n - 2) + ["b"] * 3
    right = bench.held_out(now, now, expected)["test_right"]
    assert len(right) == n and right.startswith("01") and right.count("0") == 1
