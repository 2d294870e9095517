from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from playhouse.migrations import Migration
from playhouse.schema_diff import diff_models

from msp_tui.cli import main
from msp_tui.store.db import (
    APPLICATION_ID,
    MIGRATIONS_DIR,
    StoreError,
    connect,
    latest_schema_version,
    migrate,
    open_store,
    resolve_location,
    schema_version,
    store_id,
    writing,
)
from msp_tui.store.models import MODELS, AuditEvent, Integration, VendorAccount


@pytest.mark.sqlite_only
def test_sqlite_is_tuned_for_sharing(db_path: Path) -> None:
    db = open_store(resolve_location(str(db_path)))
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    db.close()


def test_fresh_store_matches_the_models(db_path: Path) -> None:
    db = open_store(resolve_location(str(db_path)))
    assert schema_version(db) == latest_schema_version()
    drift = diff_models(db, MODELS)
    assert not drift, f"the models and the migrations disagree:\n{drift}"
    db.close()


def test_foreign_keys_are_enforced(db_path: Path) -> None:
    db = open_store(resolve_location(str(db_path)))
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        VendorAccount.create(integration=4242, external_id="1", name="Orphan")
    db.close()


def test_previous_schema_version_migrates_without_losing_rows(db_path: Path) -> None:
    migrations = Migration.load_directory(str(MIGRATIONS_DIR))
    assert len(migrations) >= 2, "needs a previous version to migrate from"
    previous = migrations[-2]

    location = resolve_location(str(db_path))
    old = connect(location)
    old.connect()
    migrate(old, target=previous.name)
    assert schema_version(old) == previous.idx
    # Rows written the way the previous version's schema wanted them.
    old.execute_sql(
        "INSERT INTO integration (id, name, vendor, kind, modules, status, config, created_at)"
        " VALUES (1, 'spamtitan', 'spamtitan', 'pull', 'billing', 'active', '{}',"
        " '2026-10-01 09:00:00')"
    )
    p = old.param  # ? on SQLite, %s on PostgreSQL
    for n in range(1, 51):
        old.execute_sql(
            "INSERT INTO vendor_account (integration_id, external_id, name, excluded,"
            f" first_seen_at, last_seen_at) VALUES (1, {p}, {p}, FALSE, '2026-10-01',"
            " '2026-10-01')",
            (str(n), f"Customer {n}"),
        )
    old.close()

    db = open_store(location)
    assert schema_version(db) == latest_schema_version()
    integration = Integration.get(Integration.name == "spamtitan")
    assert integration.status == "active"
    assert VendorAccount.select().where(VendorAccount.integration == integration).count() == 50
    assert VendorAccount.get(VendorAccount.external_id == "7").name == "Customer 7"
    assert len(store_id()) == 32
    db.close()


def test_store_written_by_a_newer_version_is_refused(db_path: Path) -> None:
    db = open_store(resolve_location(str(db_path)))
    db.execute_sql(
        "INSERT INTO schema_migration (name, applied) VALUES ('9999_future', '2030-01-01')"
    )
    db.close()
    with pytest.raises(StoreError, match="newer msp-tui"):
        open_store(resolve_location(str(db_path)))


def test_locations() -> None:
    assert resolve_location("sqlite:////srv/a.db").sqlite_path == Path("/srv/a.db")
    pg = resolve_location("postgresql://billing:hunter2@db.internal/msp")
    assert pg.sqlite_path is None
    assert "hunter2" not in pg.display
    with pytest.raises(StoreError, match="sqlite:///PATH"):
        resolve_location("sqlite://relative.db")


WRITES_PER_PROCESS = 300


def _hammer(path: str, worker: int, barrier, errors) -> None:
    """Read-then-write transactions, the pattern that trips deferred SQLite transactions."""
    db = open_store(resolve_location(path))
    barrier.wait(timeout=60)
    try:
        for n in range(WRITES_PER_PROCESS):
            with writing(db):
                seen = AuditEvent.select().count()
                AuditEvent.create(
                    operator=f"worker-{worker}",
                    action="write",
                    subject=str(n),
                    detail=f"saw {seen}",
                )
    except Exception as exc:
        errors.put(f"worker {worker}: {exc!r}")
    finally:
        db.close()


def test_two_processes_write_at_once_without_locking_errors(db_path: Path) -> None:
    open_store(resolve_location(str(db_path))).close()  # migrate once, up front
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    errors = spawn.Queue()
    workers = [
        spawn.Process(target=_hammer, args=(str(db_path), w, barrier, errors)) for w in (1, 2)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    problems = [errors.get() for _ in range(errors.qsize())]
    assert problems == []
    db = open_store(resolve_location(str(db_path)))
    per_worker = dict(db.execute_sql("SELECT operator, COUNT(*) FROM audit_event GROUP BY 1"))
    db.close()
    assert per_worker == {"worker-1": WRITES_PER_PROCESS, "worker-2": WRITES_PER_PROCESS}


def test_two_processes_migrating_a_new_store_at_once(db_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(2) as pool:
        versions = pool.map(_open_and_report_version, [str(db_path)] * 2)
    assert versions == [latest_schema_version()] * 2


def _open_and_report_version(path: str) -> int:
    db = open_store(resolve_location(path))
    try:
        return schema_version(db)
    finally:
        db.close()


def test_a_new_store_is_private_whatever_the_folder_and_umask(tmp_path: Path, capsys) -> None:
    shared = tmp_path / "srv"
    shared.mkdir(mode=0o755)
    db_path = shared / "billing.db"
    previous = os.umask(0o022)
    try:
        db = open_store(resolve_location(str(db_path)))
        Integration.create(name="x", vendor="spamtitan", kind="pull")  # makes the -wal file
        for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        db.close()
    finally:
        os.umask(previous)
    assert main(["--db", str(db_path), "info"]) == 0
    assert "readable by other users" not in capsys.readouterr().err
    db_path.chmod(0o644)  # an older store, or a careless copy
    assert main(["--db", str(db_path), "info"]) == 0
    assert "readable by other users (mode 0644); chmod 600" in capsys.readouterr().err


def test_another_programs_sqlite_file_is_refused(tmp_path: Path, capsys) -> None:
    foreign = tmp_path / "crm.db"
    with sqlite3.connect(foreign) as raw:
        raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        raw.execute("INSERT INTO customers (name) VALUES ('Acme')")
    before = foreign.read_bytes()
    assert main(["--db", str(foreign), "info"]) == 1
    err = capsys.readouterr().err
    assert "is not an msp-tui store" in err and "customers" in err
    assert foreign.read_bytes() == before  # untouched, not migrated into a store
    with sqlite3.connect(foreign) as raw:  # marked by some other program
        raw.execute("PRAGMA application_id = 1234")
    assert main(["--db", str(foreign), "info"]) == 1


@pytest.mark.sqlite_only
def test_a_store_made_before_the_mark_is_accepted_and_marked(db_path: Path) -> None:
    db = open_store(resolve_location(str(db_path)))
    db.execute_sql("PRAGMA application_id = 0")  # as msp-tui 0.1 left its stores
    db.close()
    db = open_store(resolve_location(str(db_path)))
    assert db.execute_sql("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    db.close()
