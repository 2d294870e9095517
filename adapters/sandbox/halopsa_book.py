"""HaloPSA's own records of the seeded world: recurring invoices and their lines, teams, tickets
and the tokens it issued. They live here, not in `World`, so what a client changes through the
HaloPSA simulator never shows through the ConnectWise or Autotask ones.

Recurring invoices are the world's agreements that bill on a cycle. Halo keeps them in the same
table as real invoices, at negative ids (a tenant's recurring invoice -94 has lines with
`ihid: -94`), so invoice id = -agreement id; a line's id is its addition's id.

A write to a recurring invoice that carries `lines` replaces the invoice's lines with exactly
those sent: a line with an `id` is kept (and updated), one without is added, one left out is
deleted. Posting only the changed line deletes all the others.
"""

from __future__ import annotations

import copy
import math
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

from adapters.sandbox.world import World

TOPLEVEL = (1, "Sandbox MSP")
RETIRED_TEAM = (99, "Legacy Service Desk (retired)")  # inactive: left out unless asked for
PRIORITIES = {1: "Critical", 2: "High", 3: "Medium", 4: "Low"}
TICKET_TYPE = 1  # "Incident"
SUMMARY_MAX = 500


class HaloError(ValueError):
    """Bad input to a write: answered 400 with the message."""


def invoice_id_of(agreement_id: int) -> int:
    return -agreement_id


