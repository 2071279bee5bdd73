"""Dynamic micro-batching: requests that arrive within `max_wait_ms` of each other (or while a
forward pass is running) run together as one forward pass, in one worker thread.

The queue is bounded by the number of waiting inputs: a request that would overflow it is
refused at once (`QueueFull`, the server's 429 with Retry-After) instead of waiting without
limit. A request that times out is dropped from the queue; if its batch is already running,
its result is discarded."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Job:
    inputs: list[Any]
    future: asyncio.Future[Any]
    abandoned: bool = False


@dataclass
class BatchStats:
    batches: int = 0
    inputs: int = 0
    largest: int = 0
    recent_rate: float = 0.0  # inputs per second of forward pass, smoothed


class MicroBatcher(Generic[T]):
    """`run(inputs) -> (tag, outputs)` is called in the worker thread with one batch; the tag
    (the model hash) is handed back to every request of that batch."""

    def __init__(self, run: Callable[[list[Any]], tuple[str, list[T]]], *, max_batch: int = 64,
                 max_wait_ms: float = 5.0, max_queue: int = 1024,
                 initializer: Callable[[], None] | None = None) -> None:
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.stats = BatchStats()
        self._jobs: deque[_Job] = deque()
        self._queued = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="straw-forward",
                                            initializer=initializer)

    @property
    def queued(self) -> int:
        return self._queued

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="straw-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for job in self._jobs:
            if not job.future.done():
                job.future.set_exception(RuntimeError("the server is shutting down"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _retry_after(self) -> int:
        rate = self.stats.recent_rate or 50.0
        return max(1, math.ceil(self._queued / rate))

    async def submit(self, inputs: list[Any], timeout: float) -> tuple[str, list[T]]:
        """Queue `inputs`; their outputs and the tag of the batch that produced them. Raises
        QueueFull at once when there is no room, TimeoutError after `timeout` seconds."""
        assert self._wake is not None, "start() first"
        if self._queued + len(inputs) > self.max_queue:
            raise QueueFull(self._retry_after())
        job = _Job(list(inputs), asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._queued += len(inputs)
        self._wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except (TimeoutError, asyncio.CancelledError):
            job.abandoned = True
            raise

    async def _loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if not self._jobs:
                self._wake.clear()
                continue
            if self._queued < self.max_batch:  # idle: give near-simultaneous requests a moment
                await asyncio.sleep(self.max_wait)
            batch: list[_Job] = []
            size = 0
            while self._jobs and (not batch or size + len(self._jobs[0].inputs) <= self.max_batch):
                job = self._jobs.popleft()
                self._queued -= len(job.inputs)
                if job.abandoned or job.future.done():
                    continue
                batch.append(job)
                size += len(job.inputs)
            if not batch:
                continue
            flat = [item for job in batch for item in job.inputs]
            started = loop.time()
            try:
                tag, outputs = await loop.run_in_executor(self._executor, self.run, flat)
            except Exception as err:  # the batch's requests get the error; the loop goes on
                logger.exception("forward pass failed")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(err)
                continue
            elapsed = max(loop.time() - started, 1e-6)
            self._note(size, size / elapsed)
            at = 0
            for job in batch:
                part = outputs[at:at + len(job.inputs)]
                at += len(job.inputs)
                if not job.future.done():
                    job.future.set_result((tag, part))

    def _note(self, size: int, rate: float) -> None:
        s = self.stats
        s.batches += 1
        s.inputs += size
        s.largest = max(s.largest, size)
        s.recent_rate = rate if not s.recent_rate else 0.8 * s.recent_rate + 0.2 * rate
