"""Opening the store: where it is, how SQLite is tuned, and bringing the schema up to date.

SQLite runs in WAL mode with a busy timeout so that the TUI, `msp-tui serve` and a cron'd
`msp-tui sync` can share one file. Write transactions start with BEGIN IMMEDIATE (`writing()`):
a deferred transaction that reads and then writes can fail with "database is locked" at once,
whatever the timeout, when another process committed in between.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peewee import (
    Database,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
)
from playhouse.migrations import Migration, Runner

from msp_tui.paths import default_database_path
from msp_tui.store.models import MODELS, AppSetting, database_proxy
from msp_tui.store.reconnect import ReconnectingPostgres, commit_starts

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# In the SQLite header: this file is an msp-tui store ("mspt"), so another program's database
# given as --db is refused instead of being migrated into one.
APPLICATION_ID = 0x6D737074
OUR_TABLES = {"schema_migration", "integration"}  # what a store made before the mark has
BUSY_TIMEOUT_S = 30.0
# Per connection. journal_mode=wal is not here: it is a property of the file, set once in
# `_enable_wal`, because setting it races with a second process creating the same file.
SQLITE_PRAGMAS = {
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": int(BUSY_TIMEOUT_S * 1000),
}


class StoreError(Exception):
    """The store cannot be opened or upgraded; the message says what to do."""


@dataclass(frozen=True)
class StoreLocation:
    """Where the store is: a display form for people and the URL peewee connects to."""

    url: str
    display: str
    sqlite_path: Path | None


def resolve_location(target: str | None = None) -> StoreLocation:
    """`--db` beats MSP_TUI_DB beats the default file in the user's data dir.

    A target is a filesystem path, `sqlite:///path` or a database URL such as
    `postgresql://user@host/db`.
    """
    target = target or os.environ.get("MSP_TUI_DB") or str(default_database_path())
    if "://" not in target:
        path = Path(target).expanduser().resolve()
        return StoreLocation(f"sqlite:///{path}", str(path), path)
    scheme, _, rest = target.partition("://")
    if scheme.startswith("sqlite"):
        if not rest.startswith("/"):
            raise StoreError(f"cannot read database URL {target!r}: use sqlite:///PATH")
        path = Path(rest[1:] or ":memory:").expanduser()
        path = path if str(path) == ":memory:" else path.resolve()
        return StoreLocation(f"sqlite:///{path}", str(path), path)
    # Never echo a URL's password back; keep scheme, host and database name.
    shown = target
    if "@" in rest:
        shown = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return StoreLocation(target, shown, None)


def connect(location: StoreLocation) -> Database:
    if location.sqlite_path is not None:
        if str(location.sqlite_path) != ":memory:":
            # The store holds customer names and billing figures: keep its folder private.
            location.sqlite_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_private(location.sqlite_path)
        # peewee keeps one connection per thread, so Textual's thread workers are safe.
        return SqliteDatabase(
            str(location.sqlite_path), pragmas=SQLITE_PRAGMAS, timeout=BUSY_TIMEOUT_S
        )
    # Only for a URL: playhouse.db_url imports every playhouse extension (tens of ms).
    from playhouse.db_url import connect as connect_url
    from playhouse.db_url import parse as parse_url

    try:
        if location.url.startswith(("postgres://", "postgresql://")):
            return ReconnectingPostgres(**parse_url(location.url))
        return connect_url(location.url)
    except (RuntimeError, ImportError, ValueError) as exc:
        raise StoreError(
            f"cannot use database {location.display}: {exc}"
            " (for PostgreSQL install the extra: pip install 'msp-tui[postgres]')"
        ) from exc


@contextlib.contextmanager
def writing(db: Database | None = None) -> Iterator[None]:
    """One write transaction that takes the write lock up front (see the module docstring)."""
    db = db or database_proxy.obj
    if isinstance(db, SqliteDatabase):
        with db.atomic("IMMEDIATE"):
            yield
            commit_starts(db)
    else:
        with db.atomic():
            yield
            commit_starts(db)


def migrate(db: Database, target: str | None = None) -> list[str]:
    """Apply pending migrations in order; returns their names. Safe to race with a second
    process: the check and the apply happen under one write lock."""
    runner = Runner(db, str(MIGRATIONS_DIR))
    with writing(db):
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (0x6D7370,))
        return runner.up(target)


def schema_version(db: Database) -> int:
    """The number of the newest applied migration (0 for an empty database)."""
    runner = Runner(db, str(MIGRATIONS_DIR))
    return max((m.idx for m in runner.status() if m.applied), default=0)


def latest_schema_version() -> int:
    return max(m.idx for m in Migration.load_directory(str(MIGRATIONS_DIR)))


def _enable_wal(db: SqliteDatabase) -> None:
    """Switch the file to WAL. Two processes creating one store at once can see SQLITE_BUSY
    here without the busy handler being consulted, so retry for as long as the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            mode = db.execute_sql("PRAGMA journal_mode=wal").fetchone()[0]
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
            continue
        if mode != "wal" and str(db.database) != ":memory:":
            raise StoreError(f"SQLite refused WAL mode for {db.database} (got {mode!r})")
        return


