"""The Vendor API's way to the store: never on the event loop, never waiting long.

Reads run in worker threads; in WAL mode SQLite never makes them wait for a writer. Writes run
one at a time (one writer is all SQLite allows anyway): a write waits at most `QUEUE_S` for its
turn and then at most `BUSY_S` for a lock another process holds, and is then answered 503 with
Retry-After instead of stalling. While a writer works or waits, the event loop keeps answering
everyone else.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from peewee import InterfaceError, OperationalError, SqliteDatabase

from msp_tui.store.models import database_proxy

QUEUE_S = 5.0
BUSY_S = 5.0
RETRY_AFTER_S = 5
READ_THREADS = 16
T = TypeVar("T")


class StoreBusy(Exception):
    """The store could not be written (or read) soon enough; try again later."""

    message = "The store is busy: try again shortly"


def _is_busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class StoreGate:
    def __init__(self, queue_s: float = QUEUE_S, busy_s: float = BUSY_S) -> None:
        self.queue_s, self.busy_s = queue_s, busy_s
        self._turn: anyio.Lock | None = None
        self._readers: anyio.CapacityLimiter | None = None
        self._writer: anyio.CapacityLimiter | None = None
        self._configured = threading.local()

    def _limits(self) -> tuple[anyio.Lock, anyio.CapacityLimiter, anyio.CapacityLimiter]:
        # Made on first use, inside the server's event loop.
        if self._turn is None:
            self._turn = anyio.Lock()
            self._readers = anyio.CapacityLimiter(READ_THREADS)
            self._writer = anyio.CapacityLimiter(1)
        return self._turn, self._readers, self._writer

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        _, readers, _ = self._limits()
        call = functools.partial(self._run, fn, *args)
        return await anyio.to_thread.run_sync(call, limiter=readers)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        turn, _, writer = self._limits()
        try:
            with anyio.fail_after(self.queue_s):
                await turn.acquire()
        except TimeoutError:
            raise StoreBusy from None
        try:
            call = functools.partial(self._run, fn, *args)
            return await anyio.to_thread.run_sync(call, limiter=writer)
        finally:
            turn.release()

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        db = database_proxy.obj
        if isinstance(db, SqliteDatabase):
            connection = db.connection()  # this worker thread's own
            if getattr(self._configured, "connection", None) is not connection:
                # It waits at most busy_s for a lock another process holds.
                connection.execute(f"PRAGMA busy_timeout = {int(self.busy_s * 1000)}")
                self._configured.connection = connection
        try:
            return fn(*args)
        except (OperationalError, InterfaceError) as exc:
            if _is_busy(exc):
                raise StoreBusy from None
            raise
