"""The HaloPSA simulator over a real socket: client-credentials tokens that expire, lists capped
at 100 rows a page whatever `page_size` asks, recurring invoices whose lines a write replaces,
teams and tickets found again by their reference."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from adapters.sandbox import Faults, LoopbackServer, World, build_world
from adapters.sandbox.halopsa import HaloLimits, halopsa_app
from adapters.sandbox.halopsa_book import RETIRED_TEAM, HaloBook, invoice_id_of

TODAY = date(2025, 3, 14)
MAX_PAGES = 20  # bounds every paging loop


class Clock:
    """A clock the test moves: token expiry without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Halo:
    server: LoopbackServer
    world: World
    book: HaloBook
    limits: HaloLimits
    faults: Faults
    clock: Clock

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=5.0)

    def api(self, token: str | None = None) -> httpx.Client:
        with self.client() as plain:
            token = token or get_token(plain, self.world)
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=f"{self.server.base_url}/api", headers=headers, timeout=5.0)


def form(world: World, **changes: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": world.halo_client_id,
            "client_secret": world.halo_client_secret, "scope": "all", **changes}  # fmt: skip


def get_token(client: httpx.Client, world: World) -> str:
    response = client.post("/auth/token", data=form(world))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@contextmanager
def serve(world: World, lifetime_s: float = 3600.0) -> Iterator[Halo]:
    clock, faults = Clock(), Faults()
    app = halopsa_app(world, faults, HaloLimits(token_lifetime_s=lifetime_s, clock=clock))
    with LoopbackServer(app) as server:
        yield Halo(server, world, app.state.book, app.state.limits, faults, clock)


def small_world() -> World:
    world = build_world(seed=7, companies=60, today=TODAY)
    gone = min(c.id for c in world.companies.values() if not c.deleted_flag)
    world.companies[gone].deleted_flag = True  # at least one inactive client, whatever the seed
    return world


@pytest.fixture
def halo() -> Iterator[Halo]:
    with serve(small_world()) as served:
        yield served


@pytest.fixture
def api(halo: Halo) -> Iterator[httpx.Client]:
    with halo.api() as client:
        yield client


