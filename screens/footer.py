"""The key bar at the bottom of every screen: Textual's Footer, redrawn only when its keys change.

Textual's Footer rebuilds all its key widgets whenever the screen says its bindings may have
changed, which it says on every focus change, often several times a frame. Each rebuild took
10-45 ms of the UI thread here, and most showed the very keys already shown: opening the
account board rebuilt the wizard's footer eight times while the board was read, Home's four
times as it started.
"""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    _shown: tuple | None = None

    def _keys_shown(self) -> tuple:
        """What `Footer.compose` draws from: each shown binding, whether it is enabled, its
        tooltip, and the footer's own switches."""
        if not self._bindings_ready:
            return ()
        palette = self.app.COMMAND_PALETTE_BINDING
        keys = tuple(
            (binding, enabled, tooltip)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == palette
        )
        return (self.compact, self.show_command_palette, keys)

    async def recompose(self) -> None:
        if not self.is_attached or self._pruning:  # as Widget.recompose: a screen gone
            return
        shown = self._keys_shown()
        if shown == self._shown and self.children:
            return
        self._shown = shown
        await super().recompose()
