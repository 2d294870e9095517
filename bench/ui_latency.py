"""Does the UI wait? Keys while the app syncs and writes, start-up, and opening screens.

    python bench/ui_latency.py [--only keys|startup|open] [--companies 10000] [--size 5000]
        [--groups 1000] [--latency-ms 50] [--decisions 500] [--psa-latency-ms 50] [--runs 5]
    a quick run: --companies 1000 --size 1000 --groups 200 --decisions 50 --keys 30 --runs 2

Issue 19's figures, each beside a baseline measured in the same run.

keys: key to repaint in the real app, headless at 80x24 (`App.run_test`). Keys are pressed from
  a thread through the driver (what a terminal's input thread does), so a busy event loop cannot
  hold a press back: the clock starts before the key is handed to the app and stops at the last
  line the list draws in the first frame that shows the key's effect (the list's `render_line`
  and the app's `_display`, which ends every frame, are wrapped). No Pilot idle wait is ever in
  a figure, and frames come at the app's own pace (at most 60 a second), as in a terminal. Each
  key's time is split into waiting for the loop, handling, waiting for the frame, and drawing.
  After each key's frame the presser waits --gap-ms, then presses the next, until the background
  work has ended and --tail-s more have passed ("during it" are the keys pressed before it ended).
  - PageDown / PageUp in the reconciliation screen on `reconcile_speed.build` (N companies,
    2 x N lines): idle; while `start_sync` runs a full sync of a SpamTitan simulator with
    --groups domain groups at --latency-ms a request; while `push_outbox` writes --decisions
    approved decisions to a ConnectWise simulator at --psa-latency-ms a request.
  - A filter keystroke in the account mapping board (`mapping_ui.build_store`, --size x
    --size): words typed into the vendor search and erased, idle and during the same sync.
  Baseline: the idle figure (p95 during / p95 idle).
startup: real processes in an 80x24 pseudo-terminal (TERM=xterm-256color, a throwaway home,
  MSP_TUI_SECRETS=file), from spawning the process until Home's footer (its `^p palette`) and
  a card's text (the PSA card's) have both been written to the terminal; then ctrl+q. msp-tui on
  a fresh data dir (the run makes the empty store), msp-tui on a copy of the reconciliation
  store, and `msp-tui demo`, against a bare Textual app (Header, Static, Footer: its text and
  footer) timed the same way; an untimed round first, then --runs rounds of all four in turn.
  Then `msp-tui --version` against `python -c pass` (best of --version-runs).
open: in the real app headless, on the mapping store: from the key to the connect wizard's
  first frame (enter on Home's Connect SpamTitan card), and from `m` on the integration screen
  until the account board's vendor list has drawn its rows (first open, which runs the matcher
  and saves the exact matches, then a reopen). Baseline: a bare screen (Static, Footer) pushed
  in the same app, to its first frame.

The simulators run in a process of their own (bench/ui_sims.py), as a real server is elsewhere,
so that their work does not take the interpreter lock from the app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import itertools
import json
import os
import pty
import random
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from textual import events
from textual.app import App, ComposeResult
from textual.keys import _character_to_key
from textual.screen import Screen
from textual.widgets import Footer, Static
from timing import quantiles

SIZE = (80, 24)
HERE = Path(__file__).resolve().parent
PAGES = 25  # PageDown this many times, then PageUp as many, over and over


# --- what the app draws -----------------------------------------------------------------------


def list_state(widget) -> tuple:
    """What a list shows: its rows (the object: a filter makes a new one), cursor and scroll."""
    return (widget._rows, widget.cursor, widget.scroll_offset.y)


def same_state(a: tuple | None, b: tuple | None) -> bool:
    if a is None or b is None:
        return a is b
    return a[0] is b[0] and a[1:] == b[1:]


@dataclass
class Press:
    """One key (or call) and when the app showed its effect."""

    draws: Callable[[object], bool] | None  # a list's draw that answers the key
    wants: Callable[[Screen], bool] | None  # else: a frame of a screen that answers it
    screen_before: object = None
    t0: float = 0.0
    first_draw: float = 0.0
    last_draw: float = 0.0
    screen_at: float = 0.0  # first frame of another screen than the one at the press
    event: object = None  # the key event, when a key was pressed
    taken_at: float = 0.0  # the app took the key event off its queue
    acted_at: float = 0.0  # then the tracked list changed (its cursor moved, its rows were set)
    done_at: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds(self) -> float:
        return self.done_at - self.t0


class Probe:
    """Watches one app's frames (`App._display`, called as each frame is finished) and what the
    PairingLists draw (`render_line`)."""

    current: Probe | None = None

    def __init__(self, app: App) -> None:
        self.app = app
        self.target = None  # the list whose state on screen is kept in `shown`
        self.shown: tuple | None = None
        self.pending: Press | None = None
        self.frames = 0
        original = app._display

        def display(screen, renderable) -> None:
            original(screen, renderable)
            if renderable is not None:
                self.framed(screen)

        app._display = display
        on_event = app.on_event

        async def taken(event) -> None:
            press = self.pending
            if press is not None and event is press.event and not press.taken_at:
                press.taken_at = time.perf_counter()
            await on_event(event)

        app.on_event = taken
        Probe.current = self

    def track(self, widget) -> None:
        self.target = widget
        self.shown = list_state(widget)

    def drew(self, widget) -> None:
        press = self.pending
        if press is None or press.done.is_set() or press.draws is None:
            return
        if press.event is not None and not press.taken_at:
            # Not the key's doing: the app has not taken the key yet (a screen reloading its
            # rows after an outbox round, say, drawn while the key waits).
            return
        if press.draws(widget):
            now = time.perf_counter()
            press.first_draw = press.first_draw or now
            press.last_draw = now

    def acted(self, widget) -> None:
        press = self.pending
        if press is None or press.acted_at or widget is not self.target:
            return
        if press.event is None or press.taken_at:
            press.acted_at = time.perf_counter()

    def framed(self, screen: Screen) -> None:
        now = time.perf_counter()
        self.frames += 1
        press = self.pending
        if press is not None and not press.done.is_set():
            if not press.screen_at and screen is not press.screen_before:
                press.screen_at = now
            if press.first_draw:
                press.done_at = press.last_draw
                press.done.set()
            elif press.wants is not None and press.wants(screen):
                press.done_at = now
                press.done.set()
        if self.target is not None:
            self.shown = list_state(self.target)


def _wrap_render_line(cls) -> None:
    original = cls.render_line

    def render_line(self, y: int):
        strip = original(self, y)
        probe = Probe.current
        if probe is not None:
            probe.drew(self)
        return strip

    cls.render_line = render_line


def _wrap_change(cls, name: str) -> None:
    original = getattr(cls, name)

    def changed(self, *args, **kwargs):
        probe = Probe.current
        if probe is not None:
            probe.acted(self)
        return original(self, *args, **kwargs)

    setattr(cls, name, changed)


def instrument_lists() -> None:
    from screens.mapping_panel import MappingList
    from screens.pairing import PairingList
    from screens.reconcile import ReconcileList

    for cls in (PairingList, ReconcileList, MappingList):
        if "render_line" in cls.__dict__:
            _wrap_render_line(cls)
        for name in ("move_cursor", "set_rows"):
            if name in cls.__dict__:
                _wrap_change(cls, name)


def key_event(key: str) -> events.Key:
    if len(key) == 1:
        return events.Key(key if key.isalnum() else _character_to_key(key), key)
    return events.Key(key, None)


class Presser:
    """Presses keys from a thread of its own, through the app's driver (as the terminal's input
    thread does), and waits for the frame that shows each one."""

    def __init__(self, app: App, probe: Probe, timeout: float) -> None:
        self.app, self.probe, self.timeout = app, probe, timeout
        self.loop = asyncio.get_running_loop()

    def _go(self, press: Press, send: Callable[[], None], what: str) -> Press:
        press.screen_before = self.app.screen
        self.probe.pending = press
        press.t0 = time.perf_counter()
        send()
        if not press.done.wait(self.timeout):
            raise TimeoutError(f"{what}: nothing answered it on screen in {self.timeout:.0f} s")
        return press

    def key(self, key: str, draws=None, wants=None) -> Press:
        """What the driver's `process_message` does with a key, from this thread."""
        event = key_event(key)
        driver = self.app._driver
        assert driver is not None
        press = Press(draws, wants, event=event)
        return self._go(press, lambda: driver.process_message(event), repr(key))

    def list_key(self, key: str) -> Press:
        """A key that changes what the tracked list shows."""
        target, before = self.probe.target, self.probe.shown

        def changed(widget) -> bool:
            return widget is target and not same_state(list_state(widget), before)

        return self.key(key, draws=changed)

    def call(self, fn: Callable[[], object], wants, what: str) -> Press:
        """`fn` run on the event loop as a key's action would be."""

        def run() -> None:
            with self.app._context():
                fn()

        return self._go(Press(None, wants), lambda: self.loop.call_soon_threadsafe(run), what)


