"""The sync status indicator (top right): idle, syncing N, new data, or the last error."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.widgets import Header, Static

from screens.shown import plain, shown

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass(frozen=True)
class SyncState:
    syncing: frozenset[str] = frozenset()
    new_data: bool = False
    error: str | None = None  # the last failure's reason, until the next good sync

    @property
    def psa_syncing(self) -> bool:
        """A PSA connection is being read (its key is `psa:NAME`, see `msp_tui.sync`)."""
        return any(key.startswith("psa:") for key in self.syncing)

    @property
    def name(self) -> str:
        if self.syncing:
            return "syncing"
        if self.error:
            return "error"
        return "new-data" if self.new_data else "idle"


class SyncIndicator(Static, can_focus=True):
    HELP = """\
## Sync status
- **idle**: nothing is running and nothing new has arrived.
- **syncing N**: N sources are being read; the screen stays usable.
- **new data - press r**: a sync or a vendor push (from any process) stored something.
- **sync failed**: focus this (tab) to read why.
"""

    def __init__(self) -> None:
        super().__init__(id="sync-indicator")
        self._frame = 0
        self._state = SyncState()
        self._text = ""

    def on_mount(self) -> None:
        self.watch(self.app, "sync_state", self._show)
        self.set_interval(0.1, self._spin)

    def _spin(self) -> None:
        # Only where it is seen: every screen in the stack has a header, and a hidden screen
        # redrawn ten times a second for nothing costs the one in front its frames.
        if self._state.syncing and self.screen.is_current:
            self._frame = (self._frame + 1) % len(SPINNER)
            self._show(self._state)

    def _show(self, state: SyncState) -> None:
        self._state = state
        for name in ("idle", "syncing", "new-data", "error"):
            self.set_class(state.name == name, f"-{name}")
        if state.syncing:
            text = f"{SPINNER[self._frame]} syncing {len(state.syncing)}"
        elif state.error:
            text = f"sync failed: {shown(state.error)}" if self.has_focus else "⚠ sync failed"
        elif state.new_data:
            text = "new data - press r"
        else:
            text = "● idle"
        self.tooltip = plain(state.error) if state.error else None
        if text != self._text:
            # A spinner frame keeps the width: no layout of the screen for it.
            self.update(text, layout=len(text) != len(self._text))
            self._text = text

    def on_focus(self) -> None:
        self.call_after_refresh(self._show, self._state)  # once has_focus reads True

    def on_blur(self) -> None:
        self.call_after_refresh(self._show, self._state)


class AppHeader(Header):
    """Textual's header with the sync indicator on its right."""

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield SyncIndicator()
