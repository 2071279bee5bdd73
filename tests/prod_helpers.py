"""Shared by the serve and monitor tests: a repository whose production model (tiny, really
trained) passes its 10-case baseline, a bad model trained on swapped labels, a deploy of a
model by hand, and `straw serve` running on an ephemeral 127.0.0.1 port in a thread."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from repo_store import batches, config, curation, lockfile
from repo_store.gitio import commit_paths
from repo_store.ids import now_iso
from repo_store.repo import CaseRepo, open_case_repo

if TYPE_CHECKING:  # imported where used: the server imports torch and uvicorn
    from tuning.serve.app import Limits
    from tuning.serve.server import Server

CASES = {
    "greeting": ["hello there friend", "good morning to you", "hi how are you doing",
                 "hey nice to meet you", "greetings and salutations"],
    "billing": ["refund my invoice charge", "why was my card charged twice", "invoice payment failed",
                "billing statement is wrong", "cancel the subscription charge"],
}
IDENTITY = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}


def good_repo(root: Path, tiny: Path) -> CaseRepo:
    from repo_store.setup import init_case_repo
    from tuning.recheck import merge_checked
    from tuning.tune import tune_batch

    repo, _ = init_case_repo(root)
    config.write(repo.root, {
        "model": {"base": str(tiny), "max_length": 16},
        "train": {"learning_rate": 5e-3, "epochs_per_round": 10, "batch_size": 8,
                  "max_iterations": 4},
    })
    commit_paths(repo.root, ["straw.toml"], "tiny model")
    repo = open_case_repo(repo.root)
    texts = [(label, text) for label, group in CASES.items() for text in group]
    for n, (label, text) in enumerate(texts):  # fixed ids: training order follows them
        curation.add_case(repo, input=text, expected=label, tags=["[bold]x[/]"],
                          case_id=f"c-20261101-{n:08x}", created=f"2026-11-01T00:00:{n:02d}Z")
    batch = batches.create_batch(repo, all_pending=True, title="first baseline")
    report = tune_batch(repo, batch.id)
    assert report["summary"]["passed"], report["rounds"]
    merge_checked(repo, batch.id)  # gate, rerun the model, merge: what `straw merge` does
    return repo


def bad_model(repo: CaseRepo) -> str:
    """A model trained on swapped labels, stored like any other: what a bad deploy ships."""
    from tuning import backends
    from tuning.backends.base import Example, settings_from_config
    from tuning.model_store import ModelStore

    model_s, train_s = settings_from_config(repo.config)
    backend = backends.create(model_s, train_s)
    backend.load(model_s.base)
    swap = {"greeting": "billing", "billing": "greeting"}
    examples = [Example(t, swap[label]) for label, texts in CASES.items() for t in texts]
    backend.prepare(examples)
    backend.train(examples, 10, None, seed=0)
    return ModelStore(repo.model_store).save(backend, {"base": model_s.base, "created": now_iso()})


def deploy_by_hand(repo: CaseRepo, model: str, message: str = "deploy hotfix model") -> None:
    """What someone with write access does: edit models.lock and commit it on main."""
    lock = {**(lockfile.read_lock(repo) or {}), "model": model, "promoted": now_iso()}
    (repo.root / "models.lock").write_text(json.dumps(lock, indent=2) + "\n")
    commit_paths(repo.root, ["models.lock"], message)


def copy_repo(source: Path, target: Path) -> CaseRepo:
    shutil.copytree(source, target, symlinks=True)
    return open_case_repo(target)


def production(repo: CaseRepo) -> str:
    return lockfile.read_lock(repo)["model"]  # type: ignore[index]


@contextmanager
def serving(repo: CaseRepo, limits: Limits | None = None,
            poll_s: float = 0.1) -> Iterator[tuple[str, Server]]:
    """`straw serve`'s server on an ephemeral 127.0.0.1 port, in a thread: (base URL, Server)."""
    from tuning.serve.server import bind, build_server

    sock = bind("127.0.0.1", 0)
    server = build_server(repo, "127.0.0.1", 0, limits, poll_s)
    thread = threading.Thread(target=server.run, args=(sock,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.uvicorn.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server
    finally:
        server.stop()
        thread.join(timeout=15)
        sock.close()


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> float:  # noqa: ANN001
    """Seconds until `predicate()` is true; fails after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start
