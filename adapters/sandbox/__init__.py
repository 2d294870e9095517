"""Loopback simulators of the vendor and PSA APIs, for tests, demos and benchmarks.

`build_world()` makes a seeded, made-up MSP; `spamtitan_app()` and `connectwise_app()` serve it
the way the real APIs do; `LoopbackServer` runs an app on 127.0.0.1 in a background thread;
`Faults` makes the servers slow, flaky or rude on demand.
"""

from __future__ import annotations

from adapters.sandbox.connectwise import connectwise_app
from adapters.sandbox.faults import Faults
from adapters.sandbox.server import LoopbackServer
from adapters.sandbox.spamtitan import spamtitan_app
from adapters.sandbox.world import World, build_world

__all__ = ["Faults", "LoopbackServer", "World", "build_world", "connectwise_app", "spamtitan_app"]
