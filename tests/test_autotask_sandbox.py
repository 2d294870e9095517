"""The Autotask PSA simulator over a real socket: zone lookup, header auth, JSON-filter queries
and POST-continued paging, units rows and adjustments, tickets, and Autotask's limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from adapters.sandbox import Faults, LoopbackServer, World, build_world
from adapters.sandbox.autotask import AutotaskLimits, autotask_app
from adapters.sandbox.autotask_book import AutotaskBook
from adapters.sandbox.world import Addition

TODAY = date(2025, 3, 14)
API = "/atservicesrest/V1.0"
EVERYTHING = [{"op": "gte", "field": "id", "value": 0}]
MAX_PAGES = 20  # bounds every paging loop


@dataclass
class At:
    server: LoopbackServer
    world: World
    faults: Faults
    limits: AutotaskLimits
    book: AutotaskBook

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = kwargs.pop("headers", at_headers(self.world))
        return httpx.Client(base_url=self.server.base_url + API, headers=headers, **kwargs)


def at_headers(world: World, secret: str | None = None) -> dict[str, str]:
    return {
        "ApiIntegrationCode": world.at_integration_code,
        "UserName": world.at_username,
        "Secret": secret or world.at_secret,
    }


@contextmanager
def serve(world: World, limits: AutotaskLimits | None = None) -> Iterator[At]:
    faults = Faults()
    app = autotask_app(world, faults, limits)
    with LoopbackServer(app) as server:
        yield At(server, world, faults, app.state.limits, app.state.book)


@pytest.fixture
def at() -> Iterator[At]:
    with serve(build_world(seed=7, companies=60, today=TODAY)) as served:
        yield served


@pytest.fixture
def client(at: At) -> Iterator[httpx.Client]:
    with at.client() as client:
        yield client


def query(client: httpx.Client, entity: str, where: list[Any], **extra: Any) -> list[dict]:
    response = client.post(f"/{entity}/query", json={"filter": where, **extra})
    assert response.status_code == 200, response.text
    assert response.json()["pageDetails"]["nextPageUrl"] is None  # one page expected here
    return response.json()["items"]


def live_addition(world: World) -> Addition:
    """A line on an active contract, of an active service, alone on it for that service."""
    for addition in world.additions.values():
        agreement = world.agreements[addition.agreement_id]
        same = [
            a
            for a in world.agreement_additions(agreement.id)
            if a.product_id == addition.product_id
        ]
        if (
            agreement.status == "Active"
            and not world.catalog[addition.product_id].inactive_flag
            and len(same) == 1
        ):
            return addition
    raise AssertionError("the world has no live addition")


def adjust(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/ContractServiceAdjustments", json=body)


# --- reaching the API ----------------------------------------------------------------------


def test_zone_lookup_needs_no_credentials_and_is_not_counted(at: At) -> None:
    base = at.server.base_url
    with httpx.Client(base_url=base) as client:
        zone = client.get(
            "/atservicesrest/v1.0/zoneInformation", params={"user": at.world.at_username.upper()}
        )
        unknown = client.get(
            "/atservicesrest/v1.0/zoneInformation", params={"user": "someone@else.example"}
        )
        missing = client.get("/atservicesrest/v1.0/zoneInformation")
    assert zone.status_code == 200
    assert zone.json() == {
        "zoneName": "Sandbox",
        "url": f"{base}/atservicesrest/",
        "webUrl": f"{base}/",
        "ci": 0,
    }
    assert unknown.status_code == 404
    assert "could not be determined" in unknown.json()["errors"][0]
    assert missing.status_code == 400
    assert at.limits.requests_this_hour() == 0


def test_the_three_headers_are_required(at: At) -> None:
    with at.client(headers={}) as anonymous, at.client(headers=at_headers(at.world, "x")) as wrong:
        bare = anonymous.post("/Companies/query", json={"filter": EVERYTHING})
        bad_secret = wrong.post("/Companies/query", json={"filter": EVERYTHING})
    assert bare.status_code == bad_secret.status_code == 401
    assert bare.json() == {"errors": ["User is not authenticated"]}
    assert at.world.at_secret not in bad_secret.text
    assert at.limits.requests_this_hour() == 0  # refused before counting
    with httpx.Client(base_url=at.server.base_url, headers=at_headers(at.world)) as client:
        lower = client.post("/atservicesrest/v1.0/companies/query", json={"filter": EVERYTHING})
    assert lower.status_code == 200  # version and entity names ignore case
    assert len(lower.json()["items"]) == len(at.world.companies)


# --- entities ------------------------------------------------------------------------------


def test_entities_in_autotask_shapes(at: At, client: httpx.Client) -> None:
    world = at.world
    companies = query(client, "Companies", EVERYTHING)
    assert [c["id"] for c in companies] == sorted(world.companies)
    prospect = next(c for c in world.companies.values() if "Prospect" in c.types)
    shown = next(c for c in companies if c["id"] == prospect.id)
    assert shown["companyType"] == 3 and shown["companyNumber"] == prospect.identifier
    assert {"ownerResourceID", "lastActivityDate"} <= shown.keys()  # more than clients know

    services = {s["name"]: s for s in query(client, "Services", EVERYTHING)}
    assert services["ST-TOTAL-LIC"]["unitPrice"] == 2.5
    assert services["ST-ONPREM-LIC"]["isActive"] is False
    assert services["LABOR-REMOTE"]["periodType"] is None

    contracts = {c["id"]: c for c in query(client, "Contracts", EVERYTHING)}
    for agreement in world.agreements.values():
        contract = contracts[agreement.id]
        assert contract["status"] == (0 if agreement.status == "Cancelled" else 1)
        assert contract["contractType"] == (7 if agreement.billing_cycle else 4)
        assert contract["startDate"].endswith("T00:00:00")

    lines = query(client, "ContractServices", EVERYTHING)
    assert {cs["id"]: cs["serviceID"] for cs in lines} == {
        a.id: a.product_id for a in world.additions.values()
    }
    one = client.get(f"/Companies/{prospect.id}")
    assert one.json()["item"]["companyName"] == prospect.name
    assert client.get("/Companies/1").status_code == 404
    assert client.get(f"/ContractServiceUnits/{min(at.book.rows)}").status_code == 405


def test_units_rows_list_last_month_first(at: At, client: httpx.Client) -> None:
    addition = live_addition(at.world)
    rows = query(
        client,
        "ContractServiceUnits",
        [{"op": "eq", "field": "contractServiceID", "value": addition.id}],
    )
    assert [r["startDate"] for r in rows] == [
        "2025-02-01T00:00:00", "2025-03-01T00:00:00", "2025-04-01T00:00:00"
    ]  # fmt: skip
    assert rows[0]["endDate"] == "2025-02-28T00:00:00"
    assert rows[0]["units"] != rows[1]["units"] == round(addition.quantity)
    assert all(isinstance(r["units"], int) for r in rows)
    assert at.book.units_on(addition.id, TODAY) == round(addition.quantity)
    assert at.book.units_on(addition.id, date(2025, 2, 10)) == rows[0]["units"]
    assert at.book.units_on(addition.id, date(2025, 5, 1)) is None


def test_a_change_holds_in_later_periods_too(at: At) -> None:
    addition = live_addition(at.world)
    before = at.book.units_on(addition.id, date(2025, 4, 2))
    at.book.set_units(addition.id, before + 5, start=date(2025, 3, 20))
    assert at.book.units_on(addition.id, date(2025, 4, 2)) == before + 5


def test_set_units_wins_from_its_start(at: At, client: httpx.Client) -> None:
    addition = live_addition(at.world)
    before = at.book.units_on(addition.id, TODAY)
    at.book.set_units(addition.id, 42, start=date(2025, 3, 10))
    assert at.book.units_on(addition.id, date(2025, 3, 9)) == before
    assert at.book.units_on(addition.id, TODAY) == 42
    at.book.set_units(addition.id, 43, start=date(2025, 3, 10))  # same start: the newer row
    assert at.book.units_on(addition.id, TODAY) == 43
    rows = query(
        client,
        "ContractServiceUnits",
        [{"op": "eq", "field": "contractServiceID", "value": addition.id}],
    )
    assert [r["units"] for r in rows][-2:] == [42, 43]
    assert rows[-1]["endDate"] == "2025-03-31T00:00:00"


# --- queries and paging --------------------------------------------------------------------


def test_paging_continues_by_post_with_the_same_body(at: At, client: httpx.Client) -> None:
    body = {"filter": EVERYTHING, "MaxRecords": 50}
    first = client.post("/ContractServiceUnits/query", json=body)
    pages = [first]
    while (url := pages[-1].json()["pageDetails"]["nextPageUrl"]) and len(pages) < MAX_PAGES:
        assert url.startswith(f"{at.server.base_url}{API}/ContractServiceUnits/query/next?paging=")
        pages.append(client.post(url, json=body))
    ids = [row["id"] for page in pages for row in page.json()["items"]]
    assert ids == sorted(at.book.rows)  # every row exactly once, by id
    assert len(pages) == -(-len(at.book.rows) // 50) > 2
    assert first.json()["pageDetails"]["prevPageUrl"] is None
    assert pages[1].json()["pageDetails"]["prevPageUrl"] is not None
    assert [p.json()["pageDetails"]["count"] for p in pages[:-1]] == [50] * (len(pages) - 1)

    next_url = first.json()["pageDetails"]["nextPageUrl"]
    got = client.get(next_url)
    assert got.status_code == 405
    assert got.json()["errors"]
    other = client.post(next_url, json={"filter": [{"op": "gt", "field": "id", "value": 1}]})
    assert other.status_code == 500
    assert other.json() == {"errors": [other.json()["errors"][0]]}
    assert "does not match the query" in other.json()["errors"][0]
    count = client.post("/ContractServiceUnits/query/count", json={"filter": EVERYTHING})
    assert count.json() == {"queryCount": len(at.book.rows)}


def test_a_page_holds_at_most_500() -> None:
    with serve(build_world(seed=7, companies=400, today=TODAY)) as at:
        with at.client() as client:
            body = {"filter": EVERYTHING, "MaxRecords": 5000}
            first = client.post("/ContractServiceUnits/query", json=body).json()
            rest = client.post(first["pageDetails"]["nextPageUrl"], json=body).json()
        assert len(at.book.rows) > 500
        assert first["pageDetails"]["count"] == len(first["items"]) == 500
        assert first["pageDetails"]["requestCount"] == 500
        assert first["items"][-1]["id"] < rest["items"][0]["id"]


def test_filters(at: At, client: httpx.Client) -> None:
    world = at.world
    some = sorted(world.companies)[:3]
    part = list(world.companies.values())[10].name[2:8]

    def ids(entity: str, *where: dict[str, Any]) -> list[int]:
        return [i["id"] for i in query(client, entity, list(where))]

    assert ids("Companies", {"op": "eq", "field": "id", "value": some[1]}) == [some[1]]
    assert ids("Companies", {"op": "in", "field": "id", "value": some}) == some
    assert (
        ids("Companies", {"op": "gt", "field": "id", "value": some[1]})
        == sorted(world.companies)[2:]
    )
    either = {
        "op": "or",
        "items": [
            {"op": "eq", "field": "ID", "value": some[0]},  # field names ignore case
            {"op": "contains", "field": "companyName", "value": part.upper()},
        ],
    }
    named = {c.id for c in world.companies.values() if part.casefold() in c.name.casefold()}
    assert ids("Companies", either) == sorted(named | {some[0]})
    assert len(named) >= 1 and some[0] not in named
    assert ids("Companies", either, {"op": "noteq", "field": "id", "value": some[0]}) == sorted(
        named
    )
    ended = [a.id for a in world.agreements.values() if a.status == "Cancelled"]
    assert ended  # dates compare in their ISO form, a bare date included
    assert ids("Contracts", {"op": "lt", "field": "endDate", "value": "2025-03-01"}) == sorted(
        ended
    )
    refused = {
        "empty": [],
        "unknown field": [{"op": "eq", "field": "nope", "value": 1}],
        "unknown op": [{"op": "like", "field": "id", "value": 1}],
        "long in": [{"op": "in", "field": "id", "value": list(range(501))}],
    }
    for name, where in refused.items():
        response = client.post("/Companies/query", json={"filter": where})
        assert response.status_code == 500, name
        assert isinstance(response.json()["errors"][0], str), name
    slim = client.post(
        "/Companies/query",
        json={"filter": EVERYTHING, "IncludeFields": ["companyname"], "MaxRecords": 2},
    )
    assert slim.json()["items"] == [
        {"id": c, "companyName": world.companies[c].name} for c in some[:2]
    ]
    missing = client.post("/Companies/query", json={"filter": []}).json()["errors"][0]
    assert "filter is required" in missing


# --- adjustments ---------------------------------------------------------------------------


def test_adjustment_changes_units_from_its_effective_date(at: At, client: httpx.Client) -> None:
    addition = live_addition(at.world)
    before = at.book.units_on(addition.id, TODAY)
    assert before is not None
    response = adjust(
        client,
        contractID=addition.agreement_id,
        serviceID=addition.product_id,
        unitChange=5,
        effectiveDate="2025-03-14T00:00:00Z",
    )
    assert response.status_code == 200, response.text
    item_id = response.json()["itemId"]
    assert at.book.units_on(addition.id, TODAY) == before + 5
    assert at.book.units_on(addition.id, TODAY - timedelta(days=1)) == before
    assert at.book.units_on(addition.id, date(2025, 3, 31)) == before + 5
    assert at.book.adjustments[-1]["itemId"] == item_id
    assert at.book.adjustments[-1]["unitChange"] == 5
    assert at.faults.log.count(("POST", f"{API}/ContractServiceAdjustments")) == 1
    assert at.world.additions[addition.id].quantity == addition.quantity  # the world is untouched


def test_adjustment_for_a_new_service_adds_it_to_the_contract(at: At, client: httpx.Client) -> None:
    addition = live_addition(at.world)
    on_it = {a.product_id for a in at.world.agreement_additions(addition.agreement_id)}
    service = next(
        i for i in at.world.catalog.values() if i.id not in on_it and not i.inactive_flag
    )
    response = adjust(
        client,
        contractID=addition.agreement_id,
        serviceID=service.id,
        unitChange=7,
        effectiveDate="2025-03-14",
    )
    assert response.status_code == 200, response.text
    where = [
        {"op": "eq", "field": "contractID", "value": addition.agreement_id},
        {"op": "eq", "field": "serviceID", "value": service.id},
    ]
    (line,) = query(client, "ContractServices", where)
    assert line["unitPrice"] == service.price
    assert line["id"] not in at.world.additions
    assert at.book.units_on(line["id"], TODAY) == 7
    assert at.book.units_on(line["id"], date(2025, 3, 13)) is None


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"unitChange": 2.5}, "unitChange"),
        ({"unitChange": "3"}, "unitChange"),
        ({"unitChange": None}, "unitChange"),
        ({"contractID": 999_999}, "contractID"),
        ({"serviceID": 106}, "inactive"),  # ST-ONPREM-LIC
        ({"effectiveDate": "14/03/2025"}, "effectiveDate"),
        ({"effectiveDate": "2025-02-30"}, "effectiveDate"),
        ({"unitChange": -100_000}, "negative"),
    ],
)
def test_bad_adjustments_are_500_and_change_nothing(
    at: At, client: httpx.Client, change: dict[str, Any], fault: str
) -> None:
    addition = live_addition(at.world)
    body = {
        "contractID": addition.agreement_id,
        "serviceID": addition.product_id,
        "unitChange": 1,
        "effectiveDate": "2025-03-14T00:00:00",
    } | change
    rows = len(at.book.rows)
    response = adjust(client, **body)
    assert response.status_code == 500
    (message,) = response.json()["errors"]
    assert fault in message
    assert len(at.book.rows) == rows and at.book.adjustments == []


def test_adjustments_are_create_only(at: At, client: httpx.Client) -> None:
    cancelled = next(a for a in at.world.agreements.values() if a.status == "Cancelled")
    line = at.world.agreement_additions(cancelled.id)[0]
    inactive = adjust(
        client,
        contractID=cancelled.id,
        serviceID=line.product_id,
        unitChange=1,
        effectiveDate="2025-03-14",
    )
    assert inactive.status_code == 500 and "inactive" in inactive.json()["errors"][0]
    addition = live_addition(at.world)
    whole = adjust(
        client,
        contractID=addition.agreement_id,
        serviceID=addition.product_id,
        unitChange=3.0,  # integral: accepted
        effectiveDate="2025-03-20T23:30:00.000Z",  # the date part is the day
    )
    assert whole.status_code == 200
    assert at.book.units_on(addition.id, date(2025, 3, 19)) == round(addition.quantity)
    assert at.book.units_on(addition.id, date(2025, 3, 20)) == round(addition.quantity) + 3
    item = whole.json()["itemId"]
    for method, path in [
        ("GET", "/ContractServiceAdjustments"),
        ("GET", f"/ContractServiceAdjustments/{item}"),
        ("PATCH", "/ContractServiceAdjustments"),
        ("PUT", "/ContractServiceAdjustments"),
        ("DELETE", f"/ContractServiceAdjustments/{item}"),
        ("POST", "/ContractServiceAdjustments/query"),
    ]:
        response = client.request(method, path, json={"filter": EVERYTHING})
        assert response.status_code == 405, (method, path)
        assert "create-only" in response.json()["errors"][0], (method, path)
    malformed = client.post("/ContractServiceAdjustments", content=b'{"contractID": ')
    assert malformed.status_code == 500 and malformed.json()["errors"]


# --- tickets -------------------------------------------------------------------------------


def test_ticket_picklists_and_create(at: At, client: httpx.Client) -> None:
    fields = {
        f["name"]: f for f in client.get("/Tickets/entityInformation/fields").json()["fields"]
    }
    queues = {p["value"]: p for p in fields["queueID"]["picklistValues"]}
    assert queues["29682801"]["label"] == "Help Desk" and queues["29682801"]["isActive"]
    retired = [value for value, pick in queues.items() if not pick["isActive"]]
    assert len(retired) == 1
    assert {p["value"]: p["label"] for p in fields["status"]["picklistValues"]} == {
        "1": "New",
        "5": "Complete",
    }
    assert [p["label"] for p in fields["priority"]["picklistValues"]] == [
        "High",
        "Medium",
        "Low",
        "Critical",
    ]
    assert fields["title"]["isPickList"] is False and fields["title"]["dataType"] == "string"

    company = next(iter(at.world.companies))
    ticket = {
        "companyID": company,
        "title": "Licence count changed",
        "description": "SpamTitan says 12",
        "queueID": 29682804,
        "status": 1,
        "priority": 3,
    }
    created = client.post("/Tickets", json=ticket)
    assert created.status_code == 200, created.text
    item = client.get(f"/Tickets/{created.json()['itemId']}").json()["item"]
    assert {k: item[k] for k in ticket} == ticket
    assert item["ticketNumber"].startswith("T20250314.")
    assert query(client, "Tickets", [{"op": "eq", "field": "companyID", "value": company}]) == [
        item
    ]
    for wrong in (
        {"queueID": int(retired[0])},
        {"title": "x" * 256},
        {"companyID": 1},
        {"status": 2},
        {"description": 7},
    ):
        response = client.post("/Tickets", json=ticket | wrong)
        assert response.status_code == 500, wrong
        assert response.json()["errors"], wrong
    missing = client.post("/Tickets", json={k: v for k, v in ticket.items() if k != "title"})
    assert missing.status_code == 500
    from_picklist = ticket | {"queueID": "29682801", "status": "1"}  # values as listed
    assert client.post("/Tickets", json=from_picklist).status_code == 200
    assert len(at.book.tickets) == 2


# --- limits and faults ---------------------------------------------------------------------


def test_hourly_threshold_with_a_rolling_window() -> None:
    now = [1000.0]
    limits = AutotaskLimits(hourly_requests=4, latency_past_half_s=0.0, clock=lambda: now[0])
    with serve(build_world(seed=7, companies=20, today=TODAY), limits) as at, at.client() as client:
        assert client.post("/Companies/query", json={"filter": EVERYTHING}).status_code == 200
        assert limits.slowed == 0
        now[0] += 1800
        assert client.post("/Services/query", json={"filter": EVERYTHING}).status_code == 200
        threshold = client.get("/ThresholdInformation").json()
        assert threshold == {
            "externalRequestThreshold": 4,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": 3,
        }
        assert limits.slowed == 1  # the third of four is past half
        assert client.get("/ThresholdInformation").status_code == 200
        refused = client.post("/Companies/query", json={"filter": EVERYTHING})
        assert refused.status_code == 429
        assert "request threshold of 4 requests per hour" in refused.json()["errors"][0]
        assert limits.requests_this_hour() == 4 and limits.refused_hourly == 1
        now[0] += 1801  # the first request leaves the rolling hour
        assert limits.requests_this_hour() == 3
        assert client.post("/Companies/query", json={"filter": EVERYTHING}).status_code == 200
        assert at.faults.requests == 5  # the refused one never got past the limits


def test_past_half_the_threshold_adds_latency() -> None:
    limits = AutotaskLimits(hourly_requests=2, latency_past_half_s=0.2)
    with serve(build_world(seed=7, companies=20, today=TODAY), limits) as at, at.client() as client:
        client.get("/ThresholdInformation")
        started = time.perf_counter()
        assert client.get("/ThresholdInformation").status_code == 200
        slowed = time.perf_counter() - started
        assert slowed >= 0.2
        assert limits.slowed == 1


async def test_a_fourth_concurrent_request_on_an_endpoint_is_refused(at: At) -> None:
    at.faults.latency_s = 0.3  # inside the thread window: the four really overlap
    body = {"filter": EVERYTHING, "MaxRecords": 1}
    async with httpx.AsyncClient(
        base_url=at.server.base_url + API, headers=at_headers(at.world)
    ) as client:
        replies = await asyncio.gather(
            *[client.post("/Companies/query", json=body) for _ in range(4)],
            client.post("/Services/query", json=body),  # another endpoint, its own threads
        )
    statuses = [r.status_code for r in replies]
    assert sorted(statuses[:4]) == [200, 200, 200, 429]
    assert statuses[4] == 200
    refused = next(r for r in replies if r.status_code == 429)
    assert "thread threshold" in refused.json()["errors"][0]
    assert at.limits.refused_threads == 1
    assert at.limits.max_in_flight == {"Companies": 3, "Services": 1}
    assert at.limits.requests_this_hour() == 5  # a refused thread is still a request


def test_faults_answer_in_autotask_shape(at: At, client: httpx.Client) -> None:
    at.faults.status_500 = 1
    failed = client.post("/Companies/query", json={"filter": EVERYTHING})
    assert failed.status_code == 500
    assert failed.json() == {"errors": ["Server Error"]}
    assert client.post("/Companies/query", json={"filter": EVERYTHING}).status_code == 200
    assert at.faults.log[-1] == ("POST", f"{API}/Companies/query")
