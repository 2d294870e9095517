"""How the mapping panel feels with 5,000 PSA companies beside 5,000 vendor accounts.

    python bench/mapping_ui.py [--size 5000] [--queries 8]

All in one run, headless at 80x24 (`App.run_test`), on a fresh SQLite store:

(a) open: from calling `read_account_board` (the two lists and the saved mappings) until the
    MappingPanel is mounted and its vendor list has drawn its first frame; then, separately,
    until the matcher (run by the panel in a thread worker after that frame) has saved the exact
    matches and the panel has drawn them and the suggestions. Once on the fresh store, once more
    when it is reopened (exact matches already saved), and once the way it was before issue 19
    (`load_account_board`, matcher and saving included, then mount), on the fresh store again.
(b) filter: words typed one character at a time into the vendor search, then erased with
    backspace (the last backspace brings back all 5,000 rows). Each keystroke is
    timed from `pilot.press(char)` until the list shows the result and has been repainted
    (the last row drawn), and also as the whole `pilot.press(char)` + `pilot.pause()` round
    trip, which includes Pilot's own idle detection (each wait sleeps at least 20 ms); the
    round trip of a key that does nothing is printed as that floor.
    The same words are also typed while the matcher runs (the board opened on a fresh store),
    each key posted as the terminal driver posts it and timed to the list's repaint.
(c) baseline, same run, same keystrokes: an `OptionList` holding the same 5,000 rows (the same
    text), refilled per keystroke with `clear_options()` + `add_options(matches)`.

Names: the evaluation set's real company names grown to the size asked for with a fixed seed,
and their vendor-side variants (`bench/match_speed.py`'s corpus), so the matcher finds a real
onboarding's mix of exact matches, suggestions and strangers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from match_speed import SEED, corpus
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Input, OptionList
from timing import ms, quantiles

from msp_tui.context import open_context
from msp_tui.mapping import MappingBoard, load_account_board, read_account_board
from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    Integration,
    PsaCompany,
    PsaConnection,
    VendorAccount,
)
from screens import STYLES
from screens.mapping_panel import MappingPanel
from screens.pairing import PairingList

SIZE = (80, 24)


def build_store(size: int, rng: random.Random) -> Integration:
    vendor, psa = corpus(size, rng)
    with writing():
        connection = PsaConnection.create(name="cw", site="cw.example.com",
                                           company_identifier="msp", client_id="bench")  # fmt: skip
        companies = [{"connection": connection, "external_id": n, "identifier": f"C{n:05}",
                      "name": name} for n, name in enumerate(psa)]  # fmt: skip
        for start in range(0, len(companies), 500):
            PsaCompany.insert_many(companies[start : start + 500]).execute()
        integration = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
        accounts = [{"integration": integration, "external_id": f"V{n:05}", "name": name}
                    for n, name in enumerate(vendor)]  # fmt: skip
        for start in range(0, len(accounts), 500):
            VendorAccount.insert_many(accounts[start : start + 500]).execute()
    return integration


class TimedApp(App[None]):
    """Knows when its list last drew a row, when its first whole frame was done, and when the
    frame showing the matcher's results was."""

    CSS_PATH = STYLES

    def __init__(self, board: MappingBoard) -> None:
        super().__init__()
        self.board = board
        self.painted_at = 0.0  # when the list last drew a row
        self.framed_at = 0.0  # when the frame that first drew the list was finished
        self.filled_at = 0.0  # when the frame drawn after the matcher's results was finished

    def list_painted(self) -> None:
        if not self.framed_at and not self.painted_at:
            self.call_after_refresh(self._framed)
        self.painted_at = time.perf_counter()

    def _framed(self) -> None:
        self.framed_at = time.perf_counter()


class PanelApp(TimedApp):
    def compose(self) -> ComposeResult:
        yield MappingPanel(self.board)

    def on_mount(self) -> None:
        vendor_list = self.query_one("#vendor-list", PairingList)
        draw = vendor_list.format_row

        def timed(row, width: int):
            self.list_painted()
            return draw(row, width)

        vendor_list.format_row = timed

    def on_mapping_panel_filled_in(self, event: MappingPanel.FilledIn) -> None:
        # The panel has redrawn its lists (it handles the message first); this is the frame.
        self.exact = event.filled.exact
        self.call_after_refresh(self._filled)

    def _filled(self) -> None:
        self.filled_at = time.perf_counter()


