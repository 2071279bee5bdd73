"""`straw monitor --endpoint` against real HTTP servers on 127.0.0.1: the real `straw serve`
(the whole loop: a bad model promoted by hand, alert, rollback, the server swapping back on its
own) and small stdlib servers that misbehave in each way an endpoint can. An endpoint that
cannot answer is "unreachable" (exit 4), never a rollback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypedDict

import httpx
import pytest
from conftest import straw_executable
from prod_helpers import IDENTITY, bad_model, copy_repo, deploy_by_hand, good_repo, production, wait_for

from repo_store import lockfile, monitor_log
from repo_store.repo import CaseRepo, open_case_repo
from tuning.endpoint import EndpointSettings
from tuning.monitor import run_monitor


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_classifier: Path) -> tuple[Path, str]:
    for key, value in IDENTITY.items():
        os.environ.setdefault(key, value)
    repo = good_repo(tmp_path_factory.mktemp("loop") / "repo", tiny_classifier)
    return repo.root, bad_model(repo)


@pytest.fixture
def repo(built: tuple[Path, str], tmp_path: Path) -> CaseRepo:
    return copy_repo(built[0], tmp_path / "repo")


@contextmanager
def fake_endpoint(mode: str, model: str = "") -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that misbehaves as `mode` says."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._send(200, json.dumps({"object": "list", "data": [{"id": model}]}).encode())

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if mode == "500":
                self._send(500, b'{"error": {"message": "CUDA out of memory"}}')
            elif mode == "slow":
                time.sleep(1.0)
                self._send(200, b"{}")
            elif mode == "malformed":
                self._send(200, b'{"choices": [{"text": "billing"')
            else:  # answers, naming whatever model it was told to
                self._send(200, json.dumps({"model": model, "choices": [{"text": "billing"}]}).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Quick(TypedDict):  # EndpointSettings' keywords, typed for `EndpointSettings(url, **QUICK)`
    timeout_s: float
    tries: int
    backoff_s: float


QUICK: Quick = {"timeout_s": 0.4, "tries": 2, "backoff_s": 0.05}


@pytest.mark.parametrize("mode, action, words", [
    ("down", "unreachable", "ConnectError"),
    ("500", "unreachable", "HTTP 500 CUDA out of memory"),
    ("slow", "unreachable", "no answer within 0.4 s"),
    ("malformed", "unreachable", "not JSON"),
    ("other", "mismatch", "the endpoint serves sha256:" + "ee" * 32),
])
def test_a_misbehaving_endpoint_is_a_clear_alert_never_a_rollback(
        repo: CaseRepo, mode: str, action: str, words: str, tmp_path: Path) -> None:
    marker = tmp_path / "alert.txt"
    subprocess.run(["git", "config", "straw.alertCommand", f"cat > {marker}"], cwd=repo.root, check=True)
    before = lockfile.read_lock(repo)
    served = "sha256:" + "ee" * 32 if mode == "other" else production(repo)
    with fake_endpoint(mode, served) as url:
        if mode == "down":
            url = url.rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens
        result = run_monitor(repo, endpoint=EndpointSettings(url, **QUICK))
    assert result.action == action and words in result.summary()
    assert result.exit_code == (4 if action == "unreachable" else 1)
    assert lockfile.read_lock(repo) == before and result.rolled_back_to is None
    assert words in marker.read_text()
    assert monitor_log.read_entries(repo)[-1]["action"] == action


def test_unreachable_exit_code_from_the_cli(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    with fake_endpoint("500") as url:
        result = cli("monitor", "--endpoint", url, "--timeout", "0.5", "--tries", "1", repo=repo.root)
    assert result.exit_code == 4 and "UNREACHABLE" in result.stderr and url in result.stderr
    assert cli("monitor", "--endpoint", "ftp://x", repo=repo.root).exit_code == 2


def test_a_server_that_does_not_report_hashes_is_judged_with_a_note(repo: CaseRepo, cli) -> None:  # noqa: ANN001
    with fake_endpoint("answers", "my-llm") as url:
        result = run_monitor(repo, endpoint=EndpointSettings(url, **QUICK), rollback=False)
    # it answers "billing" to everything: the greeting cases fail
    assert result.action == "alert" and result.passed == 5 and len(result.failing) == 5
    assert any("does not report model hashes" in n for n in result.notes)
    assert "monitor/log.jsonl" in subprocess.run(["git", "show", "--name-only", "main"], cwd=repo.root,
                                                 capture_output=True, text=True).stdout
    verify = cli("verify", repo=repo.root)  # the alert's commit on main is no contract change
    assert verify.exit_code == 0, verify.output


def _start_serve(root: Path) -> tuple[subprocess.Popen[str], str]:
    args = ["serve", "--port", "0", "--poll", "0.2", "--repo", str(root)]
    proc = subprocess.Popen([straw_executable(), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert "serving" in line, (line, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
    return proc, line.split(" on ", 1)[1].split()[0]


def test_the_whole_loop(built: tuple[Path, str], repo: CaseRepo, cli) -> None:  # noqa: ANN001
    """serve → a bad model promoted by hand → monitor --endpoint alerts and rolls back → the server
    swaps back on its own → the monitor is ok."""
    good, bad = production(repo), built[1]
    proc, url = _start_serve(repo.root)
    try:
        def serving() -> str:
            return httpx.get(f"{url}/v1/models", timeout=5).json()["data"][0]["id"]

        assert serving() == good
        deploy_by_hand(repo, bad)
        assert wait_for(lambda: serving() == bad, timeout=5) <= 5
        result = cli("monitor", "--endpoint", url, repo=repo.root)
        assert result.exit_code == 1, result.output
        assert "ALERT" in result.stderr and f"rolled back to {good[:19]}" in result.stderr
        assert lockfile.read_lock(open_case_repo(repo.root))["model"] == good  # type: ignore[index]
        assert wait_for(lambda: serving() == good, timeout=5) <= 5
        result = cli("monitor", "--endpoint", url, repo=repo.root)
        assert result.exit_code == 0 and result.stdout.startswith("ok:") and "10/10" in result.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    actions = [e["action"] for e in monitor_log.read_entries(repo)]
    assert actions == ["rollback", "ok"]


def test_every_stops_cleanly_on_sigterm(repo: CaseRepo) -> None:
    proc = subprocess.Popen([straw_executable(), "monitor", "--every", "1s", "--repo", str(repo.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("ok:"), (first, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
        second = proc.stdout.readline()  # type: ignore[union-attr]
        assert second.startswith("ok:")  # it loops
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped" in proc.stderr.read()  # type: ignore[union-attr]
    entries = monitor_log.read_entries(repo)
    assert len(entries) >= 2 and all(e["action"] == "ok" for e in entries)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo.root, capture_output=True,
                          text=True).stdout == ""


def test_the_endpoint_and_commands_come_from_local_settings(repo: CaseRepo, tmp_path: Path) -> None:
    from repo_store import local_settings
    from tuning.monitor import endpoint_settings

    assert endpoint_settings(repo, None) is None  # nothing set: the model runs in process
    config_file = local_settings.user_file()
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text('monitor_endpoint = "http://127.0.0.1:1"\nalert_command = "true"\n')
    assert endpoint_settings(repo, None).url == "http://127.0.0.1:1"  # type: ignore[union-attr]
    assert local_settings.get(repo.root, "alert_command") == "true"
    with fake_endpoint("answers", production(repo)) as url:
        subprocess.run(["git", "config", "straw.monitorEndpoint", url], cwd=repo.root, check=True)
        settings = endpoint_settings(repo, None)  # git config wins over the user file
        assert settings is not None and settings.url == url
        result = run_monitor(repo, endpoint=settings, rollback=False)
    assert result.source == url and result.passed == 5  # it answers "billing" to everything
    config_file.write_text("monitor_endpoint = [unclosed\n")
    with pytest.raises(Exception, match="config.toml: unreadable"):
        local_settings.get(repo.root, "deploy_command")