async def in_thread(fn: Callable[[], object], timeout: float) -> object:
    """Run `fn` in a thread while the event loop (the app) goes on; its result or its error."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed back to the caller
            result["error"] = exc

    thread = threading.Thread(target=run, name="presser", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while thread.is_alive():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the keys took more than {timeout:.0f} s")
        await asyncio.sleep(0.02)
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


async def until(pilot, holds: Callable[[], object], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        await pilot.pause(0.02)


async def settle(pilot, seconds: float = 0.3) -> None:
    await pilot.pause()
    await asyncio.sleep(seconds)
    await pilot.pause()


class Work:
    """Background work in the app (a sync, an outbox round): when it started and ended."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started_at = time.perf_counter()
        self.ended_at = 0.0
        self.ended = threading.Event()

    def end(self) -> None:
        if not self.ended.is_set():
            self.ended_at = time.perf_counter()
            self.ended.set()

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at


@dataclass
class Keys:
    """Key-to-repaint of a run of keys, and which fell inside the background work."""

    times: list[float] = field(default_factory=list)  # seconds, key to repaint
    # per key: until the app took the key (the loop, then the app's queue), handling it until
    # the list changed, until the frame began drawing the list, drawing it
    parts: list[tuple[float, float, float, float]] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # perf_counter at each press
    seen: list[tuple[str, int]] = field(default_factory=list)  # (search text, rows) after each
    work: Work | None = None

    def _split(self, inside: bool) -> list[int]:
        end = self.work.ended_at if self.work is not None else float("inf")
        return [n for n, start in enumerate(self.starts) if (start < end) == inside]

    def inside(self) -> list[float]:
        return [self.times[n] for n in self._split(True)]

    def after(self) -> list[float]:
        return [self.times[n] for n in self._split(False)]

    def parts_line(self, inside: bool = True) -> str:
        """Median and p95 of each part of the keys' times: until the app took the key (the
        event loop, then the app's message queue), handling it until the list changed, waiting
        for the frame (Textual draws at most 60 a second), and drawing the list in it."""
        chosen = [self.parts[n] for n in self._split(inside)]
        if not chosen:
            return ""
        shown = []
        names = ("to the app", "handling", "to the frame", "drawing")
        for name, values in zip(names, zip(*chosen, strict=True), strict=True):
            median, p95 = quantiles(list(values))
            shown.append(f"{name} {median:.1f} / {p95:.1f}")
        return "parts, median / p95 ms: " + ", ".join(shown)

    def worst_line(self, inside: bool = True) -> str:
        """The slowest key: when it was pressed and where its time went."""
        chosen = self._split(inside)
        if not chosen:
            return ""
        n = max(chosen, key=lambda i: self.times[i])
        origin = self.work.started_at if self.work is not None else self.starts[0]
        parts = ", ".join(f"{name} {value * 1000:.1f}" for name, value in
                          zip(("to the app", "handling", "to the frame", "drawing"), self.parts[n],
                              strict=True))  # fmt: skip
        return (f"slowest: {self.times[n] * 1000:.1f} ms, pressed"
                f" {self.starts[n] - origin:.2f} s after the start: {parts} ms")  # fmt: skip


