"""Helpers for tests that run msp-tui as a real second process (and sometimes kill it)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from msp_tui.context import Context
from msp_tui.secret_store import open_secret_store
from msp_tui.sources import PSA_SECRETS, psa_secret_scope
from msp_tui.store.db import store_id
from msp_tui.store.models import PsaConnection

POLL_S = 0.02


def share_secrets(ctx: Context, scope: str, names: tuple[str, ...]) -> None:
    """Copy secrets into the file secret store, where a subprocess run with
    MSP_TUI_SECRETS=file (as a cron job would be) finds them."""
    files = open_secret_store(store_id(), "file")
    for name in names:
        files.set(scope, name, ctx.secrets.get(scope, name))


def share_psa_keys(ctx: Context) -> None:
    """The PSA connection's secrets (ConnectWise's two keys, Autotask's secret) to the file
    store."""
    connection = PsaConnection.get()
    share_secrets(ctx, psa_secret_scope(connection), PSA_SECRETS[connection.kind])


def wait_while_running(
    process: subprocess.Popen, condition: Callable[[], object], timeout: float = 30.0
) -> None:
    """Poll until `condition()` holds; fail with the process's output if it ends first or the
    time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"condition not met (exit {process.poll()}): {out}")
        time.sleep(POLL_S)
