"""CSV in and out for `msp-tui match`: strict about what it reads, exact about what it writes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from msp_tui.matching.engine import MatchDecision, Party
from msp_tui.untrusted import csv_cell, printable

OUTPUT_HEADER = ["vendor_id", "psa_id", "decision", "score", "reason"]
DOMAIN_COLUMNS = ("domain", "website", "url")


class InputError(Exception):
    """A CSV that cannot be used; the message names the file and the row."""


def _read_csv(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}): is it a CSV file?") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells), strictly: a quote left open, or a field over the size limit, is an
    error naming the row where it starts instead of rows silently run together."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            why = str(exc)
            if "field larger than field limit" in why:
                why = f"a field is longer than {csv.field_size_limit():,} characters"
            elif "unexpected end of data" in why or "EOF" in why:
                why = "a quote opened here is never closed"
            raise InputError(f"{path}: row {start}: {why}") from None
        yield start, row
        start = reader.line_num + 1


def read_parties(path: Path) -> list[Party]:
    """Rows of a CSV whose header includes `id` and `name` (and optionally a domain column)."""
    text = _read_csv(path)
    if not text.strip():
        raise InputError(f"{path}: row 1: the file is empty (expected a header with id,name)")
    rows = _rows(path, text)
    header = [h.strip().lower() for h in next(rows)[1]]
    for column in ("id", "name"):
        if column not in header:
            raise InputError(
                f"{path}: row 1: the header has no '{column}' column (found: {', '.join(header)})"
            )
    id_col, name_col = header.index("id"), header.index("name")
    domain_col = next((header.index(c) for c in DOMAIN_COLUMNS if c in header), None)
    parties: list[Party] = []
    first_row: dict[str, int] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(id_col, name_col):
            raise InputError(f"{path}: row {line}: expected {len(header)} columns, got {len(row)}")
        pid, name = row[id_col].strip(), row[name_col].strip()
        if not pid:
            raise InputError(f"{path}: row {line}: the id is empty")
        if pid in first_row:
            raise InputError(
                f"{path}: row {line}: duplicate id '{pid}' (first on row {first_row[pid]})"
            )
        first_row[pid] = line
        domain = row[domain_col].strip() if domain_col is not None and domain_col < len(row) else ""
        parties.append(Party(pid, name, domain or None))
    if not parties:
        raise InputError(f"{path}: row 2: no rows after the header")
    return parties


def read_prior(path: Path) -> list[tuple[str, str]]:
    """(vendor account name, PSA company id) pairs from mappings made for other integrations."""
    text = _read_csv(path)
    rows = _rows(path, text)
    try:
        header = [h.strip().lower() for h in next(rows)[1]]
    except StopIteration:
        header = []
    if "name" not in header or "psa_id" not in header:
        raise InputError(f"{path}: row 1: the header needs 'name' and 'psa_id' columns")
    name_col, psa_col = header.index("name"), header.index("psa_id")
    return [(row[name_col], row[psa_col].strip()) for _, row in rows
            if len(row) > max(name_col, psa_col) and row[psa_col].strip()]  # fmt: skip


def format_decisions(decisions: Sequence[MatchDecision], raw: bool = False) -> str:
    def cell(text: str) -> str:
        return text if raw else printable(csv_cell(text))

    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_HEADER)
    for d in decisions:
        writer.writerow(
            [cell(d.vendor_id), cell(d.psa_id or ""), d.decision, f"{d.score:.1f}", d.reason]
        )
    return out.getvalue()