class OptionListApp(TimedApp):
    """The baseline: every match becomes an Option, every keystroke refills the list."""

    def __init__(self, board: MappingBoard, text: dict[int, str]) -> None:
        super().__init__(board)
        self.text = text

    def compose(self) -> ComposeResult:
        yield Input(id="vendor-search", compact=True)
        yield TimedOptionList(*(self.text[v.id] for v in self.board.vendor_view()))

    def on_mount(self) -> None:
        # The same wiring as the panel's (a watcher, not Input.Changed), so only the lists differ.
        self.watch(self.query_one(Input), "value", self.refill, init=False)

    def refill(self, query: str) -> None:
        options = self.query_one(TimedOptionList)
        options.clear_options()
        options.add_options([self.text[v.id] for v in self.board.vendor_view(query)])


class TimedOptionList(OptionList):
    def render_line(self, y: int):
        self.app.list_painted()
        return super().render_line(y)


@dataclass
class Opened:
    read_s: float  # reading the board (the lists; the matcher too when `matched_first`)
    first_frame_s: float  # to the first frame of the lists
    filled_s: float  # to the frame showing the matcher's results (exact matches, suggestions)
    exact: int  # exact matches the matcher saved


async def open_panel(integration: Integration, matched_first: bool = False) -> Opened:
    """Open the board in a panel, as the wizard does (`read_account_board`, the matcher after
    the first frame), or as it did before issue 19 (`load_account_board`: the matcher and the
    saving first, then the panel)."""
    start = time.perf_counter()
    if matched_first:
        board = load_account_board(integration, "bench")
    else:
        board = read_account_board(integration, "bench")
    read = time.perf_counter()
    app = PanelApp(board)
    app.exact = 0
    async with app.run_test(size=SIZE) as pilot:
        while not app.framed_at:
            await pilot.pause()
        if not app.query_one(MappingPanel).matching:  # nothing was left to match
            app.filled_at = app.filled_at or app.framed_at
        while not app.filled_at:
            await pilot.pause()
    if matched_first:
        app.exact = sum(1 for v in board.vendor if v.method == "exact")
    return Opened(read - start, app.framed_at - start, app.filled_at - start, app.exact)


async def type_while_matching(integration: Integration, words: list[str]) -> list[float]:
    """Open the board on a fresh store and type into the vendor search while the matcher runs
    in its thread: key to repaint for each key pressed before its results were drawn. Keys are
    posted as the terminal driver posts them (Pilot's own waits last until the whole process
    is idle, that is until the matcher is done), at a typist's pace."""
    forget_mappings()
    app = PanelApp(read_account_board(integration, "bench"))
    times: list[float] = []
    async with app.run_test(size=SIZE):
        while not app.framed_at:
            await asyncio.sleep(0.001)
        panel = app.query_one(MappingPanel)
        search = app.query_one("#vendor-search", Input)
        search.focus()
        await asyncio.sleep(0.02)
        keys = itertools.cycle(
            [key for word in words for key in [*word, *["backspace"] * len(word)]]
        )
        while panel.matching:
            key = next(keys)
            wanted = search.value[:-1] if key == "backspace" else search.value + key
            app.painted_at = 0.0
            start = time.perf_counter()
            app.post_message(events.Key(key, None if key == "backspace" else key))
            while not (search.value == wanted and app.painted_at):
                assert time.perf_counter() - start < 10, (wanted, search.value)
                await asyncio.sleep(0.001)
            if panel.matching:
                times.append(app.painted_at - start)
            await asyncio.sleep(0.03)
    return times


def forget_mappings() -> None:
    """Back to a fresh store: no mapping saved yet."""
    with writing():
        AccountMapping.delete().execute()


async def open_baseline(board: MappingBoard, text: dict[int, str]) -> float:
    """Seconds from creating the OptionList app (5,000 options) to its first frame."""
    start = time.perf_counter()
    app = OptionListApp(board, text)
    async with app.run_test(size=SIZE) as pilot:
        while not app.framed_at:
            await pilot.pause()
        return app.framed_at - start


