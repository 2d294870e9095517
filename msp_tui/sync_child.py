"""`python -m msp_tui.sync_child`: one sync for the app, in a process of its own.

Reads the request `msp_tui.sync_process` writes to its standard input, runs the sync, and
prints the outcome as JSON on the last line. Not a command for people: `msp-tui sync` is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys

from msp_tui.context import open_context
from msp_tui.sync import sync_sources
from msp_tui.sync_process import outcome_line

NICENESS = 10
"""Below the app's priority: on a busy machine the operator's keys get a core before the sync
does (the sync is background work; a few seconds more for it go unnoticed, a key's 50 ms
do not)."""


def main() -> int:
    with contextlib.suppress(OSError, AttributeError):  # not everywhere
        os.nice(NICENESS)
    request = json.loads(sys.stdin.read())
    ctx = open_context(request["db"], secrets_mode=request["secrets_mode"])
    try:
        for username, value in request.get("secrets", []):  # a store kept in memory only
            ctx.secrets.backend.set_password(ctx.secrets.service, username, value)
        sources = [s for s in sync_sources([request["source"]]) if s.key == request["source"]]
        if not sources:
            print(f"nothing to sync by the name {request['source']!r}", file=sys.stderr)
            return 2
        outcome = asyncio.run(sources[0].run(ctx.secrets, request["mode"]))
        print(outcome_line(outcome), flush=True)
        return 0
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
