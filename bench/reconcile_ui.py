"""How the reconciliation screen feels on 20,000 lines.

    python bench/reconcile_ui.py [--companies 10000]

All in one run, headless at 80x24 (`App.run_test`), on the store `reconcile_speed.py` builds
(N companies x 2 mapped products, so 2 x N lines, most of them to review):

(a) open: in the real app, from pressing `c` on Home until the reconciliation table has drawn
    its first frame. This includes computing every line and this period's decisions, grouping
    and sorting them, and mounting the screen.
(b) page: `pagedown` 25 times then `pageup` 25 times; each key timed from `pilot.press` until
    the table has been repainted (the last row drawn for it).
(c) baseline, same run, same rows: a `DataTable` given the already computed lines (the same
    cell text), timed from the app's start to its first frame, and paged with the same keys.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from reconcile_speed import build
from textual.app import App, ComposeResult
from textual.widgets import DataTable
from timing import ms, quantiles

from msp_tui.app import MspTuiApp
from msp_tui.context import open_context
from msp_tui.reconcile import ReconciliationLine, arrange, reconciliation_lines
from screens.reconcile import ReconcileList, ReconcileScreen, money, quantity, status_label

SIZE = (80, 24)
PAGES = 25


class Painted:
    """When a table last drew a line."""

    at = 0.0


def _timed(cls):
    original = cls.render_line

    def render_line(self, y: int):
        Painted.at = time.perf_counter()
        return original(self, y)

    cls.render_line = render_line


_timed(ReconcileList)


class TimedDataTable(DataTable):
    def render_line(self, y: int):
        Painted.at = time.perf_counter()
        return super().render_line(y)


async def wait_painted(pilot, since: float, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while Painted.at <= since:
        assert time.monotonic() < deadline, "the table was not drawn"
        await pilot.pause()
    return Painted.at


async def page(pilot) -> list[float]:
    timings = []
    for key in ["pagedown"] * PAGES + ["pageup"] * PAGES:
        start = time.perf_counter()
        await pilot.press(key)
        await pilot.pause()
        timings.append(await wait_painted(pilot, start) - start)
    return timings


async def ours(db: str) -> tuple[float, list[float], int]:
    ctx = open_context(db, secrets_mode="memory")
    try:
        app = MspTuiApp(ctx, serve_port=0)
        async with app.run_test(size=SIZE) as pilot:
            while not app.screen.query("Card"):
                await pilot.pause()
            await pilot.pause()
            start = time.perf_counter()
            await pilot.press("c")
            while not isinstance(app.screen, ReconcileScreen):
                await pilot.pause()
            opened = await wait_painted(pilot, start) - start
            table = app.screen.query_one(ReconcileList)
            rows = table.row_count
            paging = await page(pilot)
            assert table.cursor > 0 or rows < 2
    finally:
        ctx.close()
    return opened, paging, rows


class DataTableApp(App[None]):
    def __init__(self, cells: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.cells = cells

    def compose(self) -> ComposeResult:
        yield TimedDataTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(TimedDataTable)
        table.add_columns("Company / product", "Vendor", "PSA", "Change", "Impact", "Status")
        table.add_rows(self.cells)
        table.focus()


def cells(line: ReconciliationLine) -> tuple[str, ...]:
    return (f"{line.company_name} / {line.product_identifier}", quantity(line.vendor_quantity),
            quantity(line.psa_quantity), f"{line.change:+,}", money(line.impact),
            status_label(line)[0])  # fmt: skip


async def baseline(lines: list[ReconciliationLine]) -> tuple[float, list[float]]:
    rows = [cells(row) for row in arrange(lines) if isinstance(row, ReconciliationLine)]
    start = time.perf_counter()
    app = DataTableApp(rows)
    async with app.run_test(size=SIZE) as pilot:
        opened = await wait_painted(pilot, start) - start
        paging = await page(pilot)
    return opened, paging


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp, "r.db"))
        ctx = open_context(db, secrets_mode="memory")
        try:
            build(args.companies)
            started = time.perf_counter()
            lines = reconciliation_lines()
            compute = time.perf_counter() - started
        finally:
            ctx.close()
        opened, paging, rows = await ours(db)
        base_opened, base_paging = await baseline(lines)
    print("## Reconciliation screen speed — `python bench/reconcile_ui.py`")
    print()
    print("```")
    print(f"input: {args.companies:,} companies x 2 mapped products = {len(lines):,} lines"
          f" ({rows:,} rows shown to review, headings included), headless at 80x24")  # fmt: skip
    print(f"open, c on Home to the table's first frame: {opened:.2f} s"
          f" (computing the lines alone: {compute:.2f} s)")  # fmt: skip
    print(f"  DataTable baseline given the computed lines, start to first frame:"
          f" {base_opened:.2f} s (+ {compute:.2f} s to compute them = {base_opened + compute:.2f} s)")  # fmt: skip
    print(f"page ({PAGES} x pagedown, {PAGES} x pageup), key to repaint:")
    print(f"  reconciliation table: {ms(paging, with_max=True)}")
    print(f"  DataTable baseline:   {ms(base_paging, with_max=True)}")
    ratio = quantiles(base_paging)[0] / quantiles(paging)[0]
    print(f"  speed-up at the median: {ratio:.1f}x;"
          f" open speed-up: {(base_opened + compute) / opened:.1f}x")  # fmt: skip
    print("```")


if __name__ == "__main__":
    asyncio.run(main())
