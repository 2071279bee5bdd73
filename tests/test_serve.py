"""`straw serve` for real: uvicorn on an ephemeral 127.0.0.1 port, httpx as the client, a tiny
really trained classifier. Swaps under load, broken models, limits, 429 and timeouts."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from prod_helpers import (
    CASES,
    IDENTITY,
    bad_model,
    copy_repo,
    deploy_by_hand,
    good_repo,
    production,
    serving,
    wait_for,
)

from repo_store import lockfile
from repo_store.repo import CaseRepo
from tuning.model_store import ModelStore
from tuning.serve.app import MODEL_HEADER, Limits


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_classifier: Path) -> tuple[Path, str]:
    """(a repository whose production passes its baseline, a bad model in its store)."""
    for key, value in IDENTITY.items():
        os.environ.setdefault(key, value)
    repo = good_repo(tmp_path_factory.mktemp("serve") / "repo", tiny_classifier)
    return repo.root, bad_model(repo)


@pytest.fixture
def repo(built: tuple[Path, str], tmp_path: Path) -> CaseRepo:
    return copy_repo(built[0], tmp_path / "repo")


def test_openai_subset_answers_with_labels_scores_and_the_hash(repo: CaseRepo) -> None:
    good = production(repo)
    with serving(repo) as (url, _), httpx.Client(base_url=url, timeout=10) as client:
        models = client.get("/v1/models").json()
        assert [m["id"] for m in models["data"]] == [good]
        assert set(models["data"][0]["labels"]) == set(CASES)

        r = client.post("/v1/completions", json={"model": "x", "prompt": "refund my invoice charge",
                                                 "logprobs": 2})
        assert r.status_code == 200 and r.headers[MODEL_HEADER] == good
        body = r.json()
        assert body["model"] == good and body["choices"][0]["text"] == "billing"
        lp = body["choices"][0]["logprobs"]
        assert lp["tokens"] == ["billing"] and lp["token_logprobs"][0] <= 0
        assert set(lp["top_logprobs"][0]) == set(CASES)

        chat = client.post("/v1/chat/completions", json={
            "messages": [{"role": "user", "content": "hello there friend"}], "logprobs": True,
            "top_logprobs": 2}).json()
        assert chat["model"] == good and chat["object"] == "chat.completion"
        assert chat["choices"][0]["message"]["content"] in CASES
        assert len(chat["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 2

        inputs = [t for texts in CASES.values() for t in texts]
        out = client.post("/v1/classify", json={"inputs": inputs}).json()
        assert out["model"] == good
        assert [r["label"] for r in out["results"]] == [lab for lab, ts in CASES.items() for _ in ts]
        for row in out["results"]:
            assert sum(row["scores"].values()) == pytest.approx(1.0, abs=1e-4)
            assert row["score"] == max(row["scores"].values())

        health = client.get("/health").json()
        assert health["status"] == "ok" and health["model"] == good == health["production"]


def test_bad_requests_get_a_clear_error_and_the_server_keeps_serving(repo: CaseRepo) -> None:
    limits = Limits(max_inputs=4, max_input_chars=50, max_body_bytes=2_000)
    with serving(repo, limits) as (url, _), httpx.Client(base_url=url, timeout=10) as client:
        r = client.post("/v1/completions", json={"promt": "typo"})
        assert r.status_code == 400 and r.json()["error"]["message"].startswith("prompt:")
        r = client.post("/v1/classify", json={"inputs": ["a"] * 5})
        assert r.status_code == 413 and "limit is 4" in r.json()["error"]["message"]
        r = client.post("/v1/completions", json={"prompt": "x" * 51})
        assert r.status_code == 413 and "input 0 has 51 characters" in r.json()["error"]["message"]
        r = client.post("/v1/completions", json={"prompt": "x" * 3_000})
        assert r.status_code == 413 and "over 2000 bytes" in r.json()["error"]["message"]

        def chunks():  # no Content-Length: the limit holds on a streamed body too
            for _ in range(10):
                yield b'{"prompt": "' + b"y" * 300

        r = client.post("/v1/completions", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        r = client.post("/v1/completions", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert client.post("/v1/completions", json={"prompt": "hello"}).status_code == 200


def test_full_queue_answers_429_with_retry_after_and_a_slow_answer_times_out(repo: CaseRepo) -> None:
    # the batcher waits 1.5 s for company, so the first request holds 3 of 4 queue places
    limits = Limits(max_queue=4, max_wait_ms=1500, timeout_s=5)
    with serving(repo, limits) as (url, _):
        results: list[httpx.Response] = []
        first = threading.Thread(target=lambda: results.append(
            httpx.post(f"{url}/v1/classify", json={"inputs": ["a", "b", "c"]}, timeout=10)))
        first.start()
        time.sleep(0.5)
        started = time.monotonic()
        r = httpx.post(f"{url}/v1/classify", json={"inputs": ["d", "e"]}, timeout=10)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert time.monotonic() - started < 0.5  # refused at once, never left hanging
        first.join()
        assert results[0].status_code == 200 and len(results[0].json()["results"]) == 3
    with serving(repo, Limits(max_wait_ms=2000, timeout_s=0.3)) as (url, _):
        r = httpx.post(f"{url}/v1/completions", json={"prompt": "hello"}, timeout=10)
        assert r.status_code == 504 and "within 0.3 s" in r.json()["error"]["message"]


def test_swap_under_concurrent_load_loses_no_request(built: tuple[Path, str], repo: CaseRepo) -> None:
    good, bad = production(repo), built[1]
    seen: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                r = client.post(f"{url}/v1/completions", json={"prompt": "hello there friend"})
                seen.append((time.monotonic(), r.status_code, r.json().get("model", "")))

    with serving(repo) as (url, _):
        threads = [threading.Thread(target=client_loop) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        commits = []
        for target in (bad, good, bad):
            deploy_by_hand(repo, target, f"deploy {target[:15]}")
            commits.append((time.monotonic(), target))
            wait_for(lambda target=target: any(m == target and t > commits[-1][0] for t, _, m in seen[-50:]),
                     timeout=5)
            time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
    assert seen and all(code == 200 for _, code, _ in seen), {c for _, c, _ in seen}
    for (at, target), later in zip(commits, [*commits[1:], (float("inf"), "")], strict=True):
        window = [m for t, _, m in seen if t > at + 5 and t < later[0]]
        assert all(m == target for m in window)  # within 5 s every new answer names the new model
    assert {m for _, _, m in seen} == {good, bad}


def test_a_model_that_fails_to_load_keeps_the_old_one_serving(repo: CaseRepo) -> None:
    good = production(repo)
    store = ModelStore(repo.model_store)
    broken = "sha256:" + "ab" * 32
    shutil.copytree(store.folder(good), store.folder(broken))
    (store.folder(broken) / "model.safetensors").write_bytes(b"not safetensors at all")
    with serving(repo) as (url, server), httpx.Client(base_url=url, timeout=10) as client:
        deploy_by_hand(repo, broken)
        wait_for(lambda: client.get("/health").json()["status"] == "degraded", timeout=10)
        health = client.get("/health").json()
        assert health["model"] == good and health["production"] == broken
        assert broken in health["error"] and "still serving" in health["error"]
        r = client.post("/v1/completions", json={"prompt": "refund my invoice charge"})
        assert r.status_code == 200 and r.json()["model"] == good
        lockfile.rollback_to(repo, lockfile.lock_history(repo)[1].lock, "undo the broken deploy")
        wait_for(lambda: client.get("/health").json()["status"] == "ok", timeout=10)
        assert server.swapper.state.swaps == 0  # the good model never left


def test_serve_refuses_a_repository_without_production(make_case_repo, cli) -> None:  # noqa: ANN001
    empty = make_case_repo("empty")
    result = cli("serve", "--port", "0", repo=empty.root)
    assert result.exit_code == 1 and "no production model yet" in result.stderr


def test_requests_arriving_together_run_as_one_forward_pass(repo: CaseRepo) -> None:
    with serving(repo, Limits(max_wait_ms=300)) as (url, _):
        before = httpx.get(f"{url}/health").json()
        results: list[httpx.Response] = []
        texts = [t for group in CASES.values() for t in group][:8]
        threads = [threading.Thread(target=lambda t=t: results.append(
            httpx.post(f"{url}/v1/completions", json={"prompt": t}, timeout=10))) for t in texts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = httpx.get(f"{url}/health").json()
    assert [r.status_code for r in results] == [200] * 8
    assert after["batches"] - before["batches"] == 1 and after["largest_batch"] == 8
    by_prompt = {r.request.content: r.json()["choices"][0]["text"] for r in results}
    assert sorted(by_prompt.values()) == ["billing"] * 3 + ["greeting"] * 5  # each got its own answer
