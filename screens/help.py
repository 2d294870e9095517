"""? or F1: help for where you are, full width at 80x24. The screen's own keys come first, then
what the focused part of the screen says about itself, then the keys that work everywhere.
esc, ?, F1 or q closes it."""

from __future__ import annotations

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def _keys_list(rows: list[tuple[str, str, str]]) -> str:
    return "\n".join(f"- **{key}**  {tooltip or title}" for key, title, tooltip in rows)


def help_text(screen: Screen) -> str:
    """The help for `screen` as it is now (its focused widget, its active keys)."""
    app = screen.app
    own: list[tuple[str, str, str]] = []
    everywhere: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.action in seen or not (binding.description or binding.tooltip):
            continue
        if binding.action.startswith(("scroll_", "page_")):  # what every list does anyway
            continue
        seen.add(binding.action)
        shown = binding.key_display or app.get_key_display(binding)
        row = (shown, binding.description, binding.tooltip or active.tooltip)
        # Ours all have an id; Textual's own (tab, copy) and the app's work on every screen.
        generic = active.node is app or binding.id is None
        (everywhere if generic else own).append(row)
    parts = []
    if own:
        parts.append("## Keys here\n" + _keys_list(own))
    for node in (screen.focused, *(screen.focused.ancestors if screen.focused else ())):
        text = getattr(node, "HELP", None)  # a screen may word its help at runtime
        if text and text.strip() not in "\n".join(parts):
            parts.append(text.strip())
    screen_help = getattr(screen, "HELP", None)
    if screen_help and screen_help.strip() not in "\n".join(parts):
        parts.append(screen_help.strip())
    if everywhere:
        parts.append("## Everywhere\n" + _keys_list(everywhere))
    return "\n\n".join(parts) or "No help here."


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,f1,q", "close", "Close", id="help.close",
                tooltip="Close the help."),
    ]  # fmt: skip

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        # One widget drawing Rich's Markdown: Textual's Markdown widget makes a widget of every
        # block and list item, and laid them out in a quarter of a second of the UI thread.
        with VerticalScroll(id="help-body"):
            yield Static(Markdown(self.text, hyperlinks=False), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