def keep_pressing(
    presser: Presser,
    keys: Iterator[str],
    count: int | None,
    work: Work | None,
    gap: float,
    tail: float,
    look: Callable[[], tuple[str, int]] | None = None,
) -> Keys:
    """`count` keys, or keys until `work` has ended and `tail` seconds more have passed."""
    found = Keys(work=work)
    for n in itertools.count():
        if work is None and n >= count:
            break
        if work is not None and work.ended.is_set() and time.perf_counter() > work.ended_at + tail:
            break
        press = presser.list_key(next(keys))
        found.times.append(press.seconds)
        acted = press.acted_at or press.taken_at
        found.parts.append((press.taken_at - press.t0, acted - press.taken_at,
                            press.first_draw - acted, press.done_at - press.first_draw))  # fmt: skip
        found.starts.append(press.t0)
        if look is not None:
            found.seen.append(look())
        time.sleep(gap)
    return found


# --- the simulators and the stores -------------------------------------------------------------


class Sims:
    """bench/ui_sims.py in a process of its own."""

    def __init__(self, groups: int, latency_ms: float, psa_latency_ms: float, lines: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "ui_sims.py"), "--groups", str(groups),
             "--latency-ms", str(latency_ms), "--psa-latency-ms", str(psa_latency_ms),
             "--lines", str(lines)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE.parent,
        )  # fmt: skip
        self.info = self._answer(60)

    def _answer(self, timeout: float) -> dict:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError("the simulators (bench/ui_sims.py) did not answer")
        return json.loads(line)

    def stats(self) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return self._answer(30)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)


SYNC_NAME = "stsync"  # the SpamTitan integration the bench syncs (beside the store's own)


def add_sync_integration(ctx, sims: Sims) -> None:
    from adapters.errors import Secret
    from msp_tui.connect import save_pull_integration

    save_pull_integration(ctx.secrets, SYNC_NAME, sims.info["spamtitan_url"],
                          Secret(sims.info["spamtitan_token"]), "billing", checked=True)  # fmt: skip


def connect_psa(ctx, sims: Sims) -> None:
    """The store's ConnectWise connection ("cw", made by reconcile_speed.build), now to the
    simulator, as `msp-tui psa set connectwise` saves it."""
    from adapters.connectwise import ConnectWiseCredentials
    from adapters.errors import Secret
    from msp_tui.psa_setup import save_connectwise

    info = sims.info
    credentials = ConnectWiseCredentials(info["connectwise_url"], info["cw_company_id"],
                                         Secret(info["cw_public_key"]),
                                         Secret(info["cw_private_key"]), info["cw_client_id"])  # fmt: skip
    save_connectwise(ctx.secrets, credentials, checked=True, name="cw")


def build_reconcile_store(db: str, companies: int, decisions: int, spec: Path) -> tuple[list, int]:
    """reconcile_speed's store; the lines the decisions will approve, written to `spec` for the
    ConnectWise simulator as [agreement id, addition id, quantity]."""
    from reconcile_speed import build

    from msp_tui.context import open_context
    from msp_tui.reconcile import reconciliation_lines
    from msp_tui.store.models import PsaAgreement, PsaAgreementLine

    ctx = open_context(db, secrets_mode="memory")
    try:
        build(companies)
        lines = reconciliation_lines()
        chosen = [line for line in lines
                  if line.status == "reconcile" and len(line.line_ids) == 1
                  and line.vendor_quantity is not None and line.psa_quantity is not None
                  and line.vendor_quantity != line.psa_quantity][:decisions]  # fmt: skip
        rows = {row.id: row for row in PsaAgreementLine.select(PsaAgreementLine, PsaAgreement)
                .join(PsaAgreement).where(PsaAgreementLine.id.in_([c.line_ids[0] for c in chosen]))}  # fmt: skip
        spec.write_text(json.dumps([
            [rows[c.line_ids[0]].agreement.external_id, rows[c.line_ids[0]].external_id,
             float(rows[c.line_ids[0]].quantity)] for c in chosen
        ]))  # fmt: skip
    finally:
        ctx.close()
    return chosen, len(lines)