def _number(value: Any, where: str, field: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HaloError(f"{where}: {field} must be a number, not {value!r}.")
    if minimum is not None and value < minimum:
        raise HaloError(f"{where}: {field} must be {minimum:g} or more, not {value!r}.")
    return float(value)


def _whole(value: Any, where: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HaloError(f"{where}: {field} must be a whole number, not {value!r}.")
    return value


class HaloBook:
    """Built from the world once; thread-safe, since tests change it while the server runs."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.posts: list[Any] = []  # every write body received, as sent
        self.tickets: dict[int, dict[str, Any]] = {}
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}  # token -> when it expires, on the limits' clock
        self._invoices: dict[int, dict[str, Any]] = {}
        self._lines: dict[int, list[dict[str, Any]]] = {}  # invoice id -> its lines, in order
        self._lock = threading.RLock()
        for agreement in sorted(world.agreements.values(), key=lambda a: a.id):
            if agreement.billing_cycle is None:
                continue
            company = world.companies[agreement.company_id]
            iid = invoice_id_of(agreement.id)
            self._invoices[iid] = {
                "id": iid,
                "client_id": company.id,
                "client_name": company.name,
                "name": company.name,
                "notes_1": agreement.name,
                "disabled": agreement.status == "Cancelled",
                "contract_id": 0,
                "currency_code": 1,
            }
            self._lines[iid] = []
            for addition in sorted(world.agreement_additions(agreement.id), key=lambda a: a.id):
                line = self._new_line(iid, addition.id, addition.product_id)
                line["qty_order"], line["unit_price"] = addition.quantity, addition.unit_price
                self._lines[iid].append(line)

    # --- tokens ----------------------------------------------------------------------------

    def issue_token(self, expires_at: float) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = expires_at
            self.tokens_issued += 1
        return token

    def token_expiry(self, token: str) -> float | None:
        with self._lock:
            return self._tokens.get(token)

    # --- reads -----------------------------------------------------------------------------

    def clients(self) -> list[dict[str, Any]]:
        return [
            {"id": c.id, "name": c.name, "inactive": c.deleted_flag, "website": c.website or "",
             "toplevel_id": TOPLEVEL[0], "toplevel_name": TOPLEVEL[1], "colour": "#2d6fb7"}
            for c in sorted(self.world.companies.values(), key=lambda c: c.id)
        ]  # fmt: skip

    def items(self) -> list[dict[str, Any]]:
        return [
            {"id": i.id, "name": i.identifier, "description": i.description,
             "baseprice": i.price, "costprice": i.cost, "inactive": i.inactive_flag,
             "isrecurringitem": i.recurring_flag, "taxable": True}
            for i in sorted(self.world.catalog.values(), key=lambda i: i.id)
        ]  # fmt: skip

    def teams(self) -> list[dict[str, Any]]:
        boards = sorted(self.world.boards.values(), key=lambda b: b.id)
        rows = [(b.id, b.name, False) for b in boards] + [(*RETIRED_TEAM, True)]
        return [
            {"id": tid, "name": name, "inactive": off, "department_id": 1, "forrequests": True}
            for tid, name, off in rows
        ]

    def active_team(self, team_id: int) -> dict[str, Any] | None:
        return next((t for t in self.teams() if t["id"] == team_id and not t["inactive"]), None)

    def invoice(self, invoice_id: int, lines: bool = True) -> dict[str, Any] | None:
        with self._lock:
            if invoice_id not in self._invoices:
                return None
            return self._render(invoice_id, lines)

    def invoices(self, lines: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render(iid, lines) for iid in sorted(self._invoices)]

    def line(self, line_id: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._find_line(line_id)
            return None if found is None else copy.deepcopy(found[1])

    def line_qty(self, line_id: int) -> float | None:
        found = self.line(line_id)
        return None if found is None else found["qty_order"]

    def line_ids(self, invoice_id: int) -> list[int]:
        with self._lock:
            return [line["id"] for line in self._lines.get(invoice_id, [])]

    def set_qty(self, line_id: int, qty: float) -> None:
        """Someone changes a quantity in Halo's own screens."""
        with self._lock:
            found = self._find_line(line_id)
            if found is None:
                raise KeyError(line_id)
            found[1]["qty_order"] = float(qty)

    # --- writes ----------------------------------------------------------------------------

    def save_invoices(self, body: Any) -> list[dict[str, Any]]:
        """`POST /api/RecurringInvoice`: checks every invoice first, then applies them all."""
        with self._lock:
            self.posts.append(copy.deepcopy(body))
            if not isinstance(body, list) or not body:
                raise HaloError("Send a JSON array of recurring invoices.")
            plans = [self._plan(entry, n) for n, entry in enumerate(body)]
            ids = [iid for iid, _, _ in plans]
            if len(set(ids)) != len(ids):
                raise HaloError("The same recurring invoice is in the array twice.")
            for iid, disabled, lines in plans:
                if disabled is not None:
                    self._invoices[iid]["disabled"] = disabled
                if lines is not None:
                    for line in lines:
                        if line["id"] == 0:  # new lines get their ids once all is well
                            line["id"] = self.world.next_id("addition", 5001)
                    self._lines[iid] = lines
            return [self._render(iid, True) for iid in ids]

    def create_tickets(self, body: Any, now: datetime | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self.posts.append(copy.deepcopy(body))
            if not isinstance(body, list) or not body:
                raise HaloError("Send a JSON array of tickets.")
            made = [self._ticket(entry, n) for n, entry in enumerate(body)]
            when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for ticket in made:
                ticket["id"] = self.world.next_id("halo_ticket", 1001)
                ticket["dateoccurred"] = when
                self.tickets[ticket["id"]] = ticket
            return copy.deepcopy(made)

    def ticket_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self.tickets[tid]) for tid in sorted(self.tickets)]

    # --- inside ----------------------------------------------------------------------------

    def _render(self, invoice_id: int, lines: bool) -> dict[str, Any]:
        body = copy.deepcopy(self._invoices[invoice_id])
        current = self._lines[invoice_id]
        body["total"] = round(sum(line["qty_order"] * line["unit_price"] for line in current), 2)
        if lines:
            body["lines"] = [self._rendered_line(line, n) for n, line in enumerate(current, 1)]
        return body

    @staticmethod
    def _rendered_line(line: dict[str, Any], sequence: int) -> dict[str, Any]:
        net = round(line["qty_order"] * line["unit_price"], 2)
        return {**copy.deepcopy(line), "net_amount": net, "sequenceid": sequence}

    def _find_line(self, line_id: int) -> tuple[int, dict[str, Any]] | None:
        for iid, lines in self._lines.items():
            for line in lines:
                if line["id"] == line_id:
                    return iid, line
        return None

    def _new_line(self, invoice_id: int, line_id: int, item_id: int) -> dict[str, Any]:
        item = self.world.catalog[item_id]
        return {
            "id": line_id,
            "ihid": invoice_id,
            "_itemid": item.id,
            "item_code": item.identifier,
            "item_shortdescription": item.description,
            "item_longdescription": item.description,
            "qty_order": 1.0,
            "unit_price": item.price,
            "unit_cost": item.cost,
            "isinactive": False,
        }

    def _item(self, value: Any, where: str) -> int:
        item_id = _whole(value, where, "_itemid")
        item = self.world.catalog.get(item_id)
        if item is None or item.inactive_flag:
            raise HaloError(f"{where}: _itemid {item_id} is not an active item.")
        return item_id

    def _plan(self, entry: Any, n: int) -> tuple[int, bool | None, list[dict[str, Any]] | None]:
        """What one posted invoice would become, or HaloError; nothing is changed here."""
        where = f"invoice [{n}]"
        if not isinstance(entry, dict):
            raise HaloError(f"{where} is not an object.")
        if entry.get("id") in (None, 0):
            raise HaloError(f"{where}: creating recurring invoices is not supported; send an id.")
        iid = _whole(entry["id"], where, "id")
        if iid not in self._invoices:
            raise HaloError(f"Recurring invoice {iid} does not exist.")
        disabled = entry.get("disabled")
        if disabled is not None and not isinstance(disabled, bool):
            raise HaloError(f"{where}: disabled must be true or false.")
        if "lines" not in entry:
            return iid, disabled, None
        sent = entry["lines"]
        if not isinstance(sent, list):
            raise HaloError(f"{where}: lines must be an array.")
        have = {line["id"]: line for line in self._lines[iid]}
        lines, seen = [], set()
        for m, raw in enumerate(sent):
            lines.append(self._planned_line(iid, raw, f"{where} line [{m}]", have, seen))
        return iid, disabled, lines

    def _planned_line(
        self, iid: int, raw: Any, where: str, have: dict[int, dict[str, Any]], seen: set[int]
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise HaloError(f"{where} is not an object.")
        line_id = raw.get("id")
        if line_id in (None, 0):  # a new line
            line = self._new_line(iid, 0, self._item(raw.get("_itemid"), where))
        else:
            line_id = _whole(line_id, where, "id")
            if line_id not in have:
                raise HaloError(f"{where}: line {line_id} is not on recurring invoice {iid}.")
            if line_id in seen:
                raise HaloError(f"{where}: line {line_id} is sent twice.")
            seen.add(line_id)
            line = copy.deepcopy(have[line_id])
            if raw.get("_itemid") not in (None, line["_itemid"]):
                fresh = self._new_line(iid, line_id, self._item(raw["_itemid"], where))
                line = {**fresh, "qty_order": line["qty_order"], "unit_price": fresh["unit_price"]}
        if "qty_order" in raw:
            line["qty_order"] = _number(raw["qty_order"], where, "qty_order", minimum=0)
        if "unit_price" in raw:
            line["unit_price"] = _number(raw["unit_price"], where, "unit_price")
        for text in ("item_shortdescription", "item_longdescription"):
            if isinstance(raw.get(text), str) and raw[text]:
                line[text] = raw[text]
        return line

    def _ticket(self, entry: Any, n: int) -> dict[str, Any]:
        where = f"ticket [{n}]"
        if not isinstance(entry, dict):
            raise HaloError(f"{where} is not an object.")
        client_id = _whole(entry.get("client_id"), where, "client_id")
        company = self.world.companies.get(client_id)
        if company is None:
            raise HaloError(f"{where}: client {client_id} does not exist.")
        summary = entry.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise HaloError(f"{where}: a summary is required.")
        if len(summary) > SUMMARY_MAX:
            raise HaloError(f"{where}: the summary is longer than {SUMMARY_MAX} characters.")
        details = entry.get("details", "")
        if not isinstance(details, str):
            raise HaloError(f"{where}: details must be text.")
        team = self._team_of(entry, where)
        priority = entry.get("priority_id", 3)
        if _whole(priority, where, "priority_id") not in PRIORITIES:
            raise HaloError(f"{where}: priority_id must be one of {sorted(PRIORITIES)}.")
        kind = _whole(entry.get("tickettype_id", TICKET_TYPE), where, "tickettype_id")
        reference = entry.get("third_party_id_string", "")
        if not isinstance(reference, str):
            raise HaloError(f"{where}: third_party_id_string must be text.")
        return {
            "summary": summary, "details": details, "client_id": company.id,
            "client_name": company.name, "team_id": team["id"], "team": team["name"],
            "priority_id": priority, "tickettype_id": kind, "status_id": 1,
            "third_party_id_string": reference,
        }  # fmt: skip

    def _team_of(self, entry: dict[str, Any], where: str) -> dict[str, Any]:
        """`team_id`, or else `team` (the team's name); it must be an active team."""
        if entry.get("team_id") is not None:
            team = self.active_team(_whole(entry["team_id"], where, "team_id"))
            if team is None:
                raise HaloError(f"{where}: team_id {entry['team_id']} is not an active team.")
            if entry.get("team") not in (None, "", team["name"]):
                raise HaloError(f"{where}: team {entry['team']!r} is not team {team['id']}.")
            return team
        if isinstance(entry.get("team"), str) and entry["team"]:
            wanted = entry["team"].casefold()
            for team in self.teams():
                if team["name"].casefold() == wanted and not team["inactive"]:
                    return team
            raise HaloError(f"{where}: there is no active team named {entry['team']!r}.")
        raise HaloError(f"{where}: a team_id (or team) is required.")
