"""Form rows: a label beside a one-line input, the label of the field being typed into marked
with ▸, so the focus is seen without colours (and by tests that read the terminal)."""

from __future__ import annotations

from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.widgets import Input, Label


def field_row(label: str, input_id: str, placeholder: str, *, masked: bool = False,
              value: str = "") -> Horizontal:  # fmt: skip
    return Horizontal(
        Label(f"  {label}", id=f"label-{input_id}", name=label, classes="field-label"),
        Input(value, placeholder=placeholder, password=masked, id=input_id),
        classes="field",
    )


def mark_focused(screen: DOMNode, focused: DOMNode) -> None:
    """▸ on the focused field's label; only the labels whose mark changes are redrawn (each
    update lays the form out again)."""
    for label in screen.query(".field-label").results(Label):
        marked = focused.id == (label.id or "").removeprefix("label-")
        if str(label.content).startswith("▸") != marked:
            label.update(("▸ " if marked else "  ") + (label.name or ""))
