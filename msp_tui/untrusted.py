"""Text from outside (vendors, the PSA, CSV files, argv) made safe to show and to export.

`printable` is the one place untrusted text becomes display text, for every screen and every
human-readable CLI line: control characters (C0, ESC, BEL, DEL, C1) and the bidirectional
overrides that reorder what a person reads are shown as visible escapes (`\\x1b`), so nothing a
vendor sends can act on the operator's terminal. JSON output stays exact (JSON escapes them).

`csv_cell` keeps a CSV cell from becoming a spreadsheet formula (OWASP, "CSV Injection").
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL; bidi embeddings, overrides and isolates (U+202A-E, U+2066-9).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, lines: bool = False) -> str:
    """`text` with its control characters shown as escapes; `lines` keeps newlines and tabs
    (a description shown over several lines)."""
    value = "" if text is None else str(text)
    pattern = _UNPRINTABLE_BUT_LINES if lines else _UNPRINTABLE
    return pattern.sub(_visible, value)


def csv_cell(value: str) -> str:
    """A text cell a spreadsheet will not run: one that starts like a formula gets a leading
    `'`. Numbers (a negative quantity) are left as they are."""
    if value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value
