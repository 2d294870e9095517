from __future__ import annotations

import json
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from stored import stored_text

from adapters.sandbox import LoopbackServer, build_world
from adapters.sandbox.connectwise import connectwise_app
from msp_tui.cli import main
from msp_tui.context import open_context
from msp_tui.secret_store import (
    FileKeyring,
    MemoryKeyring,
    SecretStoreError,
    open_secret_store,
    secrets_file_path,
)

API_KEY = "st-live-7f3a9c0e1b2d4f6a8c0e2b4d6f8a0c2e"


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch):
    """What a headless box over SSH looks like: keyring finds no backend at all."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.delenv("MSP_TUI_SECRETS", raising=False)
    yield
    keyring.set_keyring(previous)


def test_file_fallback_round_trip_private_and_not_in_the_database(
    no_keyring, db_path: Path
) -> None:
    ctx = open_context(str(db_path))
    store = ctx.secrets
    assert isinstance(store.backend, FileKeyring)
    assert store.notice and "0600" in store.notice

    store.set("spamtitan", "api_key", API_KEY)
    assert store.get("spamtitan", "api_key") == API_KEY

    path = secrets_file_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert API_KEY.encode() in path.read_bytes()

    # Work the database as the app would, then look at every byte SQLite wrote.
    from msp_tui.store.models import Integration

    Integration.create(
        name="spamtitan",
        vendor="spamtitan",
        kind="pull",
        config={"url": "https://spamtitan.example/restapi"},
    )
    if "://" not in str(db_path):
        ctx.db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    ctx.close()
    assert API_KEY not in stored_text(db_path)

    again = open_context(str(db_path)).secrets
    assert again.get("spamtitan", "api_key") == API_KEY
    again.delete("spamtitan", "api_key")
    assert again.get("spamtitan", "api_key") is None


def test_forcing_file_mode_has_no_notice(no_keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSP_TUI_SECRETS", "file")
    store = open_secret_store("store-a")
    assert isinstance(store.backend, FileKeyring)
    assert store.notice is None


def test_forcing_keyring_without_one_is_an_error(
    no_keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSP_TUI_SECRETS", "keyring")
    with pytest.raises(SecretStoreError, match="no keyring backend"):
        open_secret_store("store-a")


def test_unknown_mode_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSP_TUI_SECRETS", "vault")
    with pytest.raises(SecretStoreError, match="keyring, file, memory"):
        open_secret_store("store-a")


def test_a_usable_system_keyring_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = keyring.get_keyring()
    system = MemoryKeyring()
    keyring.set_keyring(system)
    monkeypatch.delenv("MSP_TUI_SECRETS", raising=False)
    try:
        store = open_secret_store("store-a")
        assert store.backend is system
        assert store.notice is None
        store.set("mailprotector", "vendor_key", "k1")
        assert system.get_password("msp-tui/store-a", "mailprotector/vendor_key") == "k1"
    finally:
        keyring.set_keyring(previous)


def test_stores_do_not_share_secrets(no_keyring) -> None:
    a, b = open_secret_store("store-a", "file"), open_secret_store("store-b", "file")
    a.set("spamtitan", "api_key", "only-a")
    assert b.get("spamtitan", "api_key") is None


def test_a_secrets_file_others_can_read_is_refused(no_keyring) -> None:
    store = open_secret_store("store-a", "file")
    store.set("spamtitan", "api_key", API_KEY)
    secrets_file_path().chmod(0o644)
    with pytest.raises(SecretStoreError, match="chmod 600"):
        store.get("spamtitan", "api_key")


def test_keyring_failures_never_carry_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.PasswordSetError(f"could not store {password}")

    previous = keyring.get_keyring()
    keyring.set_keyring(Broken())
    monkeypatch.delenv("MSP_TUI_SECRETS", raising=False)
    try:
        with pytest.raises(SecretStoreError) as exc:
            open_secret_store("store-a").set("spamtitan", "api_key", API_KEY)
        assert API_KEY not in str(exc.value)
        assert exc.value.__cause__ is None and exc.value.__suppress_context__
        assert "MSP_TUI_SECRETS=file" in str(exc.value)
    finally:
        keyring.set_keyring(previous)


def test_memory_backend_for_tests() -> None:
    store = open_secret_store("store-a")
    assert isinstance(store.backend, MemoryKeyring)
    store.set("x", "y", "z")
    assert store.get("x", "y") == "z"
    with pytest.raises(ValueError):
        store.set("x", "y", "")


def test_a_second_host_takes_its_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The data is shared, the secrets are not: `info` names what this host lacks and how to
    give it; the documented variables supply it (a systemd EnvironmentFile), and a sync runs."""
    world = build_world(seed=2, companies=20)
    with LoopbackServer(connectwise_app(world)) as cw:
        db = str(tmp_path / "shared.db")
        monkeypatch.setenv("CW_PRIVATE", world.cw_private_key)
        first_host = ["--db", db, "psa", "set", "connectwise", "--site", cw.base_url,
                      "--company", world.cw_company_id, "--public-key", world.cw_public_key,
                      "--client-id", world.cw_client_id,
                      "--private-key-env", "CW_PRIVATE"]  # fmt: skip
        assert main(first_host) == 0
        monkeypatch.setenv("MSP_TUI_SECRETS", "file")  # the second host: nothing stored here
        capsys.readouterr()
        assert main(["--db", db, "info"]) == 0
        out = capsys.readouterr().out
        assert (
            "ConnectWise Manage (connectwise) private key: MISSING: run: msp-tui psa set"
            " connectwise"
        ) in out and "MSP_TUI_SECRET_PSA_CONNECTWISE_PRIVATE_KEY" in out
        assert main(["--db", db, "sync", "psa"]) == 1
        assert "MSP_TUI_SECRET_PSA_CONNECTWISE_PUBLIC_KEY" in capsys.readouterr().err

        monkeypatch.setenv("MSP_TUI_SECRET_PSA_CONNECTWISE_PUBLIC_KEY", world.cw_public_key)
        monkeypatch.setenv("MSP_TUI_SECRET_PSA_CONNECTWISE_PRIVATE_KEY", world.cw_private_key)
        assert main(["--db", db, "info", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)["credentials"]
        assert [c["source"] for c in listed] == [
            "environment MSP_TUI_SECRET_PSA_CONNECTWISE_PUBLIC_KEY",
            "environment MSP_TUI_SECRET_PSA_CONNECTWISE_PRIVATE_KEY",
        ]
        assert world.cw_private_key not in json.dumps(listed)
        assert main(["--db", db, "sync", "psa"]) == 0