def build_mapping_store(db: str, size: int) -> None:
    from mapping_ui import build_store
    from match_speed import SEED

    from msp_tui.context import open_context

    ctx = open_context(db, secrets_mode="memory")
    try:
        build_store(size, random.Random(SEED))
    finally:
        ctx.close()


# --- keys --------------------------------------------------------------------------------------


def page_keys(rows: int, cursor: int, page: int) -> Iterator[str]:
    """PageDown PAGES times then PageUp as many, over and over, never reaching either end."""
    pages = max(1, min(PAGES, (rows - cursor - 2) // max(1, page) - 1))
    return itertools.cycle(["pagedown"] * pages + ["pageup"] * pages)


def word_keys(words: list[str]) -> Iterator[str]:
    """Each word typed into the search a character at a time, then erased with backspace."""
    return itertools.cycle([k for w in words for k in [*w, *["backspace"] * len(w)]])


def sync_work(app) -> Work:
    work = Work("sync")

    def seen(state) -> None:
        if SYNC_NAME not in state.syncing:
            work.end()

    app.watch(app, "sync_state", seen, init=False)
    if not app.start_sync([SYNC_NAME], mode="full"):
        raise RuntimeError("start_sync started nothing")
    return work


def sync_outcome() -> str:
    from msp_tui.store.models import Integration, SyncRun

    integration = Integration.get(Integration.name == SYNC_NAME)
    run = (SyncRun.select().where(SyncRun.integration == integration)
           .order_by(SyncRun.id.desc()).first())  # fmt: skip
    if run is None:
        return "no sync run recorded"
    counts = ", ".join(f"{k} {v:,}" for k, v in (run.counts or {}).items())
    return (
        f"{run.status}"
        + (f" ({counts})" if counts else "")
        + (f": {run.error}" if run.error else "")
    )


async def reconcile_keys(args, db: str, chosen: list, sims: Sims) -> dict:
    from msp_tui.app import MspTuiApp
    from msp_tui.context import open_context
    from msp_tui.operator import current_operator
    from msp_tui.store.models import Decision
    from msp_tui.writeback import decide
    from screens.reconcile import ReconcileList, ReconcileScreen

    found: dict = {}
    ctx = open_context(db, secrets_mode="memory")
    try:
        connect_psa(ctx, sims)
        add_sync_integration(ctx, sims)
        app = MspTuiApp(ctx, serve_port=0)
        async with app.run_test(size=SIZE) as pilot:
            probe = Probe(app)
            await until(pilot, lambda: app.screen.query("Card"), "Home's cards")
            await settle(pilot)
            await pilot.press("c")

            def table_ready() -> bool:
                return isinstance(app.screen, ReconcileScreen) and bool(
                    app.screen.query(ReconcileList)
                    and app.screen.query_one(ReconcileList).row_count
                )

            await until(pilot, table_ready, "the reconciliation table's rows")
            await settle(pilot, 1.0)
            table = app.screen.query_one(ReconcileList)
            table.focus()
            await settle(pilot)
            found["rows"] = table.row_count
            page = max(1, table.scrollable_content_region.height - 1)
            keys = page_keys(table.row_count, table.cursor, page)
            probe.track(table)
            presser = Presser(app, probe, args.timeout)
            gap, tail = args.gap_ms / 1000, args.tail_s

            found["idle"] = await in_thread(
                lambda: keep_pressing(presser, keys, args.keys, None, gap, tail), args.timeout * 10
            )
            await settle(pilot)

            before = sims.stats()
            work = sync_work(app)
            found["sync"] = await in_thread(
                lambda: keep_pressing(presser, keys, None, work, gap, tail), args.work_timeout
            )
            after = sims.stats()
            found["sync_outcome"] = sync_outcome()
            found["sync_requests"] = after["spamtitan_requests"] - before["spamtitan_requests"]
            found["sync_peak"] = after["spamtitan_max_in_flight"]
            await settle(pilot, 1.0)

            # The decisions are made here, not before the app starts: a store with decisions
            # waiting starts an outbox round as the app opens.
            started = time.perf_counter()
            operator = current_operator()
            for line in chosen:
                decide(line, "approve", operator)
            found["decide_s"] = time.perf_counter() - started
            await settle(pilot, 1.0)
            if app.screen is not table.screen:
                raise RuntimeError("the reconciliation screen is no longer on top")
            probe.track(table)
            before = sims.stats()
            work = Work("outbox")
            app.watch(app, "outbox_rounds", lambda _: work.end(), init=False)
            app.push_outbox()
            found["outbox"] = await in_thread(
                lambda: keep_pressing(presser, keys, None, work, gap, tail), args.work_timeout
            )
            after = sims.stats()
            found["outbox_requests"] = (
                after["connectwise_requests"] - before["connectwise_requests"]
            )
            found["outbox_writes"] = after["connectwise_writes"] - before["connectwise_writes"]
            states: dict[str, int] = {}
            for decision in Decision.select(Decision.state):
                states[decision.state] = states.get(decision.state, 0) + 1
            found["outbox_states"] = states
            await settle(pilot)
    finally:
        Probe.current = None
        ctx.close()
    return found


class BareScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Static("a bare screen")
        yield Footer()


def _median(values: list[float]) -> float:
    return statistics.median(values)


async def mapping_session(args, db: str, sims: Sims | None, opens: bool, keys: bool) -> dict:
    """The mapping store in the real app: opening screens, then the filter keystrokes."""
    from match_speed import SEED

    from msp_tui.app import MspTuiApp
    from msp_tui.context import open_context
    from screens.home import Card
    from screens.integration import IntegrationScreen
    from screens.mapping_panel import MappingPanel
    from screens.wizard import ConnectWizard

    found: dict = {}
    ctx = open_context(db, secrets_mode="memory")
    try:
        if sims is not None:
            add_sync_integration(ctx, sims)
        app = MspTuiApp(ctx, serve_port=0)
        async with app.run_test(size=SIZE) as pilot:
            probe = Probe(app)
            presser = Presser(app, probe, args.timeout)
            home = None

            async def at_home() -> None:
                await until(pilot, lambda: app.screen.query(Card), "Home's cards")
                await settle(pilot)

            def card(key: str):
                return next(c for c in app.screen.query(Card) if c.card.key == key)

            def board_drawn(widget) -> bool:
                return (getattr(widget, "id", None) == "vendor-list" and widget.row_count > 0
                        and isinstance(widget.screen, ConnectWizard))  # fmt: skip

            async def open_board() -> Press:
                await until(pilot, lambda: isinstance(app.screen, IntegrationScreen),
                            "the integration screen")  # fmt: skip
                await settle(pilot)
                press = await in_thread(lambda: presser.key("m", draws=board_drawn), args.timeout)
                await until(pilot, lambda: app.screen.query(MappingPanel), "the mapping panel")
                await settle(pilot)
                return press  # type: ignore[return-value]

            await at_home()
            home = app.screen
            if opens:
                bare = []
                for _ in range(args.runs):
                    press = await in_thread(
                        lambda: presser.call(lambda: app.push_screen(BareScreen()),
                                             lambda s: isinstance(s, BareScreen), "bare screen"),
                        args.timeout,
                    )  # fmt: skip
                    bare.append(press.seconds)
                    await settle(pilot, 0.1)
                    app.pop_screen()
                    await until(pilot, lambda: app.screen is home, "Home again")
                    await settle(pilot, 0.1)
                found["bare_screen"] = bare
                wizard = []
                for _ in range(args.runs):
                    card("connect:spamtitan").focus()
                    await settle(pilot, 0.1)
                    press = await in_thread(
                        lambda: presser.key("enter", wants=lambda s: isinstance(s, ConnectWizard)),
                        args.timeout,
                    )
                    wizard.append(press.seconds)
                    await settle(pilot, 0.2)
                    await pilot.press("escape")
                    await until(pilot, lambda: app.screen is home, "Home again")
                    await at_home()
                found["wizard"] = wizard
                card("spamtitan").focus()
                await settle(pilot, 0.1)
                await pilot.press("enter")
                press = await open_board()
                found["board_first"] = press.seconds
                found["board_first_screen"] = press.screen_at - press.t0
                await pilot.press("escape")
                press = await open_board()
                found["board_again"] = press.seconds
                found["board_again_screen"] = press.screen_at - press.t0
            if keys:
                if not app.screen.query(MappingPanel):
                    card("spamtitan").focus()
                    await settle(pilot, 0.1)
                    await pilot.press("enter")
                    await open_board()
                panel = app.screen.query_one(MappingPanel)
                vendor_list = app.screen.query_one("#vendor-list")
                search = app.screen.query_one("#vendor-search")
                search.focus()
                await settle(pilot)
                rng = random.Random(SEED)
                names = [v.label for v in panel.board.vendor if len(v.label.split()[0]) >= 4]
                words = [n.split()[0].lower()[:7] for n in rng.sample(names, args.words)]
                found["words"] = words
                probe.track(vendor_list)
                gap, tail = args.gap_ms / 1000, args.tail_s

                def look() -> tuple[str, int]:
                    return search.value, vendor_list.row_count

                count = sum(2 * len(w) for w in words)
                found["filter_idle"] = await in_thread(
                    lambda: keep_pressing(presser, word_keys(words), count, None, gap, tail, look),
                    args.timeout * 10,
                )
                await settle(pilot)
                if sims is not None:
                    before = sims.stats()
                    work = sync_work(app)
                    found["filter_sync"] = await in_thread(
                        lambda: keep_pressing(presser, word_keys(words), None, work, gap, tail,
                                              look),
                        args.work_timeout,
                    )  # fmt: skip
                    after = sims.stats()
                    found["sync_outcome"] = sync_outcome()
                    found["sync_requests"] = (after["spamtitan_requests"]
                                              - before["spamtitan_requests"])  # fmt: skip
                # Each key's result, checked now: the rows the board gives for the search text.
                wrong = 0
                for name in ("filter_idle", "filter_sync"):
                    for query, rows in found[name].seen if name in found else []:
                        wrong += rows != len(panel.board.vendor_view(query))
                found["filter_wrong"] = wrong
                await settle(pilot)
    finally:
        Probe.current = None
        ctx.close()
    return found


# --- start-up in a pseudo-terminal -------------------------------------------------------------

BARE_APP = """\
from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, Header, Static


class Bare(App):
    BINDINGS = [Binding("q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static("a bare Textual app, first frame")
        yield Footer()


Bare().run()
"""
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P^_][^\x1b]*\x1b\\|\x1b."
)


