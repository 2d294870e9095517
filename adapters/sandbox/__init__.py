"""Loopback simulators of the vendor and PSA APIs, for tests, demos and benchmarks.

`build_world()` makes a seeded, made-up MSP; `spamtitan_app()` and `connectwise_app()` serve it
the way the real APIs do; `LoopbackServer` runs an app on 127.0.0.1 in a background thread;
`Faults` makes the servers slow, flaky or rude on demand.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use: the apps pull in FastAPI (a third of a second), which `msp-tui demo`
# pays in a background thread, after its first frame, rather than on import of the world.
_WHERE = {
    "Faults": "adapters.sandbox.faults",
    "LoopbackServer": "adapters.sandbox.server",
    "World": "adapters.sandbox.world",
    "build_world": "adapters.sandbox.world",
    "connectwise_app": "adapters.sandbox.connectwise",
    "spamtitan_app": "adapters.sandbox.spamtitan",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