async def type_words(app: App, words: list[str], check: Callable[[str], None]) -> dict:
    """Type each word into the vendor search a character at a time, then erase it with
    backspace (the last one brings back all the rows); time every keystroke."""
    to_paint: list[float] = []
    round_trip: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        search = app.query_one("#vendor-search", Input)
        search.focus()
        await pilot.pause()
        idle = []
        for _ in range(10):
            start = time.perf_counter()
            await pilot.press("f12")  # bound to nothing: the harness alone
            await pilot.pause()
            idle.append(time.perf_counter() - start)
        for word in words:
            for char in [*word, *["backspace"] * len(word)]:  # type it, then erase it
                app.painted_at = 0.0
                start = time.perf_counter()
                await pilot.press(char)
                await pilot.pause()
                round_trip.append(time.perf_counter() - start)
                check(search.value)
                assert app.painted_at, "the list was not repainted"
                to_paint.append(app.painted_at - start)
    return {"paint": to_paint, "round_trip": round_trip, "idle": idle}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=8, help="words typed into the search")
    args = parser.parse_args()
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(str(Path(tmp, "store.db")))
        try:
            integration = build_store(args.size, rng)
            fresh = await open_panel(integration)
            reopened = await open_panel(integration)
            forget_mappings()
            before = await open_panel(integration, matched_first=True)

            board = load_account_board(integration, "bench")
            labeler = MappingPanel(board)  # the panel's own row text, for the baseline
            labeler._style = lambda part: ""  # not mounted: no component styles to look up
            text = {v.id: labeler.format_vendor_row(v, 37).plain for v in board.vendor}
            names = [v.label for v in board.vendor if len(v.label.split()[0]) >= 4]
            words = [n.split()[0].lower()[:7] for n in rng.sample(names, args.queries)]

            def panel_shows(query: str) -> None:
                shown = panel_app.query_one("#vendor-list", PairingList).row_count
                assert shown == len(board.vendor_view(query)), (query, shown)

            def baseline_shows(query: str) -> None:
                shown = baseline_app.query_one(TimedOptionList).option_count
                assert shown == len(board.vendor_view(query)), (query, shown)

            during = await type_while_matching(integration, words)
            baseline_open_s = await open_baseline(board, text)
            panel_app = PanelApp(board)
            ours = await type_words(panel_app, words, panel_shows)
            baseline_app = OptionListApp(board, text)
            theirs = await type_words(baseline_app, words, baseline_shows)
        finally:
            ctx.close()

    (ours_median, ours_p95), (theirs_median, theirs_p95) = (
        quantiles(ours["paint"]), quantiles(theirs["paint"]),
    )  # fmt: skip
    n = f"{args.size:,}"
    print("## Mapping panel speed — `python bench/mapping_ui.py`")
    print()
    print("```")
    print(f"input: {n} PSA companies x {n} vendor accounts, headless at 80x24")
    print(f"open, read_account_board to the panel's first frame (the lists):"
          f" {fresh.first_frame_s:.2f} s (board read {fresh.read_s:.2f} s; mount + first frame"
          f" {fresh.first_frame_s - fresh.read_s:.2f} s)")  # fmt: skip
    print(f"  then the matcher in a thread: {fresh.exact:,} exact matches saved and the suggestions"
          f" drawn at {fresh.filled_s:.2f} s")  # fmt: skip
    print(f"  reopened, exact matches already saved: first frame {reopened.first_frame_s:.2f} s"
          f" (board read {reopened.read_s:.2f} s), suggestions drawn at"
          f" {reopened.filled_s:.2f} s")  # fmt: skip
    print(f"  before issue 19, load_account_board (matcher + saving {before.exact:,} exact matches)"
          f" then the panel: first frame {before.first_frame_s:.2f} s"
          f" (board {before.read_s:.2f} s)")  # fmt: skip
    print(f"  OptionList baseline holding the {n} rows, start to first frame:"
          f" {baseline_open_s:.2f} s")  # fmt: skip
    print(f"filter keystroke, key to repaint ({len(ours['paint'])} keys: {len(words)} words typed"
          " into the vendor search, then erased with backspace)")  # fmt: skip
    print(f"  MappingPanel:         {ms(ours['paint'])}")
    print(f"  OptionList baseline:  {ms(theirs['paint'])}")
    print(f"  speed-up:             {theirs_median / ours_median:.1f}x at the median,"
          f" {theirs_p95 / ours_p95:.1f}x at p95")  # fmt: skip
    if during:
        print(f"  MappingPanel while the matcher runs ({len(during)} keys, posted as a terminal"
              f" does, a fresh store): {ms(during, with_max=True)}")  # fmt: skip
    print("the same keys as pilot.press + pilot.pause round trips (Pilot's idle waits included)")
    print(f"  MappingPanel:         {ms(ours['round_trip'])}")
    print(f"  OptionList baseline:  {ms(theirs['round_trip'])}")
    print(f"  a key bound to nothing: {ms(ours['idle'])}")
    print("```")
    print()
    print(f"Words typed: {', '.join(words)}. Key to repaint runs from `pilot.press(char)` to the")
    print("last list row drawn for it (the list has the new rows and is on screen); the round")
    print("trip also waits for Pilot to see the app idle (each wait sleeps 20 ms or more), so")
    print("it never falls under the floor a key bound to nothing shows. Baseline: an `OptionList`")
    print("with the same row text, refilled per keystroke by `clear_options()` +")
    print("`add_options(matches)`, wired the same way (a watcher on the search box's value).")
    print("While the matcher runs, keys are posted as the terminal driver posts them, a typist's")
    print("30 ms apart (Pilot's waits last until the whole process idles, i.e. the matcher ends).")


if __name__ == "__main__":
    asyncio.run(main())