def every_row(api: httpx.Client, entity: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """What a correct client does: pages of 100 until `record_count` rows have come."""
    rows: list[dict[str, Any]] = []
    for page_no in range(1, MAX_PAGES):
        query = {**params, "pageinate": "true", "page_size": 100, "page_no": page_no}
        body = api.get(f"/{entity}", params=query).json()
        rows += body[key]
        if len(rows) >= body["record_count"] or not body[key]:
            return rows
    raise AssertionError("paging did not end")


def invoice_with(api: httpx.Client, book: HaloBook, lines: int) -> dict[str, Any]:
    """An enabled recurring invoice with at least `lines` lines, as GET returns it."""
    invoice = next(i for i in book.invoices(lines=True) if len(i["lines"]) >= lines)
    response = api.get(f"/RecurringInvoice/{invoice['id']}")
    assert response.status_code == 200, response.text
    return response.json()


def kept(line: dict[str, Any]) -> dict[str, Any]:
    return {k: line[k] for k in ("id", "_itemid", "qty_order", "unit_price")}


# --- tokens --------------------------------------------------------------------------------


def test_client_credentials_give_a_bearer_token_that_opens_the_api(halo: Halo) -> None:
    with halo.client() as client:
        response = client.post("/auth/token", params={"tenant": "sandbox"}, data=form(halo.world))
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert response.headers["cache-control"] == "no-store"
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        assert client.get("/api/Team", headers=headers).status_code == 200
        assert client.get("/api/authinfo").json()["auth_url"] == f"{halo.server.base_url}/auth"
    assert halo.book.tokens_issued == 1


def test_a_wrong_client_is_401_invalid_client_without_its_secret_echoed(halo: Halo) -> None:
    with halo.client() as client:
        for wrong in ({"client_secret": "NotTheSecret"}, {"client_id": "someone-else"}):
            response = client.post("/auth/token", data=form(halo.world, **wrong))
            assert response.status_code == 401
            assert response.json()["error"] == "invalid_client"
            assert "NotTheSecret" not in response.text
            assert halo.world.halo_client_secret not in response.text
        grant = client.post("/auth/token", data=form(halo.world, grant_type="password"))
        assert grant.json()["error"] == "unsupported_grant_type"
        as_json = client.post("/auth/token", json=form(halo.world))  # must be a form
        assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    assert halo.book.tokens_issued == 0


def test_a_wrong_tenant_is_400_invalid_request(halo: Halo) -> None:
    with halo.client() as client:
        response = client.post("/auth/token", params={"tenant": "other"}, data=form(halo.world))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert halo.book.tokens_issued == 0


def test_the_api_refuses_missing_unknown_and_expired_tokens() -> None:
    with serve(small_world(), lifetime_s=60) as halo, halo.client() as client:
        assert client.get("/api/Team").status_code == 401
        unknown = client.get("/api/Team", headers={"Authorization": "Bearer made-up"})
        assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_token")
        assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
        token = get_token(client, halo.world)
        headers = {"Authorization": f"Bearer {token}"}
        halo.clock.now += 59.5
        assert client.get("/api/Team", headers=headers).status_code == 200
        halo.clock.now += 1
        expired = client.get("/api/Team", headers=headers)
        assert (expired.status_code, expired.json()["error"]) == (401, "invalid_token")
        assert halo.limits.expired_refusals == 1
        fresh = {"Authorization": f"Bearer {get_token(client, halo.world)}"}
        assert client.get("/api/Team", headers=fresh).status_code == 200
        assert halo.book.tokens_issued == 2


# --- lists ---------------------------------------------------------------------------------


def test_a_page_holds_100_whatever_page_size_asks_so_clients_page_to_record_count() -> None:
    world = build_world(seed=7, companies=250, today=TODAY)
    active = sorted(c.id for c in world.companies.values() if not c.deleted_flag)
    assert len(active) > 200
    with serve(world) as halo, halo.api() as api:
        query = {"pageinate": "true", "page_size": 500, "page_no": 1}
        first = api.get("/Client", params=query).json()
        # the trap: a client that trusts page_size stops here with 100 of 240-odd clients
        assert first["record_count"] == len(active)
        assert len(first["clients"]) == 100
        assert halo.limits.max_page_size_asked == 500
        second = api.get("/Client", params={**query, "page_no": 2}).json()["clients"]
        assert [c["id"] for c in first["clients"] + second] == active[:200]  # no gap, no repeat
        rows = every_row(api, "Client", "clients")
    assert [c["id"] for c in rows] == active


def test_without_pageinate_a_list_is_everything_or_count(api: httpx.Client, halo: Halo) -> None:
    active = [i.id for i in sorted(halo.world.catalog.values(), key=lambda i: i.id)
              if not i.inactive_flag]  # fmt: skip
    body = api.get("/Item").json()
    assert body["record_count"] == len(active)
    assert [i["id"] for i in body["items"]] == active
    assert len(api.get("/Item", params={"count": 3}).json()["items"]) == 3
    assert api.get("/Item", params={"pageinate": "true", "page_no": 0}).status_code == 400


def test_includeinactive_adds_inactive_clients_and_items_flagged(
    api: httpx.Client, halo: Halo
) -> None:
    gone = {c.id for c in halo.world.companies.values() if c.deleted_flag}
    default = {c["id"] for c in every_row(api, "Client", "clients")}
    assert default and not default & gone
    everyone = every_row(api, "Client", "clients", includeinactive="true")
    assert {c["id"] for c in everyone if c["inactive"]} == gone
    retired = halo.world.product("ST-ONPREM-LIC")
    assert retired is not None
    assert retired.id not in {i["id"] for i in api.get("/Item").json()["items"]}
    items = api.get("/Item", params={"includeinactive": "true"}).json()["items"]
    shown = next(i for i in items if i["id"] == retired.id)
    assert (shown["name"], shown["inactive"], shown["baseprice"]) == ("ST-ONPREM-LIC", True, 1.5)


def test_recurring_invoices_bring_lines_only_with_includelines(
    api: httpx.Client, halo: Halo
) -> None:
    world = halo.world
    bare = every_row(api, "RecurringInvoice", "invoices")
    cycled = [a for a in world.agreements.values() if a.billing_cycle is not None]
    assert sorted(i["id"] for i in bare) == sorted(invoice_id_of(a.id) for a in cycled)
    assert all("lines" not in i and i["id"] < 0 for i in bare)
    agreement = next(a for a in cycled if len(world.agreement_additions(a.id)) >= 2)
    mine = every_row(api, "RecurringInvoice", "invoices", includelines="true",
                     client_id=agreement.company_id)  # fmt: skip
    assert {i["client_id"] for i in mine} == {agreement.company_id}
    invoice = next(i for i in mine if i["id"] == invoice_id_of(agreement.id))
    assert invoice["client_name"] == world.companies[agreement.company_id].name
    assert invoice["disabled"] is (agreement.status == "Cancelled")
    want = sorted(world.agreement_additions(agreement.id), key=lambda a: a.id)
    got = [(ln["id"], ln["_itemid"], ln["qty_order"], ln["unit_price"]) for ln in invoice["lines"]]
    assert got == [(a.id, a.product_id, a.quantity, a.unit_price) for a in want]
    first = invoice["lines"][0]
    assert isinstance(first["qty_order"], float) and first["ihid"] == invoice["id"]
    assert first["item_shortdescription"] == world.catalog[want[0].product_id].description
    single = api.get(f"/RecurringInvoice/{invoice['id']}").json()
    assert single["lines"] == invoice["lines"]  # one invoice comes with its lines
    assert api.get("/RecurringInvoice/-999999").status_code == 404


# --- writing lines -------------------------------------------------------------------------


def test_posting_every_line_changes_the_one_quantity(api: httpx.Client, halo: Halo) -> None:
    invoice = invoice_with(api, halo.book, lines=2)
    lines = [kept(line) for line in invoice["lines"]]
    target, others = lines[0], lines[1:]
    target["qty_order"] = target["qty_order"] + 7
    before = {a.id: a.quantity for a in halo.world.additions.values()}
    response = api.post("/RecurringInvoice", json=[{"id": invoice["id"], "lines": lines}])
    assert response.status_code == 201, response.text
    saved = response.json()[0]
    assert [ln["id"] for ln in saved["lines"]] == [ln["id"] for ln in lines]
    assert halo.book.line_qty(target["id"]) == target["qty_order"]
    assert all(halo.book.line_qty(ln["id"]) == ln["qty_order"] for ln in others)
    assert {a.id: a.quantity for a in halo.world.additions.values()} == before  # world untouched
    assert halo.book.posts[-1] == [{"id": invoice["id"], "lines": lines}]


def test_posting_only_the_changed_line_deletes_all_the_others(
    api: httpx.Client, halo: Halo
) -> None:
    """The trap: an update that carries `lines` replaces them, so the lines left out go."""
    invoice = invoice_with(api, halo.book, lines=2)
    changed = {**kept(invoice["lines"][0]), "qty_order": 1.0}
    response = api.post("/RecurringInvoice", json=[{"id": invoice["id"], "lines": [changed]}])
    assert response.status_code == 201
    assert halo.book.line_ids(invoice["id"]) == [changed["id"]]
    assert all(halo.book.line_qty(ln["id"]) is None for ln in invoice["lines"][1:])


def test_a_new_line_without_an_id_gets_one(api: httpx.Client, halo: Halo) -> None:
    invoice = invoice_with(api, halo.book, lines=1)
    item = halo.world.product("MP-SAFESEND")
    assert item is not None
    lines = [kept(line) for line in invoice["lines"]]
    new = {"_itemid": item.id, "qty_order": 4}
    response = api.post("/RecurringInvoice", json=[{"id": invoice["id"], "lines": [*lines, new]}])
    assert response.status_code == 201, response.text
    added = response.json()[0]["lines"][-1]
    assert added["id"] > max(halo.world.additions) and added["id"] not in halo.world.additions
    assert (added["_itemid"], added["qty_order"], added["unit_price"]) == (item.id, 4.0, 1.0)
    assert halo.book.line_ids(invoice["id"]) == [*(ln["id"] for ln in lines), added["id"]]
    retired = halo.world.product("ST-ONPREM-LIC")
    assert retired is not None
    for item_id in (retired.id, 999):  # inactive, unknown
        bad = {"_itemid": item_id, "qty_order": 1}
        refused = api.post("/RecurringInvoice", json=[{"id": invoice["id"], "lines": [bad]}])
        assert refused.status_code == 400 and "_itemid" in refused.json()["message"]
    assert len(halo.book.line_ids(invoice["id"])) == len(lines) + 1  # refusals changed nothing


@pytest.mark.parametrize("qty", [-1, "5", True, None])
def test_a_bad_quantity_is_400_and_changes_nothing(api: httpx.Client, halo: Halo, qty: Any) -> None:
    invoice = invoice_with(api, halo.book, lines=2)
    lines = [kept(line) for line in invoice["lines"]]
    lines[0]["qty_order"] = qty
    response = api.post("/RecurringInvoice", json=[{"id": invoice["id"], "lines": lines}])
    assert response.status_code == 400
    assert "qty_order" in response.json()["message"]
    assert halo.book.invoice(invoice["id"]) == invoice


def test_other_bad_writes_are_400(api: httpx.Client, halo: Halo) -> None:
    invoice = invoice_with(api, halo.book, lines=1)
    other = next(i for i in halo.book.invoices(lines=True) if i["id"] != invoice["id"]
                 and i["lines"])  # fmt: skip
    stranger = kept(other["lines"][0])
    for body in ({"id": invoice["id"]}, [{"lines": []}], [{"id": 12345, "lines": []}],
                 [{"id": invoice["id"], "lines": [stranger]}]):  # fmt: skip
        assert api.post("/RecurringInvoice", json=body).status_code == 400, body
    assert halo.book.invoice(invoice["id"]) == invoice


def test_a_quantity_changed_in_halo_shows_in_the_next_read(api: httpx.Client, halo: Halo) -> None:
    invoice = invoice_with(api, halo.book, lines=1)
    line_id = invoice["lines"][0]["id"]
    halo.book.set_qty(line_id, 42)
    again = api.get(f"/RecurringInvoice/{invoice['id']}").json()
    assert again["lines"][0]["qty_order"] == 42.0
    with pytest.raises(KeyError):
        halo.book.set_qty(-5, 1)


# --- teams and tickets ---------------------------------------------------------------------


def test_teams_leave_the_inactive_one_out_unless_asked(api: httpx.Client, halo: Halo) -> None:
    default = api.get("/Team").json()
    assert [t["id"] for t in default] == sorted(halo.world.boards)
    assert not any(t["inactive"] for t in default)
    every = api.get("/Team", params={"includedisabled": "true"}).json()
    retired = next(t for t in every if t["id"] == RETIRED_TEAM[0])
    assert (retired["name"], retired["inactive"]) == (RETIRED_TEAM[1], True)


def test_a_ticket_is_created_and_found_again_by_its_reference(
    api: httpx.Client, halo: Halo
) -> None:
    client_id = next(c.id for c in halo.world.companies.values() if not c.deleted_flag)
    ticket = {"client_id": client_id, "summary": "SpamTitan count drift", "team_id": 2,
              "details": "12 licences more than billed", "priority_id": 2,
              "third_party_id_string": "msp-tui:alert:77"}  # fmt: skip
    response = api.post("/Tickets", json=[ticket])
    assert response.status_code == 201, response.text
    made = response.json()[0]
    assert made["id"] >= 1001 and made["team"] == "Alerts" and made["team_id"] == 2
    found = api.get("/Tickets", params={"third_party_id_string": "msp-tui:alert:77"}).json()
    assert (found["record_count"], found["tickets"][0]["id"]) == (1, made["id"])
    prefix = api.get("/Tickets", params={"third_party_id_string": "msp-tui:alert:7"}).json()
    assert prefix["record_count"] == 0  # the match is exact, not a prefix
    searched = api.get("/Tickets", params={"search": "licences more"}).json()["tickets"]
    assert [t["id"] for t in searched] == [made["id"]]
    assert api.get(f"/Tickets/{made['id']}").json()["details"] == ticket["details"]
    assert halo.book.tickets[made["id"]]["client_id"] == client_id


def test_a_ticket_needs_an_existing_client_a_summary_and_an_active_team(
    api: httpx.Client, halo: Halo
) -> None:
    client_id = next(iter(halo.world.companies))
    good = {"client_id": client_id, "summary": "s", "details": "d", "team_id": 1}
    for bad in ({"team_id": RETIRED_TEAM[0]}, {"team_id": None}, {"client_id": 1},
                {"summary": ""}, {"team_id": 1, "team": "Alerts"}):  # fmt: skip
        response = api.post("/Tickets", json=[{**good, **bad}])
        assert response.status_code == 400, bad
    by_name = api.post("/Tickets", json=[{**good, "team_id": None, "team": "billing"}])
    assert by_name.status_code == 201 and by_name.json()[0]["team_id"] == 4
    assert len(halo.book.tickets) == 1


def test_faults_reach_the_halo_api(api: httpx.Client, halo: Halo) -> None:
    assert halo.faults.reads_by_post == ("/auth/",)  # the token request is no write
    halo.faults.status_500 = 1
    failed = api.get("/Team")
    assert (failed.status_code, failed.json()) == (500, {"message": "Server Error"})
    assert api.get("/Team").status_code == 200
    assert ("GET", "/api/Team") in halo.faults.log
