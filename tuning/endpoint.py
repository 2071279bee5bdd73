"""Ask an OpenAI-compatible endpoint (straw serve, vLLM, TGI, llama.cpp, Ollama) for the answer to
every case: bounded concurrency, a timeout per request, retries with exponential backoff (429's
Retry-After honoured), and one clear reason when it cannot be asked.

A prompt goes to /v1/completions, chat messages to /v1/chat/completions, with temperature 0.
The model id sent is the production hash when the endpoint lists it, else the first id it lists
(a vLLM-style server refuses an unknown id)."""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from tuning.errors import Cancelled
from tuning.progress import Predicted, Progress, ignore

HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class EndpointSettings:
    url: str
    concurrency: int = 8
    timeout_s: float = 10.0
    tries: int = 3
    backoff_s: float = 0.5  # first retry after this, doubling
    max_tokens: int = 32


class Unreachable(Exception):
    """The endpoint could not answer (down, erroring, too slow, malformed): unknown, not a
    regression."""


@dataclass
class EndpointAnswers:
    texts: list[str]
    served: set[str] = field(default_factory=set)  # model ids the endpoint named (hashes or names)
    listed: list[str] = field(default_factory=list)  # ids from /v1/models


def is_hash(model_id: str) -> bool:
    return bool(HASH_RE.match(model_id))


async def _request(client: httpx.AsyncClient, s: EndpointSettings, path: str,
                   body: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """One call with retries; the parsed JSON object. Raises Unreachable with the last reason."""
    reason = ""
    wait = s.backoff_s
    for attempt in range(s.tries):
        if attempt:
            await asyncio.sleep(wait)
            wait *= 2
        try:
            r = await (client.get(path) if body is None else client.post(path, json=body))
        except httpx.TimeoutException:
            reason = f"{what}: no answer within {s.timeout_s:g} s"
            continue
        except httpx.HTTPError as err:
            reason = f"{what}: {type(err).__name__}: {err or 'connection failed'}"
            continue
        if r.status_code == 429 or r.status_code >= 500:
            reason = f"{what}: HTTP {r.status_code} {_error_text(r)}".rstrip()
            if r.status_code == 429 and r.headers.get("Retry-After", "").isdigit():
                wait = min(float(r.headers["Retry-After"]), 10.0)
            continue
        if r.status_code >= 400:
            raise Unreachable(f"{what}: HTTP {r.status_code} {_error_text(r)}".rstrip())
        try:
            data = r.json()
        except ValueError:
            reason = f"{what}: the answer is not JSON ({r.text[:60]!r})"
            continue
        if not isinstance(data, dict):
            reason = f"{what}: the answer is not a JSON object"
            continue
        return data
    raise Unreachable(f"{reason} (after {s.tries} tries)")


def _error_text(r: httpx.Response) -> str:
    """The server's own words, shortened and with control characters replaced (they end up on a
    terminal and in alert mails)."""
    try:
        err = r.json().get("error")
        text = str(err.get("message") if isinstance(err, dict) else err or "")[:120]
    except (ValueError, AttributeError):
        text = r.text[:80].strip()
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _text_of(data: dict[str, Any], chat: bool, what: str) -> str:
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
    except (KeyError, IndexError, TypeError):
        raise Unreachable(f"{what}: the answer has no choices[0].{'message.content' if chat else 'text'}") \
            from None
    if not isinstance(text, str):
        raise Unreachable(f"{what}: choices[0] holds no text")
    return text.strip()


async def _ask_all(s: EndpointSettings, inputs: list[Any], ids: list[str], production: str,
                   cancel: threading.Event | None, progress: Progress | None) -> EndpointAnswers:
    emit = progress or ignore
    limits = httpx.Limits(max_connections=s.concurrency, max_keepalive_connections=s.concurrency)
    async with httpx.AsyncClient(base_url=s.url.rstrip("/"), timeout=s.timeout_s, limits=limits) as client:
        listing = await _models(client, s)
        out = EndpointAnswers([""] * len(inputs), listed=listing)
        if any(is_hash(m) for m in listing) and production not in listing:
            return out  # a straw server serving another model: its answers would judge nothing
        name = production if production in listing or not listing else listing[0]
        gate = asyncio.Semaphore(s.concurrency)
        done = 0

        async def one(n: int) -> None:
            async with gate:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("stopped: nothing was recorded")
                chat = not isinstance(inputs[n], str)
                body: dict[str, Any] = {"model": name, "temperature": 0, "max_tokens": s.max_tokens}
                body |= {"messages": inputs[n]} if chat else {"prompt": inputs[n]}
                data = await _request(client, s, "/v1/chat/completions" if chat else "/v1/completions",
                                      body, f"case {ids[n]}")
                out.texts[n] = _text_of(data, chat, f"case {ids[n]}")
                if isinstance(data.get("model"), str):
                    out.served.add(data["model"])
                nonlocal done
                done += 1
                emit(Predicted(done, len(inputs)))

        tasks = [asyncio.create_task(one(n)) for n in range(len(inputs))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return out


async def _models(client: httpx.AsyncClient, s: EndpointSettings) -> list[str]:
    """Ids from /v1/models ([] when the server has no such route)."""
    try:
        data = await _request(client, s, "/v1/models", None, "GET /v1/models")
    except Unreachable as err:
        if "HTTP 404" in str(err):
            return []
        raise
    rows = data.get("data")
    if not isinstance(rows, list):
        raise Unreachable("GET /v1/models: the answer has no data list")
    return [str(row["id"]) for row in rows if isinstance(row, dict) and "id" in row]


def ask(s: EndpointSettings, inputs: list[Any], ids: list[str], production: str,
        cancel: threading.Event | None = None, progress: Progress | None = None) -> EndpointAnswers:
    """Every input's answer, in order; `progress` gets Predicted(done, total). Raises Unreachable
    or Cancelled."""
    return asyncio.run(_ask_all(s, inputs, ids, production, cancel, progress))