def visible(output: bytes) -> str:
    return ANSI.sub("", output.decode("utf-8", "replace"))


def first_frame(argv: list[str], env: dict[str, str], markers: tuple[str, ...],
                timeout: float) -> float:  # fmt: skip
    """Seconds from spawning `argv` in an 80x24 pseudo-terminal until every marker is on it;
    then ctrl+q, and the process is reaped."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal's size, then the program
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    output = b""
    try:
        while True:
            left = started + timeout - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{argv[1:] or argv}: {markers} not on the terminal in"
                                   f" {timeout:.0f} s; it showed: {visible(output)[-600:]!r}")  # fmt: skip
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # EIO: the child has gone
                chunk = b""
            if not chunk:
                raise RuntimeError(f"{argv}: ended before its first frame:"
                                   f" {visible(output)[-600:]!r}")  # fmt: skip
            output += chunk
            text = visible(output)
            if all(marker in text for marker in markers):
                return time.perf_counter() - started
    finally:
        _quit(pid, fd)


def _quit(pid: int, fd: int) -> None:
    """ctrl+q, read until the terminal closes, reap; a process still there after 15 s is
    killed (it is ours)."""
    with contextlib.suppress(OSError):
        os.write(fd, b"\x11")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                if not os.read(fd, 1 << 16):
                    break
            except OSError:
                break
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            pid = 0
            break
    if pid:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            for _ in range(50):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    pid = 0
                    break
                time.sleep(0.1)
            if not pid:
                break
    os.close(fd)


def home_env(root: Path) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSP_TUI_", "XDG_"))}
    env.pop("TMUX", None)
    env.update({"HOME": str(root), "XDG_DATA_HOME": str(root / "data"),
                "XDG_CONFIG_HOME": str(root / "config"), "XDG_STATE_HOME": str(root / "state"),
                "XDG_CACHE_HOME": str(root / "cache"), "MSP_TUI_SECRETS": "file",
                "TERM": "xterm-256color", "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1])})  # fmt: skip
    # Byte code cached as an installed package has it (the untimed round writes it), not
    # msp_tui compiled from source on every start as a checkout with PYTHONDONTWRITEBYTECODE=1
    # runs it; Textual's own is in site-packages either way.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(root.parent / "pycache")
    return env


def msp_tui_exe() -> str:
    beside = Path(sys.executable).parent / "msp-tui"
    found = str(beside) if beside.exists() else shutil.which("msp-tui")
    if not found:
        raise SystemExit("msp-tui is not installed beside this Python (pip install -e .)")
    return found


def startup(args, tmp: Path, data_db: str | None) -> dict:
    exe = msp_tui_exe()
    tmp.mkdir(parents=True, exist_ok=True)
    bare_file = tmp / "bare_app.py"
    bare_file.write_text(BARE_APP)
    cases: dict[str, tuple[Callable[[int], tuple[list[str], dict]], tuple[str, ...]]] = {
        "bare": (lambda n: ([sys.executable, str(bare_file)], home_env(tmp / f"bare{n}")),
                 ("first frame", "palette")),
        "empty": (lambda n: ([exe], home_env(tmp / f"empty{n}")), ("palette", "Not connected")),
    }  # fmt: skip
    if data_db:
        cases["data"] = (lambda n: ([exe, "--db", data_db], home_env(tmp / f"data{n}")),
                         ("palette", "(PSA)"))  # fmt: skip
    cases["demo"] = (lambda n: ([exe, "demo"], home_env(tmp / f"demo{n}")), ("palette", "(PSA)"))
    # a first, untimed round: byte code compiled, the data store's pages in the OS cache
    for _, (make, markers) in cases.items():
        first_frame(*make(0), markers, args.timeout)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for n in range(1, args.runs + 1):
        for name, (make, markers) in cases.items():
            times[name].append(first_frame(*make(n), markers, args.timeout))
    return times


def version(runs: int, tmp: Path) -> dict[str, list[float]]:
    """`msp-tui --version` against `python -c pass`, each a fresh process, in turns."""
    try:  # bench/cli_startup.py's timer, when it is there
        from cli_startup import wall
    except ImportError:

        def wall(argv: list[str], env: dict[str, str]) -> float:
            start = time.perf_counter()
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, check=True)  # fmt: skip
            return time.perf_counter() - start

    env = home_env(tmp / "version")
    cases = {"python": [sys.executable, "-c", "pass"], "version": [msp_tui_exe(), "--version"]}
    for argv in cases.values():
        wall(argv, env)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            times[name].append(wall(argv, env))
    return times


# --- report ------------------------------------------------------------------------------------


def ms_line(values: list[float]) -> str:
    if not values:
        return "no keys"
    median, p95 = quantiles(values)
    return (f"median {median:6.1f} ms, p95 {p95:6.1f} ms, max {max(values) * 1000:7.1f} ms"
            f" ({len(values)} keys)")  # fmt: skip


def p95_ms(values: list[float]) -> float | None:
    return quantiles(values)[1] if values else None


class Summary:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, value: float | None, target: float, unit: str) -> None:
        if value is None:
            self.rows.append((what, "not measured", f"<= {target:g}{unit}", "-"))
            return
        shown = f"{value:.1f}{unit}" if unit != " s" else f"{value:.2f}{unit}"
        self.rows.append(
            (what, shown, f"<= {target:g}{unit}", "PASS" if value <= target else "MISS")
        )

    def print(self) -> None:
        print("summary:")
        width = max(len(r[0]) for r in self.rows)
        print(f"  {'figure':<{width}}  {'measured':>12}  {'target':>10}")
        for what, value, target, verdict in self.rows:
            print(f"  {what:<{width}}  {value:>12}  {target:>10}  {verdict}")


def report_keys(title: str, keys: Keys, idle: Keys | None, work_label: str, extra: str) -> None:
    print(f"  {title}")
    if keys.work is None:
        print(f"    idle:              {ms_line(keys.times)}")
        print(f"      {keys.parts_line()}")
        print(f"      {keys.worst_line()}")
        return
    inside, after = keys.inside(), keys.after()
    print(f"    {work_label} {keys.work.seconds:.2f} s{extra}")
    print(f"    during it:         {ms_line(inside)}")
    if inside:
        print(f"      {keys.parts_line()}")
        print(f"      {keys.worst_line()}")
    if after:
        print(f"    just after it:     {ms_line(after)}")
        print(f"      {keys.parts_line(inside=False)}")
        print(f"      {keys.worst_line(inside=False)}")
    if idle is not None and inside and idle.times:
        ratio = quantiles(inside)[1] / quantiles(idle.times)[1]
        print(f"    p95 during / idle: {ratio:.1f}x")


def code_version() -> str:
    """The commit measured, and whether the tracked files differ from it."""

    def git(*args: str) -> str:
        found = subprocess.run(["git", *args], capture_output=True, text=True, cwd=HERE,
                               check=False)  # fmt: skip
        return found.stdout.strip() if found.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "not a git checkout"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"commit {head}" + (" + uncommitted changes" if dirty else "")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=["keys", "startup", "open"],
                        help="run only this part (may be given more than once)")  # fmt: skip
    parser.add_argument("--companies", type=int, default=10_000,
                        help="reconciliation store: companies x 2 products = lines")  # fmt: skip
    parser.add_argument("--size", type=int, default=5_000, help="mapping board: N x N")
    parser.add_argument("--groups", type=int, default=1000, help="SpamTitan domain groups synced")
    parser.add_argument("--latency-ms", type=float, default=50, help="SpamTitan, per request")
    parser.add_argument("--decisions", type=int, default=500, help="decisions in the outbox round")
    parser.add_argument("--psa-latency-ms", type=float, default=50, help="ConnectWise, per request")
    parser.add_argument("--keys", type=int, default=100, help="idle PageDown/PageUp keys")
    parser.add_argument("--words", type=int, default=8, help="words typed into the vendor search")
    parser.add_argument("--gap-ms", type=float, default=50, help="pause after each key's frame")
    parser.add_argument("--tail-s", type=float, default=2.0,
                        help="keys go on this long after the background work ends")  # fmt: skip
    parser.add_argument("--runs", type=int, default=5, help="start-up runs and screen opens")
    parser.add_argument("--version-runs", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=120, help="for one key, one start-up")
    parser.add_argument("--work-timeout", type=float, default=900, help="for one sync or round")
    args = parser.parse_args()
    parts = set(args.only or ["keys", "startup", "open"])
    instrument_lists()
    summary = Summary()
    code = code_version()

    with tempfile.TemporaryDirectory(prefix="ui-latency-") as name:
        tmp = Path(name)
        # The in-process apps keep their logs, locks and state in a home of their own.
        for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"),
                         ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):  # fmt: skip
            os.environ[var] = str(tmp / "self" / sub)
        os.environ.pop("MSP_TUI_DB", None)
        recon_db, mapping_db = str(tmp / "reconcile.db"), str(tmp / "mapping.db")
        data_db = str(tmp / "startup.db")
        spec = tmp / "lines.json"
        chosen: list = []
        n_lines = 0
        if parts & {"keys", "startup"}:
            chosen, n_lines = build_reconcile_store(recon_db, args.companies, args.decisions, spec)
            # start-up opens a copy as built: the keys part connects, syncs and pushes in this one
            shutil.copy(recon_db, data_db)
        if parts & {"keys", "open"}:
            build_mapping_store(mapping_db, args.size)
        inputs = []
        if parts & {"keys", "startup"}:
            inputs.append(f"reconciliation {args.companies:,} companies x 2 products ="
                          f" {n_lines:,} lines")  # fmt: skip
        if parts & {"keys", "open"}:
            inputs.append(f"mapping board {args.size:,} x {args.size:,}")
        if "keys" in parts:
            inputs.append(f"sync {args.groups:,} SpamTitan domain groups at {args.latency_ms:g} ms"
                          f" a request; outbox {len(chosen):,} decisions to ConnectWise at"
                          f" {args.psa_latency_ms:g} ms a request")  # fmt: skip
        load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
        print(f"input: {'; '.join(inputs)}; 80x24; {os.cpu_count()} cores (load {load}),"
              f" Python {sys.version.split()[0]}; {code}")  # fmt: skip

        if "keys" in parts or "open" in parts:
            sims = (
                Sims(args.groups, args.latency_ms, args.psa_latency_ms, spec)
                if ("keys" in parts)
                else None
            )
            try:
                recon = await reconcile_keys(args, recon_db, chosen, sims) if sims else None
                mapping = await mapping_session(args, mapping_db, sims, "open" in parts,
                                                "keys" in parts)  # fmt: skip
            finally:
                if sims is not None:
                    sims.stop()
            if recon is not None:
                print(f"reconciliation screen, PageDown/PageUp, key to repaint"
                      f" ({recon['rows']:,} rows shown):")  # fmt: skip
                idle = recon["idle"]
                report_keys("idle", idle, None, "", "")
                report_keys(
                    "while the app syncs SpamTitan (start_sync, full)",
                    recon["sync"], idle, "sync:",
                    f", {recon['sync_requests']:,} requests, at most {recon['sync_peak']} in"
                    f" flight; {recon['sync_outcome']}",
                )  # fmt: skip
                states = ", ".join(f"{k} {v}" for k, v in sorted(recon["outbox_states"].items()))
                report_keys(
                    f"while the app writes {len(chosen)} decisions (push_outbox)",
                    recon["outbox"], idle, "outbox round:",
                    f", {recon['outbox_requests']:,} requests ({recon['outbox_writes']:,} writes);"
                    f" decisions now {states} (made in {recon['decide_s']:.1f} s before it)",
                )  # fmt: skip
                summary.add("PageDown p95, idle", p95_ms(idle.times), 50, " ms")
                summary.add("PageDown p95, during sync", p95_ms(recon["sync"].inside()), 50, " ms")
                summary.add("PageDown p95, just after sync", p95_ms(recon["sync"].after()), 50,
                            " ms")  # fmt: skip
                summary.add("PageDown p95, during outbox round", p95_ms(recon["outbox"].inside()),
                            50, " ms")  # fmt: skip
                summary.add("PageDown p95, just after outbox round",
                            p95_ms(recon["outbox"].after()), 50, " ms")  # fmt: skip
            if "keys" in parts:
                print(f"mapping board, vendor search, key to repaint (words typed and erased:"
                      f" {', '.join(mapping['words'])}):")  # fmt: skip
                idle = mapping["filter_idle"]
                report_keys("idle", idle, None, "", "")
                report_keys("while the app syncs SpamTitan (start_sync, full)",
                            mapping["filter_sync"], idle, "sync:",
                            f", {mapping['sync_requests']:,} requests; {mapping['sync_outcome']}")  # fmt: skip
                if mapping["filter_wrong"]:
                    print(f"    WARNING: {mapping['filter_wrong']} keys left the list showing other"
                          " rows than the board gives for the search text")  # fmt: skip
                summary.add("filter key p95, idle", p95_ms(idle.times), 50, " ms")
                summary.add("filter key p95, during sync", p95_ms(mapping["filter_sync"].inside()),
                            50, " ms")  # fmt: skip
                summary.add("filter key p95, just after sync",
                            p95_ms(mapping["filter_sync"].after()), 50, " ms")  # fmt: skip
            if "open" in parts:
                bare, wizard = mapping["bare_screen"], mapping["wizard"]
                print(f"opening screens, key to first frame (mapping store, {args.runs} times"
                      f" each; median, best, worst):")  # fmt: skip
                print(f"  bare screen (push_screen):   {_triple(bare)}")
                print(f"  connect wizard (enter on Connect SpamTitan): {_triple(wizard)}"
                      f" = {_median(wizard) / _median(bare):.1f}x the bare screen")  # fmt: skip
                print(f"  account board, m to the vendor list's rows: first open"
                      f" {mapping['board_first']:.2f} s (the wizard's first frame after"
                      f" {mapping['board_first_screen']:.2f} s), reopened"
                      f" {mapping['board_again']:.2f} s (first frame after"
                      f" {mapping['board_again_screen']:.2f} s)")  # fmt: skip
                summary.add("account board first open", mapping["board_first"], 0.5, " s")
                summary.add("account board reopened", mapping["board_again"], 0.5, " s")
                summary.add("wizard open (median)", _median(wizard), 0.3, " s")

        if "startup" in parts:
            times = startup(args, tmp / "homes", data_db)
            bare = times["bare"]
            print(f"start-up to Home's first frame in an 80x24 pty ({args.runs} runs, after one"
                  f" untimed round; best / median):")  # fmt: skip
            labels = {"bare": "bare Textual app", "empty": "msp-tui, fresh data dir",
                      "data": f"msp-tui, {n_lines:,}-line store", "demo": "msp-tui demo"}  # fmt: skip
            for name, values in times.items():
                line = f"  {labels[name] + ':':<30} {min(values):5.2f} s / {_median(values):5.2f} s"
                if name != "bare":
                    line += (f"  = {min(values) / min(bare):.1f}x / "
                             f"{_median(values) / _median(bare):.1f}x bare")  # fmt: skip
                print(line)
            summary.add("Home / bare (empty store, median)",
                        _median(times["empty"]) / _median(bare), 2, "x")  # fmt: skip
            summary.add("Home / bare (data store, median)",
                        _median(times["data"]) / _median(bare), 2, "x")  # fmt: skip
            summary.add("demo Home / bare (median)", _median(times["demo"]) / _median(bare), 3, "x")
            ver = version(args.version_runs, tmp / "homes")
            ratio = min(ver["version"]) / min(ver["python"])
            print(f"msp-tui --version: best {min(ver['version']) * 1000:.0f} ms against python -c"
                  f" pass {min(ver['python']) * 1000:.0f} ms (best of {args.version_runs})"
                  f" = {ratio:.1f}x")  # fmt: skip
            summary.add("--version / python -c pass (best)", ratio, 4, "x")
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"load at the end: {load} (other work on the machine moves these figures)")
    summary.print()


def _triple(values: list[float]) -> str:
    return f"{_median(values):.3f} s, {min(values):.3f} s, {max(values):.3f} s"


if __name__ == "__main__":
    asyncio.run(main())
