"""Untrusted text (vendor, PSA and operator names, error messages) as screens may show it.

`shown` is for markup strings (`Static.update("[b]...")`): control characters escaped
(msp_tui.untrusted.printable), then markup characters, so a name like "[b]Acme" is shown as
written. `plain` is for text that is not markup (Content, Option prompts, line-API rows).
"""

from __future__ import annotations

from textual.markup import escape

from msp_tui.untrusted import printable


def shown(text: object, *, lines: bool = False) -> str:
    return escape(printable(text, lines=lines))


def plain(text: object, *, lines: bool = False) -> str:
    return printable(text, lines=lines)


def sentence(text: object) -> str:
    """A CLI-style message ('a weekly sync needs…') as a screen says it ('A weekly sync…')."""
    text = str(text)
    return text[:1].upper() + text[1:]