def _create_private(path: Path) -> None:
    """A new store file is made 0600 whatever the folder or umask; SQLite gives its -wal and
    -shm files the same mode as the database file."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the store {path}: {exc.strerror or exc}") from None


def readable_by_others(location: StoreLocation) -> int | None:
    """The store file's mode when group or others may read it, else None."""
    path = location.sqlite_path
    if path is None or str(path) == ":memory:":
        return None
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    return mode if mode & 0o077 else None


def _claim(db: SqliteDatabase, location: StoreLocation) -> None:
    """Mark the file as an msp-tui store, or refuse it if it is some other program's."""
    found = db.execute_sql("PRAGMA application_id").fetchone()[0]
    if found == APPLICATION_ID:
        return
    listed = db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
    tables = {row[0] for row in listed if not row[0].startswith("sqlite_")}
    if found != 0 or (tables and not tables >= OUR_TABLES):
        some = ", ".join(sorted(tables)[:5]) or "none"
        raise StoreError(
            f"{location.display} is not an msp-tui store (another program's SQLite database;"
            f" tables: {some}): give --db a new file or an msp-tui store"
        )
    with writing(db):
        db.execute_sql(f"PRAGMA application_id = {APPLICATION_ID}")


def open_store(location: StoreLocation) -> Database:
    """Open (creating if need be) the store, migrate it, and bind the models to it."""
    db = connect(location)
    try:
        db.connect(reuse_if_open=True)
        if isinstance(db, SqliteDatabase):
            _claim(db, location)
            _enable_wal(db)
        current = schema_version(db)
        if current > latest_schema_version():
            raise StoreError(
                f"{location.display} was written by a newer msp-tui (schema {current});"
                " upgrade msp-tui to open it"
            )
        migrate(db)
    except StoreError:
        db.close()
        raise
    except Exception as exc:
        db.close()
        raise StoreError(f"cannot open database {location.display}: {exc}") from exc
    database_proxy.initialize(db)
    return db


def store_id() -> str:
    return AppSetting.get_by_id("store_id").value


__all__ = [
    "MODELS",
    "StoreError",
    "StoreLocation",
    "migrate",
    "open_store",
    "resolve_location",
    "schema_version",
    "store_id",
    "writing",
]


@contextlib.contextmanager
def process_lock(name: str) -> Iterator[bool]:
    """One holder of `name` per store, across processes and hosts; yields False when another
    holder has it. A holder that dies releases it: on SQLite it is an exclusive `flock` on a
    file beside the database (the kernel drops it with the process); on PostgreSQL a session
    advisory lock on a connection of its own (the server drops it with the connection)."""
    db = database_proxy.obj
    if isinstance(db, PostgresqlDatabase):
        with _advisory_lock(db, name) as ours:
            yield ours
        return
    path = getattr(db, "database", None)
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        fcntl = None
    if fcntl is None or not isinstance(db, SqliteDatabase) or not path or path == ":memory:":
        yield True
        return
    with Path(f"{path}.{name}-lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def advisory_key(database: str, name: str) -> int:
    """A signed 64-bit key for pg_try_advisory_lock, the same in every process and host."""
    digest = hashlib.sha256(f"msp-tui/{database}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def _advisory_lock(db: PostgresqlDatabase, name: str) -> Iterator[bool]:
    # A connection of its own: peewee's per-thread connections come and go with transactions
    # and reconnects, and a session lock must live exactly as long as the holder.
    connection = db._connect()
    try:
        connection.autocommit = True
        key = advisory_key(db.database, name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            ours = bool(cursor.fetchone()[0])
        yield ours
        if ours:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        connection.close()
