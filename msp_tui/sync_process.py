"""The app's syncs, each in a process of its own.

A sync parses and stores thousands of rows: in the app's process its thread took the
interpreter lock from the UI thread about half the time, so every key and frame took twice as
long while a sync ran (and the sync itself three to six times as long as from the command
line). A child process (`python -m msp_tui.sync_child`) runs on the other core instead.

The request goes over the child's standard input, never its argv: the store's URL (a
PostgreSQL URL may hold a password) and, for a store whose secrets live only in this process's
memory (the demo, tests), those secrets. A secret store in the keyring or the 0600 file is
opened by the child itself. The outcome comes back as JSON, the last line of its output.
Cancelling the awaiting task (the app quitting) terminates the child: its transaction is
rolled back, and the run it began shows as interrupted, as for a killed `msp-tui sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import asdict

from msp_tui.context import Context
from msp_tui.secret_store import FileKeyring, MemoryKeyring, SecretStore
from msp_tui.untrusted import printable

TERMINATE_WAIT_S = 3.0  # from SIGTERM to SIGKILL for a child that does not end


def in_process_only(ctx: Context) -> bool:
    """An in-memory SQLite store cannot be opened by another process."""
    path = ctx.location.sqlite_path
    return path is not None and str(path) == ":memory:"


def request_for(ctx: Context, source: str, mode: str) -> dict[str, object]:
    return {"db": ctx.location.url, "source": source, "mode": mode,
            **_secrets_for_child(ctx.secrets)}  # fmt: skip


def _secrets_for_child(secrets: SecretStore) -> dict[str, object]:
    backend = secrets.backend
    if isinstance(backend, MemoryKeyring):
        values = [
            [username, value]
            for (service, username), value in backend._values.items()
            if service == secrets.service
        ]
        return {"secrets_mode": "memory", "secrets": values}
    return {"secrets_mode": "file" if isinstance(backend, FileKeyring) else "keyring"}


async def sync_in_process(ctx: Context, source: str, mode: str):
    """Run the sync of `source` (a `SyncSource.key`) in a child process; its `SyncOutcome`."""
    from msp_tui.sync import SyncOutcome

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "msp_tui.sync_child",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    request = json.dumps(request_for(ctx, source, mode)).encode()
    try:
        out, err = await process.communicate(request)
    except asyncio.CancelledError:
        await asyncio.shield(_end(process))
        raise
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode == 0 and lines:
        with contextlib.suppress(ValueError, TypeError):
            return SyncOutcome(**json.loads(lines[-1]))
    said = err.decode(errors="replace").strip().splitlines()
    why = f": {printable(said[-1])}" if said else ""
    return SyncOutcome(source, False, error=f"the sync process ended with exit code"
                                            f" {process.returncode}{why}")  # fmt: skip


async def _end(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), TERMINATE_WAIT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def outcome_line(outcome) -> str:
    return json.dumps(asdict(outcome))
