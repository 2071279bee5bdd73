"""`straw serve`: main's production model over HTTP, following models.lock by itself."""

from __future__ import annotations

import signal

import click

from repo_store.errors import UsageError
from straw.commands.common import open_repo, repo_option


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port (0: any free port, printed on start).")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="Seconds a request may wait for its answer (504 after).")
@click.option("--max-queue", type=click.IntRange(1), default=1024, show_default=True,
              help="Inputs waiting before new requests get 429.")
@click.option("--poll", type=click.FloatRange(0.05, 60), default=0.5, show_default=True,
              help="Seconds between checks of main's models.lock.")
@click.option("--threads", type=click.IntRange(1, 512), default=None,
              help="Torch threads for the forward pass (default: every core but one).")
@repo_option
def serve_command(host: str, port: int, timeout: float, max_queue: int, poll: float,
                  threads: int | None, repo_path: str | None) -> None:
    """Serve main's production model (OpenAI-compatible subset); swap on every promotion."""
    from tuning.serve.app import Limits
    from tuning.serve.server import bind, build_server

    repo = open_repo(repo_path)
    try:  # bind first: a port in use fails before the model is loaded
        sock = bind(host, port)
    except OSError as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    limits = Limits(timeout_s=timeout, max_queue=max_queue, threads=threads)
    server = build_server(repo, host, port, limits, poll)
    bound = sock.getsockname()[1]
    click.echo(f"serving {server.model.hash if server.model else '-'} on http://{host}:{bound} "
               f"(following main's models.lock; Ctrl-C stops)", err=False)
    # uvicorn stops on SIGINT/SIGTERM and then re-raises the signal; that second delivery lands
    # here and is ignored, so a clean stop exits 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    server.run(sock)
    click.echo("stopped")
