"""msp-tui: reconcile what vendors count against what the PSA bills, from a terminal."""

__version__ = "0.1.0"
