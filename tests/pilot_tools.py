"""Helpers for Pilot tests."""

from __future__ import annotations

import time


async def wait_until(pilot, condition, timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def go_to(pilot, screen, key: tuple) -> None:
    """In reconciliation: walk the cursor down (then up) with the arrow keys until it is on the
    line for `key`."""
    from msp_tui.reconcile import ReconciliationLine
    from screens.reconcile import ReconcileList

    rows = screen.query_one(ReconcileList)
    for direction in ("down", "up"):
        for _ in range(rows.row_count):
            item = rows.highlighted_item
            if isinstance(item, ReconciliationLine) and item.key == key:
                return
            await pilot.press(direction)
    raise AssertionError(f"line {key} is not shown")
