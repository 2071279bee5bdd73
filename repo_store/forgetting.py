"""Forgetting metrics, computed from reports and manifests in git (no model needed):
backward transfer over merged batches (Lopez-Paz & Ranzato 2017, "Gradient Episodic Memory"),
and McNemar's exact test for paired pass/fail flips between two models."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from repo_store import gitio
from repo_store.repo import MAIN, CaseRepo


def bwt(repo: CaseRepo, passed_now: dict[str, bool], ref: str = MAIN) -> float | None:
    """BWT = mean over merged batches i of (R_now,i − R_i,i): R_i,i is batch i's new-case pass rate
    in its own merged report, R_now,i the pass rate of the same cases in `passed_now`. Negative
    means the model forgot earlier batches; None before any batch was merged."""
    deltas = []
    for path in gitio.ls_tree(repo.git, ref, "batches"):
        batch_id = path.rsplit("/", 1)[-1].removesuffix(".json")
        manifest = json.loads(gitio.read_file(repo.git, ref, path) or b"{}")
        raw = gitio.read_file(repo.git, ref, f"reports/{batch_id}.json")
        if not raw or not manifest.get("cases"):
            continue
        then = json.loads(raw)["summary"]["new"]
        now = [passed_now[c] for c in manifest["cases"] if c in passed_now]
        if not then["total"] or not now:
            continue
        deltas.append(sum(now) / len(now) - then["passed"] / then["total"])
    return round(sum(deltas) / len(deltas), 6) if deltas else None


@dataclass(frozen=True)
class McNemar:
    a_only: int  # cases model A passes and model B fails
    b_only: int  # cases model B passes and model A fails
    p_value: float  # exact two-sided binomial test on the discordant pairs

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def mcnemar(a_pass: list[bool], b_pass: list[bool]) -> McNemar:
    a_only = sum(1 for a, b in zip(a_pass, b_pass, strict=True) if a and not b)
    b_only = sum(1 for a, b in zip(a_pass, b_pass, strict=True) if b and not a)
    n, k = a_only + b_only, min(a_only, b_only)
    if n == 0:
        return McNemar(0, 0, 1.0)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return McNemar(a_only, b_only, min(1.0, 2 * tail))
