"""CSV in and out for `msp-tui match`: strict about what it reads, exact about what it writes."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from msp_tui.matching.engine import MatchDecision, Party

OUTPUT_HEADER = ["vendor_id", "psa_id", "decision", "score"]
DOMAIN_COLUMNS = ("domain", "website", "url")


class InputError(Exception):
    """A CSV that cannot be used; the message names the file and the row."""


def read_parties(path: Path) -> list[Party]:
    """Rows of a CSV whose header includes `id` and `name` (and optionally a domain column)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if not text.strip():
        raise InputError(f"{path}: row 1: the file is empty (expected a header with id,name)")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader)]
    for column in ("id", "name"):
        if column not in header:
            raise InputError(
                f"{path}: row 1: the header has no '{column}' column (found: {', '.join(header)})"
            )
    id_col, name_col = header.index("id"), header.index("name")
    domain_col = next((header.index(c) for c in DOMAIN_COLUMNS if c in header), None)
    parties: list[Party] = []
    first_row: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
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
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in reader.fieldnames or []]
            if "name" not in fields or "psa_id" not in fields:
                raise InputError(f"{path}: row 1: the header needs 'name' and 'psa_id' columns")
            reader.fieldnames = fields
            return [(r["name"], r["psa_id"].strip()) for r in reader if r.get("psa_id")]
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None


def format_decisions(decisions: Sequence[MatchDecision]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_HEADER)
    for d in decisions:
        writer.writerow([d.vendor_id, d.psa_id or "", d.decision, f"{d.score:.1f}"])
    return out.getvalue()


def write_text(path: Path | None, text: str) -> None:
    """Write to `path` whole or not at all (a temp file renamed into place); None is stdout."""
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
