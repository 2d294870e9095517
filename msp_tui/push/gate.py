"""The Vendor API's way to the store: never on the event loop, never waiting long.

Reads run in worker threads; in WAL mode SQLite never makes them wait for a writer. Writes go
to one writer thread (one writer is all SQLite allows anyway), which commits the writes that
queued up meanwhile together: one transaction, each write in a savepoint of its own, so one
refused write (an unknown account) never undoes another, and 32 vendors pushing at once cost
one commit instead of 32. A write waits at most `QUEUE_S` for its turn and then at most `BUSY_S`
for a lock another process holds, and is then answered 503 with Retry-After instead of
stalling. While the writer works or waits, the event loop keeps answering everyone else.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from peewee import InterfaceError, OperationalError, SqliteDatabase

from msp_tui.store.db import writing
from msp_tui.store.models import database_proxy

QUEUE_S = 5.0
BUSY_S = 5.0
RETRY_AFTER_S = 5
READ_THREADS = 16
MAX_BATCH = 500
T = TypeVar("T")


class StoreBusy(Exception):
    """The store could not be written (or read) soon enough; try again later."""

    message = "The store is busy: try again shortly"


def _is_busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@dataclass
class _Write:
    call: Callable[[], Any]
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)


class StoreGate:
    def __init__(self, queue_s: float = QUEUE_S, busy_s: float = BUSY_S) -> None:
        self.queue_s, self.busy_s = queue_s, busy_s
        self._readers: anyio.CapacityLimiter | None = None
        self._queue: deque[_Write] = deque()
        self._wakeup: asyncio.Event | None = None
        self._writer_task: asyncio.Task | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="vendor-api-writer")
        self._configured = threading.local()

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._readers is None:  # made on first use, inside the server's event loop
            self._readers = anyio.CapacityLimiter(READ_THREADS)
        call = functools.partial(self._in_thread, fn, *args)
        return await anyio.to_thread.run_sync(call, limiter=self._readers)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        if self._writer_task is None or self._writer_task.done():
            self._wakeup = asyncio.Event()
            self._writer_task = loop.create_task(self._write_queued(loop))
        item = _Write(functools.partial(fn, *args), loop.create_future())
        self._queue.append(item)
        self._wakeup.set()
        return await item.future

    async def _write_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = self._take_batch()
                if not batch:
                    continue
                try:
                    outcomes = await loop.run_in_executor(
                        self._writer, self._commit, [item.call for item in batch]
                    )
                except Exception as exc:  # never leave a caller waiting for ever
                    outcomes = [(False, exc)] * len(batch)
                for item, (ok, value) in zip(batch, outcomes, strict=True):
                    if item.future.done():  # the client went away
                        continue
                    if ok:
                        item.future.set_result(value)
                    else:
                        item.future.set_exception(value)

    def _take_batch(self) -> list[_Write]:
        batch: list[_Write] = []
        now = time.monotonic()
        while self._queue and len(batch) < MAX_BATCH:
            item = self._queue.popleft()
            if item.future.done():
                continue
            if now - item.queued_at > self.queue_s:  # waited its turn long enough: 503
                item.future.set_exception(StoreBusy())
                continue
            batch.append(item)
        return batch

    def _commit(self, calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        """In the writer thread: every call in one transaction, each in a savepoint."""
        db = self._connection()
        outcomes: list[tuple[bool, Any]] = []
        try:
            with writing(db):
                for call in calls:
                    try:
                        with db.atomic():
                            outcomes.append((True, call()))
                    except Exception as exc:  # this write only; the others stand
                        outcomes.append((False, exc))
        except (OperationalError, InterfaceError) as exc:  # BEGIN or COMMIT failed: none stand
            failure = StoreBusy() if _is_busy(exc) else exc
            return [(False, failure)] * len(calls)
        return outcomes

    def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        self._connection()
        try:
            return fn(*args)
        except (OperationalError, InterfaceError) as exc:
            if _is_busy(exc):
                raise StoreBusy from None
            raise

    def _connection(self):
        db = database_proxy.obj
        if isinstance(db, SqliteDatabase):
            connection = db.connection()  # this thread's own
            if getattr(self._configured, "connection", None) is not connection:
                # It waits at most busy_s for a lock another process holds.
                connection.execute(f"PRAGMA busy_timeout = {int(self.busy_s * 1000)}")
                self._configured.connection = connection
        return db
