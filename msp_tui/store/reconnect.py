"""PostgreSQL connections that come back: after a server restart, an idle timeout or
pg_terminate_backend, the next statement reconnects, and a unit of work whose transaction was
cut off before its COMMIT is run once more.

Two levels. `ReconnectingPostgres` (peewee's ReconnectMixin) retries a statement that found the
connection dead where nothing can be lost: a read outside a transaction, or a transaction's
BEGIN. `unit_of_work` retries a whole function whose writes are one transaction (`writing()`),
when the connection died inside it: nothing of it was committed, so running it again writes it
once. If the connection dies during the COMMIT itself, whether it landed is unknown, and the
error is raised, never retried.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from peewee import Database, InterfaceError, OperationalError, PostgresqlDatabase
from playhouse.shortcuts import ReconnectMixin

log = logging.getLogger("msp_tui.store")
P = ParamSpec("P")
T = TypeVar("T")

CONNECTION_LOST = (
    (OperationalError, "server closed the connection"),
    (OperationalError, "terminating connection"),
    (OperationalError, "connection already closed"),
    (OperationalError, "could not receive data from server"),
    (OperationalError, "server conn crashed"),
    (InterfaceError, "connection already closed"),
)


class ReconnectingPostgres(ReconnectMixin, PostgresqlDatabase):
    """A statement that finds the connection dead outside a transaction reconnects and runs
    again (see the module docstring)."""

    reconnect_errors = CONNECTION_LOST


def connection_lost(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(isinstance(exc, kind) and words in text for kind, words in CONNECTION_LOST)


_state = threading.local()


def commit_starts(db: Database) -> None:
    """Called by `writing()` when its body is done: from here on, the outermost transaction
    is committing, and a lost connection leaves its fate unknown."""
    if db.transaction_depth() == 1:
        _state.committing = True


def unit_of_work(work: Callable[P, T]) -> Callable[P, T]:
    """Run `work` (one `writing()` transaction, safe to run again when it did not commit); on
    PostgreSQL, once more if the connection was lost before its COMMIT."""

    @functools.wraps(work)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        from msp_tui.store.models import database_proxy

        db = database_proxy.obj
        if not isinstance(db, PostgresqlDatabase) or db.in_transaction():
            return work(*args, **kwargs)  # SQLite has no connection to lose; nested: the outer
        _state.committing = False
        try:
            return work(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if _state.committing or not connection_lost(exc):
                raise
            log.warning("%s: the database connection was lost before COMMIT; once more",
                        work.__qualname__)  # fmt: skip
            db.close()  # the dead connection goes; the retry's BEGIN opens a new one
            return work(*args, **kwargs)

    return run
