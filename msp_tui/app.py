"""The Textual App: the shell every screen lives in (header, footer, help, palette, quit)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.widgets import Input

from msp_tui import __version__
from msp_tui.alerts import AlertResult, alerts_due, deliver_alerts
from msp_tui.background import WorkLoop
from msp_tui.collector import Collector
from msp_tui.context import Context
from msp_tui.operator import current_operator
from msp_tui.overview import data_stamp, push_integrations_exist
from msp_tui.push import DEFAULT_PORT
from msp_tui.untrusted import printable
from msp_tui.writeback import (
    DecisionError,
    OutboxBusy,
    PushResult,
    outbox_waiting,
    push_pending,
)
from screens import STYLES
from screens.home import HomeScreen
from screens.indicator import SyncState

if TYPE_CHECKING:
    from msp_tui.push.server import BackgroundServer
    from msp_tui.sync import Mode, SyncOutcome, SyncSource


class NewDataLanded(Message):
    """A sync or a push (of this process or another) stored something since the last look."""


class SyncFinished(Message):
    def __init__(self, key: str, outcome: SyncOutcome) -> None:
        super().__init__()
        self.key, self.outcome = key, outcome


class OutboxPushed(Message):
    """The outbox worker finished a round: what became of each decision it tried."""

    def __init__(self, results: list[PushResult], error: str | None = None,
                 busy: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.results, self.error, self.busy = results, error, busy


class AlertsDelivered(Message):
    """The alert worker finished a round."""

    def __init__(self, results: list[AlertResult], error: str | None = None) -> None:
        super().__init__()
        self.results, self.error = results, error


def _msp_commands() -> type:
    """The palette's provider, imported when the palette first opens (textual.command is a
    few tens of milliseconds the first frame does not need)."""
    from screens.palette import MspCommands

    return MspCommands


class MspTuiApp(App[None]):
    TITLE = "msp-tui"
    SUB_TITLE = "MSP billing reconciliation"
    CSS_PATH = STYLES
    COMMANDS = App.COMMANDS | {_msp_commands}  # ctrl+p: the app's own commands first
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave msp-tui."),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="app.quit_anywhere",
            show=False,
            priority=True,
            tooltip="Leave msp-tui, even from a text box.",
        ),
        Binding(
            "question_mark,f1",
            "toggle_help",
            "Help",
            id="app.help",
            key_display="?",
            tooltip="Show or hide help for the focused widget and the keys that work here.",
        ),
        # Priority: handled as the key arrives, before the keys after it go anywhere.
        Binding("tab", "leave_field('next')", show=False, priority=True, id="app.next_field"),
        Binding(
            "shift+tab",
            "leave_field('previous')",
            show=False,
            priority=True,
            id="app.previous_field",
        ),
    ]

    POLL_S = 2.0  # how often to look for data another process stored
    sync_state: reactive[SyncState] = reactive(SyncState, always_update=True)
    outbox_rounds: reactive[int] = reactive(0)
    """Counts finished outbox rounds; screens watch it to read decisions again."""
    alert_rounds: reactive[int] = reactive(0)
    """Counts finished alert rounds; the alerts screen watches it."""
    ALERT_POLL_S = 5.0  # how often to look for alerts due to become tickets
    WARM_UP_AFTER_S = 0.5  # once the first frame is out: a thread then holds the GIL a while
    GC_TICK_S = 1.0  # how often to ask whether a full garbage collection is due (collector)

    def __init__(self, ctx: Context, serve_port: int = DEFAULT_PORT, demo: object = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.demo = demo  # msp_tui.demo.Demo when running `msp-tui demo`
        self.sub_title = f"v{__version__} · {Path(ctx.location.display).name}"
        self.serve_port = serve_port
        self.vendor_api: BackgroundServer | None = None
        self._vendor_api_starting = asyncio.Lock()
        self._said_small = False
        self.data_stamp: tuple[int, ...] = ()
        self.adapter_options: dict = {}  # e.g. a faster RetryPolicy in tests
        self._outbox_busy = False
        self._alerts_busy = False
        self._outbox_again = False
        # Syncs, outbox and alert rounds run there, off the loop that draws the screen.
        self.work = WorkLoop()
        self.collector = Collector()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":
            return self._tab_leaves_field()
        return True

    def _tab_leaves_field(self) -> bool:
        """Tab in a text box moves the focus at once, when the key arrives: otherwise the box
        passes it up later, and keys typed fast after it ("user<tab>password", as a password
        manager types over SSH) land in the box tab was leaving. Not where a widget between
        the box and its screen gives tab a meaning of its own (the mapping board's lists)."""
        focused = self.focused
        if not isinstance(focused, Input):
            return False
        for node in focused.ancestors_with_self:
            if node is self.screen:
                return True
            if {"tab", "shift+tab"} & node._bindings.key_to_bindings.keys():
                return False
        return True

    def action_leave_field(self, direction: str) -> None:
        if direction == "next":
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:  # fmt: skip
        """Every toast, from any screen: its text often carries what a vendor or the PSA said
        (an error), so it is shown as written, control characters escaped, never as markup."""
        super().notify(printable(message, lines=True), title=printable(title),
                       severity=severity, timeout=timeout, markup=False)  # fmt: skip

    MIN_SIZE = (80, 24)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input_seen()
        await super().on_event(event)

    async def _on_key(self, event: events.Key) -> None:
        """A printable key that reaches the app while a text box has the focus was typed
        ahead: handed to the widget focused before (a list) while the key that moved the focus
        (`/`) was still on its way. It is the box's: "/bay" typed fast over SSH searches for
        "bay", and its `a` never runs the screen's Approve."""
        focused = self.focused
        if isinstance(focused, Input) and event.is_printable and event.character:
            event.prevent_default()  # not App._on_key: no binding runs for it
            event.stop()
            focused.post_message(events.Key(event.key, event.character))  # as if typed there

    def on_resize(self, event: events.Resize) -> None:
        self._say_if_small(event.size.width, event.size.height)

    def _say_if_small(self, width: int, height: int) -> None:
        """Once each time the terminal shrinks below 80x24: what is cut is not a fault."""
        small = width < self.MIN_SIZE[0] or height < self.MIN_SIZE[1]
        if small and not self._said_small:
            self.notify(f"The terminal is {width}x{height}: msp-tui is laid out for 80x24 or"
                        " more, so some text is cut. Enlarge the window.",
                        severity="warning", timeout=8)  # fmt: skip
        self._said_small = small

    def on_mount(self) -> None:
        # SIGTERM (kill, systemd) and SIGHUP (the SSH session dropped) end the app as q does:
        # the terminal leaves the alternate screen and the demo's temp dir is removed.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.exit)
        self.push_screen(HomeScreen())
        self._say_if_small(self.size.width, self.size.height)
        if self.ctx.secrets.notice:
            self.notify(self.ctx.secrets.notice, title="Secrets", severity="warning", timeout=12)
        self.data_stamp = data_stamp()
        self.set_interval(self.POLL_S, self.look_for_new_data)
        if push_integrations_exist():
            self.start_vendor_api()
        if outbox_waiting():  # decisions a stopped session stored but did not write
            self.push_outbox()
        if self.demo is not None and not self.demo.synced:
            # `msp-tui demo` shows Home at once; its simulated PSA is synced from here.
            self.demo.synced = True
            self.start_sync(mode="full")
        self.set_interval(self.ALERT_POLL_S, self.deliver_alerts_if_due)
        self.set_timer(self.WARM_UP_AFTER_S, self.warm_up)
        self.set_interval(self.GC_TICK_S, self.collector.tick)

    @work(thread=True, group="warm-up", exit_on_error=False, description="warm-up")
    def warm_up(self) -> None:
        """After the first frame, off the UI thread: what the first HTTP client would otherwise
        pay on whichever loop makes it (the TLS context's CA bundle)."""
        from adapters.http import shared_ssl_context

        shared_ssl_context()
        self.collector.take_over()  # full collections only when the keyboard rests

    def vendor_api_url(self) -> str:
        """Where push vendors reach us, as told to the operator: the public URL if one is set,
        else the port the Vendor API really listens on (never port 0)."""
        public = os.environ.get("MSP_TUI_PUBLIC_URL")
        if public:
            return public
        if self.vendor_api is not None:
            return self.vendor_api.base_url
        return f"http://127.0.0.1:{self.serve_port}"

    @work(exclusive=True, group="vendor-api", description="vendor-api")
    async def start_vendor_api(self) -> None:
        await self.vendor_api_ready()

    async def vendor_api_ready(self) -> str:
        """Push vendors need someone listening: this process, unless `msp-tui serve` is. Starts
        the Vendor API once, then says where it is."""
        async with self._vendor_api_starting:
            if self.vendor_api is None:
                server = await asyncio.to_thread(_start_vendor_api, self.serve_port)
                self.vendor_api = server
                if server.owned:
                    self.notify(f"Vendor API listening on {server.base_url}", timeout=4)
                else:
                    self.notify(f"Port {server.port} is taken: pushes go to the msp-tui serve"
                                " already running there", timeout=6)  # fmt: skip
        return self.vendor_api_url()

    @property
    def new_data(self) -> bool:
        return self.sync_state.new_data

    def look_for_new_data(self) -> None:
        stamp = data_stamp()
        if stamp != self.data_stamp:
            self.data_stamp = stamp
            # Set now, not when the message arrives: an `r` pressed in between must win.
            self.sync_state = replace(self.sync_state, new_data=True)
            self.post_message(NewDataLanded())

    def data_seen(self) -> None:
        """The operator refreshed: what was new is now shown."""
        self.data_stamp = data_stamp()
        self.sync_state = replace(self.sync_state, new_data=False)

    # --- syncing -------------------------------------------------------------------------------

    def start_sync(self, names: list[str] | None = None, mode: Mode = "quick") -> int:
        """Sync the PSA and pull integrations (or only `names`) in workers; returns how many
        started. The indicator spins until they are done."""
        from msp_tui.sync import sync_sources

        sources = sync_sources(names)
        for source in sources:
            if source.key in self.sync_state.syncing:
                continue
            self.sync_state = replace(
                self.sync_state, syncing=self.sync_state.syncing | {source.key}
            )
            self.run_worker(self._sync(source, mode), group="sync", name=source.key)
        return len(sources)

    async def _sync(self, source: SyncSource, mode: Mode) -> None:
        from msp_tui.sync_process import in_process_only, sync_in_process

        if in_process_only(self.ctx):  # an in-memory store: no other process can open it
            outcome = await self.work.run(source.run(self.ctx.secrets, mode))
        else:  # in a process of its own: the UI keeps the interpreter lock (sync_process)
            outcome = await self.work.run(sync_in_process(self.ctx, source.key, mode))
        self.post_message(SyncFinished(source.key, outcome))

    def on_sync_finished(self, message: SyncFinished) -> None:
        state = self.sync_state
        error = state.error
        if message.outcome.ok:
            error = None if error and error.startswith(message.key) else error
        else:
            error = f"{message.key}: {message.outcome.error}"
            self.notify(error, title="Sync failed", severity="error", timeout=10)
        self.sync_state = replace(state, syncing=state.syncing - {message.key}, error=error)
        self.look_for_new_data()

    # --- the outbox: decisions written to the PSA ---------------------------------------------

    def push_outbox(self) -> None:
        """Write pending (and failed) decisions to the PSA in a worker. One round at a time: a
        decision made during a round is picked up by the next one."""
        if self._outbox_busy:
            self._outbox_again = True
            return
        self._outbox_busy = True
        self.run_worker(self._push_outbox(), group="outbox", name="outbox")

    async def _push_outbox(self) -> None:
        try:
            results = await self.work.run(push_pending(self.ctx.secrets, current_operator(),
                                                       self.adapter_options))  # fmt: skip
        except OutboxBusy as exc:
            self.post_message(OutboxPushed([], str(exc), busy=True))
        except DecisionError as exc:
            self.post_message(OutboxPushed([], str(exc)))
        else:
            self.post_message(OutboxPushed(results))

    def on_outbox_pushed(self, message: OutboxPushed) -> None:
        self._outbox_busy = False
        results = message.results
        if message.error:
            self.notify(message.error, title="Not written to the PSA",
                        severity="information" if message.busy else "error")  # fmt: skip
        pushed = sum(1 for r in results if r.state == "pushed")
        trouble = [r for r in results if r.state != "pushed"]
        if pushed:
            self.notify(f"{pushed} change{'s' * (pushed != 1)} written to the PSA", timeout=4)
        for result in trouble[:3]:
            self.notify(result.message, title=f"PSA write {result.state}",
                        severity="warning" if result.state == "conflict" else "error",
                        timeout=10)  # fmt: skip
        if len(trouble) > 3:
            self.notify(f"and {len(trouble) - 3} more: see the reconciliation screen",
                        severity="warning")  # fmt: skip
        self.outbox_rounds += 1
        if self._outbox_again:
            self._outbox_again = False
            self.push_outbox()

    # --- alerts: vendor alerts become PSA tickets ---------------------------------------------

    def deliver_alerts_if_due(self) -> None:
        if not self._alerts_busy and alerts_due():
            self.deliver_alerts()

    def deliver_alerts(self) -> None:
        """One round of the alert worker (`msp-tui serve` runs the same one; a lock beside the
        store keeps them from working at the same time)."""
        if self._alerts_busy:
            return
        self._alerts_busy = True
        self.run_worker(self._deliver_alerts(), group="alerts", name="alerts")

    async def _deliver_alerts(self) -> None:
        try:
            results = await self.work.run(deliver_alerts(self.ctx.secrets, self.adapter_options))
        except Exception as exc:
            self.post_message(AlertsDelivered([], str(exc)))
        else:
            self.post_message(AlertsDelivered(results))

    def on_alerts_delivered(self, message: AlertsDelivered) -> None:
        self._alerts_busy = False
        if message.error:
            self.notify(message.error, title="Alerts", severity="error")
        created = sum(1 for r in message.results if r.state == "created")
        if created:
            self.notify(f"{created} alert ticket{'s' * (created != 1)} created in the PSA",
                        timeout=4)  # fmt: skip
        failed = [r for r in message.results if r.state == "failed" and r.news]
        if failed:
            self.notify(failed[0].message + (f" (and {len(failed) - 1} more)" if len(failed) > 1
                        else ""), title="Alert not made a ticket", severity="warning")  # fmt: skip
        self.alert_rounds += 1

    def on_unmount(self) -> None:
        self.collector.give_back()
        self.work.stop()
        if self.vendor_api is not None:
            self.vendor_api.stop()

    def action_toggle_help(self) -> None:
        from screens.help import HelpScreen, help_text

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen(help_text(self.screen)))


def _start_vendor_api(port: int) -> BackgroundServer:
    """In a thread: the Vendor API's imports (FastAPI, uvicorn) are a third of a second that
    neither the first frame nor the UI thread should pay."""
    from msp_tui.push.server import BackgroundServer

    return BackgroundServer(port=port).start()
