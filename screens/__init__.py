"""Textual screens and widgets. They call the core (msp_tui) and never do HTTP or SQL."""

from pathlib import Path

STYLES = Path(__file__).with_name("msp_tui.tcss")
