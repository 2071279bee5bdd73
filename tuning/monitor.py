"""`straw monitor`: evaluate the production model on main's baseline, record the result, and
when it falls below the threshold alert and roll back to the most recent earlier model that
still passes the current baseline. Built for cron or CI: one line out, an exit code."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from typing import Any

from repo_store import lockfile, monitor_log
from repo_store.errors import UsageError
from repo_store.ids import now_iso
from repo_store.repo import CaseRepo
from tuning.evaluate import evaluate
from tuning.model_store import ModelStore
from tuning.progress import Progress

logger = logging.getLogger(__name__)


@dataclass
class MonitorResult:
    model: str
    passed: int
    total: int
    threshold: float
    failing: list[str]
    action: str  # ok | rollback | alert
    rolled_back_to: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 1.0

    @property
    def healthy(self) -> bool:
        return self.action == "ok"

    def summary(self) -> str:
        head = (f"model {self.model[:19]} passes {self.passed}/{self.total} baseline cases "
                f"({self.rate:.1%}, threshold {self.threshold:.0%})")
        if self.action == "ok":
            return head
        failing = ", ".join(self.failing[:5]) + (" …" if len(self.failing) > 5 else "")
        tail = (f"; rolled back to {self.rolled_back_to[:19]}" if self.rolled_back_to
                else "; no earlier model passes: nothing changed")
        return f"ALERT: {head}; failing: {failing}{tail}"


def _score(report: dict[str, Any]) -> tuple[int, int, list[str]]:
    s = report["summary"]["baseline"]
    return s["passed"], s["total"], [c["id"] for c in report["cases"]
                                     if not c["pass"] and c["split"] == "baseline"]


def find_rollback(repo: CaseRepo, current: str, threshold: float,
                  progress: Progress | None = None) -> tuple[dict[str, Any], int, int] | None:
    """The most recent earlier production model (from models.lock's history) that passes the
    current baseline at the threshold: (its lock, passed, total)."""
    store = ModelStore(repo.model_store)
    seen = {current}
    for version in lockfile.lock_history(repo):
        model = version.lock["model"]
        if model in seen:
            continue
        seen.add(model)
        if not store.has(model):
            logger.warning("rollback candidate %s is missing from the model store", model)
            continue
        passed, total, _ = _score(evaluate(repo, model, "baseline", progress=progress))
        if total and passed / total >= threshold:
            return version.lock, passed, total
    return None


def _alert(command: str, text: str) -> str | None:
    """Run the configured alert command with the summary on stdin; a failure is returned, not
    raised: the monitor's result is recorded either way."""
    try:
        proc = subprocess.run(command, shell=True, input=text.encode(), capture_output=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"alert_command failed: {err}"
    if proc.returncode:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        return f"alert_command exited {proc.returncode}: {lines[-1] if lines else ''}"
    return None


def run_monitor(repo: CaseRepo, threshold: float | None = None, rollback: bool = True,
                progress: Progress | None = None) -> MonitorResult:
    threshold = repo.config["monitor"]["threshold"] if threshold is None else threshold
    lock = lockfile.read_lock(repo)
    if lock is None:
        raise UsageError("no production model yet: models.lock is missing on main "
                         "(merge a batch first)")
    model = lock["model"]
    if not ModelStore(repo.model_store).has(model):
        raise UsageError(f"models.lock names {model}, which is not in the model store "
                         f"({repo.model_store}); restore it or roll back by hand")
    passed, total, failing = _score(evaluate(repo, model, "baseline", progress=progress))
    result = MonitorResult(model, passed, total, threshold, failing, "ok")
    if result.rate < threshold:
        result.action = "alert"
        target = find_rollback(repo, model, threshold, progress) if rollback else None
        if target:
            good, good_passed, good_total = target
            result.action, result.rolled_back_to = "rollback", good["model"]
            lockfile.rollback_to(
                repo, good,
                f"The monitor found {model[:19]} passing {passed}/{total} baseline cases "
                f"(threshold {threshold:.0%}); {good['model'][:19]} passes {good_passed}/{good_total}.",
                {"passed": good_passed, "total": good_total})
        command = repo.config["monitor"]["alert_command"]
        if command:
            failure = _alert(command, result.summary() + "\n")
            if failure:
                result.notes.append(failure)
    entry = {"time": now_iso(), "model": model, "passed": passed, "total": total,
             "rate": round(result.rate, 6), "threshold": threshold, "failing": failing,
             "action": result.action, "rolled_back_to": result.rolled_back_to,
             "notes": result.notes}
    monitor_log.append_entry(repo, entry, f"Monitor: {model[:19]} {passed}/{total} ({result.action})")
    return result
