"""Run the app under uvicorn: production loaded first (a server with nothing to serve does not
start), then the swapper follows main while uvicorn serves. SIGINT/SIGTERM stop it cleanly
(uvicorn finishes the requests in flight)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from repo_store.repo import CaseRepo
from tuning.serve.app import Limits, create_app
from tuning.serve.model import ServedModel, load_model
from tuning.serve.swapper import Swapper

logger = logging.getLogger(__name__)


@dataclass
class Server:
    swapper: Swapper
    uvicorn: uvicorn.Server

    @property
    def model(self) -> ServedModel | None:
        return self.swapper.current

    def run(self, sock: socket.socket | None = None) -> None:
        """Serve until stopped (blocks); `sock`: an already bound socket (tests, port 0)."""
        try:
            self.uvicorn.run(sockets=[sock] if sock else None)
        finally:
            self.swapper.stop()

    def stop(self) -> None:
        self.uvicorn.should_exit = True


def build_server(repo: CaseRepo, host: str = "127.0.0.1", port: int = 8000,
                 limits: Limits | None = None, poll_s: float = 0.5,
                 on_ready: Callable[[ServedModel], None] | None = None) -> Server:
    """Load main's production model and build the server (not started). Raises StrawError when
    there is no production model or it cannot be loaded."""
    store, config = repo.model_store, repo.verdict_config  # main's committed settings
    swapper = Swapper(repo.root, lambda model_hash: load_model(store, config, model_hash), poll_s)
    model = swapper.start()
    if on_ready:
        on_ready(model)
    app = create_app(swapper, limits)
    settings = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                              timeout_graceful_shutdown=10, lifespan="on")
    return Server(swapper, uvicorn.Server(settings))


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port; read it back with getsockname())."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
