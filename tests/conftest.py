"""Every test runs in its own home: XDG dirs under tmp_path, secrets in memory.

MSP_TUI_TEST_ENGINE=postgres runs the suite on PostgreSQL (as .ci/run does, second): every
store a test makes (`db_path`, the demo's, the default one) is then a fresh database on the
session's server, and tests of SQLite specifics (marked `sqlite_only`) are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from msp_tui.cli import main
from msp_tui.context import Context, open_context
from msp_tui.demo import PSAS

ENGINE = os.environ.get("MSP_TUI_TEST_ENGINE", "sqlite")
ON_POSTGRES = ENGINE == "postgres"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="SQLite specific: runs in the SQLite pass")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("MSP_TUI_SECRETS", "memory")
    if ON_POSTGRES:  # the default store, for commands given no --db
        monkeypatch.setenv("MSP_TUI_DB", request.getfixturevalue("new_pg_database")())
    else:
        monkeypatch.delenv("MSP_TUI_DB", raising=False)
    return home


@pytest.fixture
def db_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where this test's store is: a SQLite file, or on PostgreSQL a database URL of its own."""
    return request.getfixturevalue("pg_store") if ON_POSTGRES else tmp_path / "store.db"


@pytest.fixture
def demo_db(request: pytest.FixtureRequest) -> str | None:
    """The store for a demo world: None (a throwaway SQLite file) or a fresh database URL."""
    return request.getfixturevalue("new_pg_database")() if ON_POSTGRES else None


@pytest.fixture
def ctx(db_path: Path) -> Iterator[Context]:
    context = open_context(str(db_path))
    yield context
    context.close()


@pytest.fixture
def mapped(demo_db: str | None):
    """The demo world (SpamTitan and ConnectWise simulators), synced and mapped by its truth."""
    from recon_world import mapped_demo

    with mapped_demo(db=demo_db) as found:
        yield found


@pytest.fixture(params=PSAS, ids=PSAS)
def psa_mapped(request: pytest.FixtureRequest, demo_db: str | None):
    """The demo world synced and mapped by its truth, once against each PSA's simulator
    (ConnectWise, Autotask, HaloPSA): `demo.psa` says which. See recon_world for PSA-neutral
    helpers."""
    from recon_world import mapped_demo

    with mapped_demo(companies=60, db=demo_db, psa=request.param) as found:
        yield found


@pytest.fixture
def partner_key(db_path: Path, capsys) -> str:
    """A Mailprotector push integration in the store at `db_path`; its key, shown once."""
    assert main(["--db", str(db_path), "integrations", "add", "mailprotector", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "mailprotector" and shown["base_url"]
    return shown["partner_key"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for this test session (see tests/postgres.py)."""
    from postgres import Cluster, NoPostgres

    given = os.environ.get("MSP_TUI_TEST_PG")
    if given:
        yield given.rstrip("/")
        return
    try:
        cluster = Cluster()
        server = cluster.start()
    except NoPostgres as exc:
        if os.environ.get("CI"):
            raise  # CI installs PostgreSQL: a missing one is a failure there
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        cluster.stop()


@pytest.fixture
def new_pg_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases of this test's own (its store, a demo's, the default
    one of commands given no --db); each is dropped after the test."""
    from postgres import drop_database, new_database

    made: list[str] = []

    def make() -> str:
        made.append(new_database(postgres_server))
        return made[-1]

    yield make
    for url in made:
        drop_database(url)


@pytest.fixture
def pg_store(new_pg_database: Callable[[], str]) -> str:
    """The URL of an empty PostgreSQL database of this test's own, dropped after it."""
    return new_pg_database()
