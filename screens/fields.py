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
    for label in screen.query(".field-label").results(Label):
        target = (label.id or "").removeprefix("label-")
        label.update(("▸ " if focused.id == target else "  ") + (label.name or ""))
