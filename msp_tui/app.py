"""The Textual App: the shell every screen lives in (header, footer, help, palette, quit)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.widgets import HelpPanel

from msp_tui import __version__
from msp_tui.context import Context
from screens import STYLES
from screens.home import HomeScreen


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

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.sub_title = f"v{__version__} · {Path(ctx.location.display).name}"

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        if self.ctx.secrets.notice:
            self.notify(self.ctx.secrets.notice, title="Secrets", severity="warning", timeout=12)

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()
