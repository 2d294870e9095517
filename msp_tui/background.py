"""The app's work loop: a thread with an event loop of its own for network and store work.

The TUI's event loop draws the screen and reads keys; a sync of 1,000 domain groups, an outbox
round or an alert round does hundreds of HTTP exchanges and store writes, and every one of them
costs the loop that runs it some milliseconds of parsing, and a write can wait on another
process's lock. So that work runs here, on a second loop in its own thread, and the screens only
hear the outcome (as typed messages). `run` is awaited from the UI loop: cancelling that await
(the app quitting, an exclusive worker replaced) cancels the work on this loop too.

The operator's own writes (a decision, a bulk approve) go through `call`: one thread of their
own, so they never wait behind a sync's requests and are stored in the order they were made.

Each thread's store connection is its own (peewee keeps one per thread) and is closed when the
work loop stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from msp_tui.store.models import database_proxy

T = TypeVar("T")


class WorkLoop:
    """Started on first use; `stop` cancels what is left and joins the thread."""

    def __init__(self, name: str = "msp-tui-work") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                ready = threading.Event()
                self._thread = threading.Thread(
                    target=self._main, args=(ready,), name=self._name, daemon=True
                )
                self._thread.start()
                ready.wait()
            assert self._loop is not None
            return self._loop

    def _main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            _close_connection()
            loop.close()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on the work loop and wait for it without blocking the caller's loop."""
        loop = self._start()
        future = asyncio.run_coroutine_threadsafe(work, loop)
        return await asyncio.wrap_future(future)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the blocking `fn(*args)` on the writer thread, after what was asked before it."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"{self._name}-writer")
            writer = self._writer
        return await asyncio.wrap_future(writer.submit(fn, *args))

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the work still running and wait (up to `timeout`) for the threads to end."""
        with self._lock:
            loop, thread, writer = self._loop, self._thread, self._writer
            self._loop = self._thread = self._writer = None
        if writer is not None:
            writer.submit(_close_connection)
            writer.shutdown(wait=True)
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)


def _close_connection() -> None:
    """Close the calling thread's store connection (peewee keeps one per thread)."""
    with contextlib.suppress(Exception):
        if database_proxy.obj is not None:
            database_proxy.obj.close()
