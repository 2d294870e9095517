"""Sync runs as people should read them: a run still `running` whose process has gone (killed,
the machine restarted) is `interrupted`, not running forever."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from msp_tui.store.models import SyncRun, utcnow

# No sync runs this long: past it a `running` row from another host is taken as interrupted.
LONGEST_SYNC = timedelta(hours=6)


def this_runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, alive
        return True
    return True


def run_state(run: SyncRun) -> str:
    """ok, failed, running or interrupted."""
    if run.status != "running":
        return run.status
    host, _, pid = (run.runner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return "running" if _alive(int(pid)) else "interrupted"
    return "interrupted" if utcnow() - run.started_at > LONGEST_SYNC else "running"
