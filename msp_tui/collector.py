"""The garbage collector's full collections, run when the operator is not typing.

CPython starts a full collection by itself every few seconds of allocation, and it walks every
tracked object while every thread waits: with reconciliation's 20,000 lines or a 5,000 x 5,000
board loaded, 100-450 ms at a time on the 2-core machine (bench/ui_latency.py), landing on
whatever key came next. While the app runs, `Collector` keeps the young generations automatic
(cheap, and they free most cycles) and runs the full collection itself: once the keyboard has
rested `FULL_AFTER_IDLE_S`, at most every `LOOK_EVERY_S`, and at least every
`AT_LEAST_EVERY_S` however busy the operator is, so memory held by cycles is always given back.
What is alive after the first frame (the modules, Textual, Home) is frozen out of it for the
process's life. The thresholds are put back when the app ends (tests run many apps in one
process).
"""

from __future__ import annotations

import gc
import time

FULL_AFTER_IDLE_S = 3.0
LOOK_EVERY_S = 10.0
AT_LEAST_EVERY_S = 300.0
_NEVER = 1_000_000_000  # young collections before CPython would start a full one itself

_frozen = False  # once a process: gc.freeze()


class Collector:
    def __init__(self) -> None:
        self.input_at = self.full_at = time.monotonic()
        self._saved: tuple[int, int, int] | None = None
        self.full_collections = 0

    def take_over(self) -> None:
        """After the first frame: freeze what lives for good, and stop CPython's own full
        collections (ours run in `tick`)."""
        global _frozen
        if not _frozen:
            _frozen = True
            gc.freeze()
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, _NEVER)

    def give_back(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input_seen(self) -> None:
        self.input_at = time.monotonic()

    def tick(self) -> bool:
        """Called every few seconds: a full collection if it is time. True when one ran."""
        now = time.monotonic()
        resting = now - self.input_at >= FULL_AFTER_IDLE_S
        due = now - self.full_at >= (LOOK_EVERY_S if resting else AT_LEAST_EVERY_S)
        if self._saved is None or not due:
            return False
        gc.collect()
        self.full_at = time.monotonic()
        self.full_collections += 1
        return True
