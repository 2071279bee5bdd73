"""`straw monitor`: check what users get. By default the production model (main's models.lock)
is loaded and run on main's baseline (no prediction cache: a cache pulled from someone else could
vouch for a model it never ran); with an endpoint, every baseline case is sent to the
OpenAI-compatible server users talk to and its answers are judged by each case's match rule.

Outcomes: ok; a regression (below the threshold: alert, and roll back to the newest earlier model
that passes the current baseline); a mismatch (the endpoint serves another model than
production: alert, no rollback); unreachable (the endpoint is down or erroring: alert, never a
rollback, unknown is not a regression). Every run is recorded (repo_store.monitor_log)."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repo_store import local_settings, lockfile, monitor_log
from repo_store.cases import Case
from repo_store.errors import StrawError, UsageError
from repo_store.ids import now_iso
from repo_store.repo import MAIN, CaseRepo
from tuning.cases_io import passes
from tuning.endpoint import EndpointSettings, Unreachable, ask, is_hash
from tuning.errors import Cancelled
from tuning.model_store import ModelStore
from tuning.progress import Predicted, Progress, ignore

logger = logging.getLogger(__name__)

CHUNK = 256  # cases per forward pass between checks for a stop request

# exit codes of `straw monitor` (1 and 2 keep the CLI's meaning)
EXIT = {"ok": 0, "rollback": 1, "alert": 1, "mismatch": 1, "unreachable": 4}


@dataclass
class MonitorResult:
    model: str
    passed: int
    total: int
    threshold: float
    failing: list[str]
    action: str  # ok | rollback | alert | mismatch | unreachable
    rolled_back_to: str | None = None
    notes: list[str] = field(default_factory=list)
    source: str = "in-process"  # or the endpoint's URL
    served: str | None = None  # the model the endpoint said it serves
    reason: str | None = None  # why unreachable

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 1.0

    @property
    def healthy(self) -> bool:
        return self.action == "ok"

    @property
    def exit_code(self) -> int:
        return EXIT[self.action]

    def summary(self) -> str:
        where = "" if self.source == "in-process" else f" at {self.source}"
        if self.action == "unreachable":
            return f"UNREACHABLE: {self.source}: {self.reason}; production {self.model[:19]} not judged"
        if self.action == "mismatch":
            return (f"ALERT: the endpoint serves {self.served}, production is {self.model} "
                    f"({self.source}); nothing changed")
        head = (f"model {self.model[:19]}{where} passes {self.passed}/{self.total} baseline cases "
                f"({self.rate:.1%}, threshold {self.threshold:.0%})")
        if self.action == "ok":
            return head
        failing = ", ".join(self.failing[:5]) + (" …" if len(self.failing) > 5 else "")
        tail = (f"; rolled back to {self.rolled_back_to[:19]}" if self.rolled_back_to
                else "; no earlier model passes: nothing changed" if self.action == "alert" else "")
        return f"ALERT: {head}; failing: {failing}{tail}"


def baseline_cases(repo: CaseRepo) -> list[Case]:
    return [c for c in repo.load_ref(MAIN).cases if c.split == "baseline"]


def run_model(repo: CaseRepo, model_hash: str, cases: list[Case],
              cancel: threading.Event | None = None, progress: Progress | None = None) -> list[str]:
    """Load `model_hash` from the store and run it on `cases` (never a cache)."""
    from tuning.serve.model import load_model

    emit = progress or ignore
    backend = load_model(repo.model_store, repo.verdict_config, model_hash).backend
    texts: list[str] = []
    for start in range(0, len(cases), CHUNK):
        if cancel is not None and cancel.is_set():
            raise Cancelled("stopped: nothing was recorded")
        texts += [p.text for p in backend.predict([c.input for c in cases[start:start + CHUNK]])]
        emit(Predicted(len(texts), len(cases)))
    return texts


def judge(cases: list[Case], texts: list[str]) -> tuple[int, list[str]]:
    failing = [c.id for c, t in zip(cases, texts, strict=True) if not passes(c, t)]
    return len(cases) - len(failing), failing


def below_threshold(passed: int, total: int, threshold: float) -> bool:
    return (passed / total if total else 1.0) < threshold


def find_rollback(repo: CaseRepo, current: str, threshold: float, cases: list[Case],
                  cancel: threading.Event | None = None) -> tuple[dict[str, Any], int, int] | None:
    """The most recent earlier production model (models.lock's history) that passes `cases` at
    the threshold when run: (its lock, passed, total)."""
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
        try:
            passed, _ = judge(cases, run_model(repo, model, cases, cancel))
        except Cancelled:
            raise
        except StrawError as err:
            logger.warning("rollback candidate %s cannot run: %s", model, err)
            continue
        if not below_threshold(passed, len(cases), threshold):
            return version.lock, passed, len(cases)
    return None


def _run_command(name: str, command: str, text: str) -> str | None:
    """Run a local command with `text` on stdin; a failure is returned, not raised."""
    try:
        proc = subprocess.run(command, shell=True, input=text.encode(), capture_output=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{name} failed: {err}"
    if proc.returncode:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        return f"{name} exited {proc.returncode}: {lines[-1] if lines else ''}"
    return None


def endpoint_settings(repo: CaseRepo, endpoint: str | None, **overrides: Any) -> EndpointSettings | None:
    """--endpoint, else the local setting straw.monitorEndpoint; None: run in process."""
    url = endpoint or local_settings.get(repo.root, "monitor_endpoint")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"endpoint {url!r}: give an http:// or https:// URL")
    max_tokens = int(repo.verdict_config["model"].get("max_new_tokens", 32))
    given = {k: v for k, v in overrides.items() if v is not None}
    return EndpointSettings(url, max_tokens=max_tokens, **given)


@dataclass
class HandRollback:
    model: str
    commit: str
    passed: int | None  # on main's baseline when measured; None when forced without a check
    total: int
    threshold: float
    unchecked: str | None = None  # why it was not measured (forced)

    @property
    def below(self) -> bool:
        """Measured below the monitor's threshold (rolled back with force all the same)."""
        return self.passed is not None and below_threshold(self.passed, self.total, self.threshold)


class RollbackRefused(StrawError):
    """The check before a hand rollback said no, in a way `force` may override: the model runs
    below the monitor's threshold, or it cannot run here. `why` says so without the CLI's
    `--force` hint (the TUI asks instead); `score` is what was measured, if anything, so that a
    forced retry need not run the model again."""

    def __init__(self, why: str, score: dict[str, int] | None, exit_code: int = 1) -> None:
        super().__init__(f"{why}; --force rolls back all the same")
        self.why, self.score, self.exit_code = why, score, exit_code


def roll_back_by_hand(repo: CaseRepo, model: str, reason: str, force: bool = False,
                      cancel: threading.Event | None = None, progress: Progress | None = None,
                      measured: dict[str, int] | None = None) -> HandRollback:
    """`straw rollback` (and the TUI's): make an earlier production model production again,
    after running it on main's baseline as the monitor would. Refused (RollbackRefused) when it
    runs below the monitor's threshold — the next `straw monitor` would roll it back again — or
    cannot run here, unless `force`. The measured score goes into the commit (its
    `Straw-Baseline` trailer); `measured`: a score this process measured already (a forced
    retry). A forced rollback of a model that cannot run commits no score."""
    version = lockfile.earlier_version(repo, model)
    threshold = float(repo.verdict_config["monitor"]["threshold"])
    cases = baseline_cases(repo)
    score, unchecked = measured, None
    if score is None:
        try:
            if not ModelStore(repo.model_store).has(model):
                raise StrawError(f"it is not in the model store ({repo.model_store})")
            passed, failing = judge(cases, run_model(repo, model, cases, cancel, progress))
        except Cancelled:
            raise
        except Exception as err:  # an emergency path: a model that cannot run here is one line
            if not force:
                raise RollbackRefused(f"{model[:19]} cannot be checked on main's baseline here: "
                                      f"{err}", None, exit_code=2) from None
            unchecked = str(err)
        else:
            score = {"passed": passed, "total": len(cases)}
            if below_threshold(passed, len(cases), threshold) and not force:
                shown = ", ".join(failing[:5]) + (" …" if len(failing) > 5 else "")
                raise RollbackRefused(
                    f"{model[:19]} passes {passed}/{len(cases)} of main's baseline cases (threshold "
                    f"{threshold:.0%}; failing: {shown}): `straw monitor` would roll it back again",
                    score)
    commit = lockfile.rollback_to(repo, version.lock, reason, score)
    return HandRollback(model, commit, score["passed"] if score else None, len(cases), threshold,
                        unchecked)


def run_monitor(repo: CaseRepo, threshold: float | None = None, rollback: bool = True,
                endpoint: EndpointSettings | None = None,
                cancel: threading.Event | None = None,
                progress: Progress | None = None) -> MonitorResult:
    """One check. Raises UsageError without production; Cancelled (nothing recorded) on stop.
    `progress` gets Predicted(done, total) while production answers the baseline."""
    threshold = repo.verdict_config["monitor"]["threshold"] if threshold is None else threshold
    lock = lockfile.read_lock(repo)
    if lock is None:
        raise UsageError("no production model yet: models.lock is missing on main "
                         "(merge a batch first)")
    model = lock["model"]
    cases = baseline_cases(repo)
    notes = (local_settings.committed_command_warnings(repo.verdict_config)
             or local_settings.committed_command_warnings(repo.config))
    result = MonitorResult(model, 0, len(cases), threshold, [], "ok", notes=notes)
    if endpoint is None:
        if not ModelStore(repo.model_store).has(model):
            raise UsageError(f"models.lock names {model}, which is not in the model store "
                             f"({repo.model_store}); restore it or roll back by hand")
        texts = run_model(repo, model, cases, cancel, progress)
    else:
        result.source = endpoint.url
        try:
            answers = ask(endpoint, [c.input for c in cases], [c.id for c in cases], model, cancel,
                          progress)
        except Unreachable as err:
            result.action, result.reason = "unreachable", str(err)
            return _finish(repo, result)
        texts = answers.texts
        hashes = {m for m in [*answers.listed, *answers.served] if is_hash(m)}
        if hashes and hashes != {model}:  # a straw server that answered with another model
            result.action, result.served = "mismatch", ", ".join(sorted(hashes - {model}))
            return _finish(repo, result)
        if not hashes:
            notes.append(f"{endpoint.url} does not report model hashes: its answers are judged, "
                         "but which model gave them is not known")
    result.passed, result.failing = judge(cases, texts)
    if below_threshold(result.passed, result.total, threshold):
        result.action = "alert"
        target = find_rollback(repo, model, threshold, cases, cancel) if rollback else None
        if target:
            good, good_passed, good_total = target
            result.action, result.rolled_back_to = "rollback", good["model"]
            lockfile.rollback_to(
                repo, good,
                f"The monitor found {model[:19]} passing {result.passed}/{result.total} baseline cases "
                f"({result.source}, threshold {threshold:.0%}); {good['model'][:19]} passes "
                f"{good_passed}/{good_total}.",
                {"passed": good_passed, "total": good_total})
            from tuning.deploy import deploy

            failure = deploy(repo, good["model"])
            if failure:
                notes.append(failure)
    return _finish(repo, result)


def _finish(repo: CaseRepo, result: MonitorResult) -> MonitorResult:
    if not result.healthy:
        command = local_settings.get(repo.root, "alert_command")
        if command:
            failure = _run_command("alert_command", command, result.summary() + "\n")
            if failure:
                result.notes.append(failure)
    entry = {"run": uuid.uuid4().hex[:16], "time": now_iso(), "model": result.model,
             "passed": result.passed, "total": result.total,
             "rate": round(result.rate, 6), "threshold": result.threshold, "failing": result.failing,
             "action": result.action, "rolled_back_to": result.rolled_back_to,
             "source": result.source, "served": result.served, "reason": result.reason,
             "notes": result.notes}
    monitor_log.record(repo, entry)
    return result


def parse_interval(text: str) -> float:
    """`90s`, `10m`, `1h`, `1d` or plain seconds → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    number, unit = (raw[:-1], raw[-1]) if raw and raw[-1] in units else (raw, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise UsageError(f"--every {text!r}: give a duration like 30s, 10m or 1h") from None
    if not seconds >= 1:
        raise UsageError(f"--every {text!r}: at least 1 second")
    return seconds


def run_every(check: Callable[[threading.Event], MonitorResult], interval: float,
              stop: threading.Event, report: Callable[[MonitorResult | None, str | None], None]) -> None:
    """Run `check` every `interval` seconds until `stop` is set. A run cut short by the stop
    records nothing; errors of one run are reported and the loop goes on."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            report(check(stop), None)
        except Cancelled:
            break
        except StrawError as err:
            report(None, str(err))
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
