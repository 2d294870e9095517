"""Every test runs in its own home: XDG dirs under tmp_path, secrets in memory, no MSP_TUI_DB."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from msp_tui.cli import main
from msp_tui.context import Context, open_context


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("MSP_TUI_SECRETS", "memory")
    monkeypatch.delenv("MSP_TUI_DB", raising=False)
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def ctx(db_path: Path) -> Iterator[Context]:
    context = open_context(str(db_path))
    yield context
    context.close()


@pytest.fixture
def mapped():
    """The demo world (SpamTitan and ConnectWise simulators), synced and mapped by its truth."""
    from recon_world import mapped_demo

    with mapped_demo() as found:
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
def pg_store(postgres_server: str) -> str:
    """The URL of an empty PostgreSQL database of this test's own."""
    from postgres import new_database

    return new_database(postgres_server)
