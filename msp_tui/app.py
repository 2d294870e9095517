"""The Textual App: the shell every screen lives in (header, footer, help, palette, quit)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.widgets import HelpPanel

from msp_tui import __version__
from msp_tui.context import Context
from msp_tui.overview import data_stamp, push_integrations_exist
from msp_tui.push.server import DEFAULT_PORT, BackgroundServer
from screens import STYLES
from screens.home import HomeScreen


class VendorApiStarted(Message):
    def __init__(self, server: BackgroundServer) -> None:
        super().__init__()
        self.server = server


class NewDataLanded(Message):
    """A sync or a push (of this process or another) stored something since the last look."""


class MspTuiApp(App[None]):
    TITLE = "msp-tui"
    SUB_TITLE = "MSP billing reconciliation"
    CSS_PATH = STYLES
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
    ]

    POLL_S = 2.0  # how often to look for data another process stored

    def __init__(self, ctx: Context, serve_port: int = DEFAULT_PORT) -> None:
        super().__init__()
        self.ctx = ctx
        self.sub_title = f"v{__version__} · {Path(ctx.location.display).name}"
        self.serve_port = serve_port
        self.vendor_api: BackgroundServer | None = None
        self.data_stamp: tuple[int, ...] = ()
        self.new_data = False

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        if self.ctx.secrets.notice:
            self.notify(self.ctx.secrets.notice, title="Secrets", severity="warning", timeout=12)
        self.data_stamp = data_stamp()
        self.set_interval(self.POLL_S, self.look_for_new_data)
        if push_integrations_exist():
            self.start_vendor_api()

    @work(thread=True, exclusive=True, group="vendor-api")
    def start_vendor_api(self) -> None:
        """Push vendors need someone listening: this process, unless `msp-tui serve` is."""
        server = BackgroundServer(port=self.serve_port).start()
        self.call_from_thread(self.post_message, VendorApiStarted(server))

    def on_vendor_api_started(self, message: VendorApiStarted) -> None:
        self.vendor_api = message.server
        if message.server.owned:
            self.notify(f"Vendor API listening on {message.server.base_url}", timeout=4)
        else:
            self.notify(f"Port {message.server.port} is taken: pushes go to the msp-tui serve"
                        " already running there", timeout=6)  # fmt: skip

    def look_for_new_data(self) -> None:
        stamp = data_stamp()
        if stamp != self.data_stamp:
            self.data_stamp = stamp
            self.new_data = True
            self.post_message(NewDataLanded())

    def on_new_data_landed(self, message: NewDataLanded) -> None:
        self.notify("New data has landed: press r to refresh", timeout=4)

    def on_unmount(self) -> None:
        if self.vendor_api is not None:
            self.vendor_api.stop()

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()
