"""The HTTP routes: the OpenAI-compatible subset that vLLM, TGI, llama.cpp's server and Ollama all
speak (so clients and `straw monitor --endpoint` treat straw and those servers alike), plus
/v1/classify for batches and /health.

FastAPI (on Starlette, served by uvicorn): request bodies are checked by pydantic models into
one clear 400 naming the field, the routes are async so thousands of waiting requests cost no
threads, and the forward passes stay in the batcher's one worker thread. Every response names
the model hash that produced it (the `model` field and the `X-Straw-Model` header)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tuning.serve.batcher import MicroBatcher, QueueFull
from tuning.serve.model import Answer, answer, default_threads, logprob, set_threads
from tuning.serve.swapper import Swapper

MODEL_HEADER = "X-Straw-Model"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1_000_000
    max_inputs: int = 256  # per request
    max_input_chars: int = 20_000  # per input (all messages of a chat together)
    timeout_s: float = 30.0  # per request, queue wait included
    max_queue: int = 1024  # waiting inputs before 429
    max_batch: int = 64  # inputs per forward pass
    max_wait_ms: float = 5.0  # how long an idle batcher waits for company
    threads: int | None = None  # torch threads for the forward pass (None: every core but one)


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    prompt: str | list[str]
    logprobs: int | None = Field(default=None, ge=0, le=20)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    inputs: list[str | list[Message]] = Field(min_length=1)


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers or {}


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status,
                        headers=headers)


class BodyLimit:
    """Pure ASGI middleware: refuse a body over `limit` bytes (declared or streamed) with 413
    before it is read whole."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: MutableMapping[str, Any],
                       receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
                       send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, f"request body over {self.limit} bytes", "request_too_large")
        if declared and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0
        refused = False

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit and not refused:
                refused = True  # answer now; the app sees a client that went away
                await too_big(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: MutableMapping[str, Any]) -> None:
            if not refused:  # after the 413, whatever the app answers is dropped
                await send(message)

        await self.app(scope, counted, guarded)


def create_app(swapper: Swapper, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    threads = limits.threads or default_threads()

    def run(inputs: list[Any]) -> tuple[str, list[Answer]]:
        model = swapper.current  # read once: the whole batch runs on one model
        assert model is not None
        return model.hash, answer(model, inputs)

    batcher: MicroBatcher[Answer] = MicroBatcher(run, max_batch=limits.max_batch,
                                                 max_wait_ms=limits.max_wait_ms,
                                                 max_queue=limits.max_queue,
                                                 initializer=lambda: set_threads(threads))

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="straw", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.batcher = batcher
    app.state.swapper = swapper
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> JSONResponse:
        return _error(err.status, err.message, err.kind, err.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}", "invalid_request_error")

    async def predict(inputs: list[Any]) -> tuple[str, list[Answer]]:
        if len(inputs) > limits.max_inputs:
            raise ApiError(413, f"{len(inputs)} inputs in one request; the limit is {limits.max_inputs}",
                           "request_too_large")
        for n, item in enumerate(inputs):
            size = len(item) if isinstance(item, str) else sum(len(m["content"]) for m in item)
            if size > limits.max_input_chars:
                raise ApiError(413, f"input {n} has {size} characters; the limit is "
                                    f"{limits.max_input_chars}", "request_too_large")
        try:
            return await batcher.submit(inputs, limits.timeout_s)
        except QueueFull as err:
            raise ApiError(429, str(err), "rate_limit_exceeded",
                           {"Retry-After": str(err.retry_after)}) from None
        except TimeoutError:
            raise ApiError(504, f"no answer within {limits.timeout_s:g} s", "timeout") from None

    def reply(body: dict[str, Any], model: str) -> JSONResponse:
        return JSONResponse(body, headers={MODEL_HEADER: model})

    @app.get("/health")
    async def health() -> JSONResponse:
        state = swapper.state
        model = swapper.current.hash if swapper.current else None
        status = ("ok" if not state.error and model == state.wanted
                  else "loading" if state.loading and not state.error else "degraded")
        body = {"status": status, "model": model, "production": state.wanted,
                "main": state.commit, "error": state.error, "loading": state.loading,
                "swaps": state.swaps, "queued": batcher.queued,
                "batches": batcher.stats.batches, "largest_batch": batcher.stats.largest}
        return reply(body, model or "")

    @app.get("/v1/models")
    async def models() -> JSONResponse:
        current = swapper.current
        assert current is not None
        return reply({"object": "list", "data": [{
            "id": current.hash, "object": "model", "created": int(current.loaded_at),
            "owned_by": "straw", "backend": current.kind,
            "labels": list(getattr(current.backend, "labels", None) or [])}]}, current.hash)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest) -> JSONResponse:
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        model, answers = await predict(list(prompts))
        choices = []
        for n, a in enumerate(answers):
            lp = None
            if req.logprobs is not None and a.score is not None:
                top = sorted((a.scores or {}).items(), key=lambda kv: -kv[1])[:max(req.logprobs, 1)]
                lp = {"tokens": [a.text], "token_logprobs": [logprob(a.score)],
                      "top_logprobs": [{k: logprob(v) for k, v in top}], "text_offset": [0]}
            choices.append({"index": n, "text": a.text, "logprobs": lp, "finish_reason": "stop"})
        return reply({"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
                      "created": int(time.time()), "model": model, "choices": choices,
                      "usage": {"prompt_tokens": 0, "completion_tokens": len(answers),
                                "total_tokens": len(answers)}}, model)

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest) -> JSONResponse:
        messages = [m.model_dump() for m in req.messages]
        model, (a,) = await predict([messages])
        lp = None
        if req.logprobs and a.score is not None:
            top = sorted((a.scores or {}).items(), key=lambda kv: -kv[1])[:req.top_logprobs or 0]
            lp = {"content": [{"token": a.text, "logprob": logprob(a.score),
                               "top_logprobs": [{"token": k, "logprob": logprob(v)} for k, v in top]}]}
        return reply({"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
                      "created": int(time.time()), "model": model,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": a.text},
                                   "logprobs": lp, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1}}, model)

    @app.post("/v1/classify")
    async def classify(req: ClassifyRequest) -> JSONResponse:
        inputs = [x if isinstance(x, str) else [m.model_dump() for m in x] for x in req.inputs]
        model, answers = await predict(inputs)
        return reply({"object": "classification", "model": model, "results": [
            {"index": n, "label": a.text, "score": a.score, "scores": a.scores, "truncated": a.truncated}
            for n, a in enumerate(answers)]}, model)

    return app
