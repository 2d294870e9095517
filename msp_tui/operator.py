"""Who is at the keyboard, for the audit trail: the login, and the SSH client when there is one."""

from __future__ import annotations

import getpass
import os


def current_operator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        user = os.environ.get("USER") or "unknown"
    client = (os.environ.get("SSH_CLIENT") or os.environ.get("SSH_CONNECTION") or "").split()
    return f"{user}@{client[0]}" if client else user
