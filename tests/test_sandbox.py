"""The loopback simulators: the seeded world, SpamTitan and ConnectWise over real sockets, and
every fault a client has to survive."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from difflib import SequenceMatcher

import httpx
import pytest

from adapters.sandbox import Faults, LoopbackServer, World, build_world
from adapters.sandbox.conditions import ConditionError, parse_conditions
from adapters.sandbox.connectwise import connectwise_app
from adapters.sandbox.spamtitan import spamtitan_app
from adapters.sandbox.world import NO_CHANGE, NO_VENDOR_DATA, RECONCILE, STALE

TODAY = date(2025, 3, 14)
API = "/v4_6_release/apis/3.0"
MAX_PAGES = 20  # bounds every paging loop


@dataclass
class Sim:
    server: LoopbackServer
    world: World
    faults: Faults

    def client(self, prefix: str = "", **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url + prefix, **kwargs)  # type: ignore[arg-type]


def st_headers(world: World, token: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token or world.spamtitan_token}",
        "Accept": "application/json",
    }


def cw_headers(world: World, private_key: str | None = None) -> dict[str, str]:
    user = f"{world.cw_company_id}+{world.cw_public_key}:{private_key or world.cw_private_key}"
    return {
        "Authorization": "Basic " + base64.b64encode(user.encode()).decode(),
        "clientId": world.cw_client_id,
        "Accept": "application/json",
    }


@pytest.fixture
def world() -> World:
    return build_world(seed=7, companies=300, today=TODAY)


@pytest.fixture
def st(world: World) -> Iterator[Sim]:
    faults = Faults()
    with LoopbackServer(spamtitan_app(world, faults)) as server:
        yield Sim(server, world, faults)


@pytest.fixture
def cw(world: World) -> Iterator[Sim]:
    faults = Faults()
    with LoopbackServer(connectwise_app(world, faults)) as server:
        yield Sim(server, world, faults)


@pytest.fixture
def st_client(st: Sim) -> Iterator[httpx.Client]:
    with st.client(headers=st_headers(st.world)) as client:
        yield client


@pytest.fixture
def cw_client(cw: Sim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cw.server.base_url + API, headers=cw_headers(cw.world)) as client:
        yield client


# --- the world -----------------------------------------------------------------------------


def _trivial(name: str) -> str:
    """Case, punctuation, '&' and a trailing legal form: what 'exact' matching forgives."""
    words = re.sub(r"[^a-z0-9 ]+", " ", name.lower().replace("&", " and ")).split()
    while len(words) > 1 and words[-1] in {"inc", "llc", "ltd", "corp", "llp", "pllc"}:
        words.pop()
    return " ".join(words)


def _letters(name: str) -> str:
    name = re.sub(r"\.(com|net|us|co|org)$", "", name.lower())
    return re.sub(r"[^a-z0-9]", "", _trivial(name).replace(" and ", " "))


def _situations(world: World) -> dict[str, set[int]]:
    """Classify every domain group the way reconciliation will, from the raw data alone."""
    st_item = world.product("ST-TOTAL-LIC")
    assert st_item is not None
    lines_of = defaultdict(list)
    for addition in world.additions.values():
        if addition.product_id == st_item.id:
            lines_of[world.agreements[addition.agreement_id].company_id].append(addition)
    found: dict[str, set[int]] = defaultdict(set)
    for gid, cid in world.truth.items():
        usage = world.expected_max_usage(gid, *world.reporting_window())
        if cid is None:
            found["unmapped"].add(gid)
            continue
        agreements = [world.agreements[a.agreement_id] for a in lines_of[cid]]
        live = [
            a
            for a, ag in zip(lines_of[cid], agreements, strict=True)
            if ag.status == "Active" and ag.billing_cycle and a.cancelled_date is None
        ]
        if any(ag.status == "Cancelled" for ag in agreements):
            found["stale"].add(gid)
        if live and usage == 0:
            found["no_vendor_data"].add(gid)
        elif live and sum(a.quantity for a in live) == usage:
            found["no_change"].add(gid)
        elif live:
            found["reconcile"].add(gid)
        elif usage > 0:
            found["new_revenue"].add(gid)
    return found


def test_world_has_every_reconciliation_situation() -> None:
    world = build_world(today=TODAY)
    found = _situations(world)
    everything = ("no_change", "reconcile", "new_revenue", "no_vendor_data", "unmapped", "stale")
    for situation in everything:
        assert len(found[situation]) >= 5, situation
    # the generator's own labels agree with what the data says
    for gid, label in world.situations.items():
        if label in (NO_CHANGE, RECONCILE, NO_VENDOR_DATA, STALE):
            assert gid in found[label], (gid, label)
    assert found["unmapped"] == {g for g, c in world.truth.items() if c is None}


def test_mapped_groups_belong_to_live_customers() -> None:
    world = build_world(today=TODAY)
    mapped = [world.companies[c] for c in world.truth.values() if c is not None]
    assert len(mapped) == len(set(c.id for c in mapped))  # one group per company
    assert not any(c.deleted_flag or "Prospect" in c.types for c in mapped)
    assert any(c.deleted_flag for c in world.companies.values())
    assert any(c.types == ["Prospect"] for c in world.companies.values())


def test_group_names_match_companies_in_the_promised_proportions() -> None:
    world = build_world(companies=1000, today=TODAY)
    exact = near = other = 0
    for gid, cid in world.truth.items():
        group = world.domain_groups[gid].name
        company = world.companies[cid].name if cid else ""
        if cid and _trivial(group) == _trivial(company):
            exact += 1
        elif cid and SequenceMatcher(None, _letters(group), _letters(company)).ratio() >= 0.85:
            near += 1
        else:
            other += 1
    total = len(world.truth)
    assert total == 800
    assert 0.52 <= exact / total <= 0.68
    assert 0.14 <= near / total <= 0.26
    assert 0.14 <= other / total <= 0.26


def test_company_names_look_like_small_businesses() -> None:
    world = build_world(today=TODAY)
    names = [c.name for c in world.companies.values()]
    assert len({_trivial(n) for n in names}) == len(names)
    assert len({c.identifier for c in world.companies.values()}) == len(names)
    assert sum(n.endswith(("Inc", "Inc.", "LLC", "Ltd", "Corp", "Corp.")) for n in names) > 100
    assert any("&" in n for n in names)
    assert any(re.search(r"Dental|Plumbing|Law Group|CPA|Logistics", n) for n in names)


def test_world_is_deterministic() -> None:
    def snapshot(world: World) -> tuple:
        window = world.reporting_window()
        return (
            [c.name for c in world.companies.values()],
            [
                (g.name, world.expected_max_usage(g.id, *window))
                for g in world.domain_groups.values()
            ],
            [(a.agreement_id, a.quantity) for a in world.additions.values()],
        )

    first = build_world(seed=3, today=TODAY)
    again = build_world(seed=3, today=TODAY)
    assert snapshot(first) == snapshot(again)
    assert [g.usage for g in first.domain_groups.values()] == [
        g.usage for g in again.domain_groups.values()
    ]
    # the calendar does not move the random stream: another day, the same customers and counts
    assert snapshot(first) == snapshot(build_world(seed=3, today=TODAY + timedelta(days=3)))
    assert snapshot(first) != snapshot(build_world(seed=4, today=TODAY))


def test_usage_windows_agree_and_older_days_can_be_higher() -> None:
    world = build_world(today=TODAY)
    higher_before = 0
    for gid, group in world.domain_groups.items():
        assert len(group.usage) in (0, 60)
        thirty = world.expected_max_usage(gid, *world.reporting_window())
        # off-by-one windows give the same answer, so clients are not punished for them
        assert thirty == world.expected_max_usage(gid, TODAY - timedelta(29), TODAY)
        assert thirty == world.expected_max_usage(gid, TODAY - timedelta(31), TODAY)
        higher_before += world.expected_max_usage(gid, TODAY - timedelta(60), TODAY) > thirty
    assert higher_before > 10


def test_large_world_has_the_size_asked_for() -> None:
    world = build_world(companies=2500, today=TODAY)
    assert len(world.companies) == 2500
    assert len(world.domain_groups) == 2000


# --- SpamTitan -----------------------------------------------------------------------------


def test_spamtitan_requires_the_bearer_token(st: Sim) -> None:
    with st.client() as client:
        missing = client.get("/restapi/domain-groups")
        wrong = client.get("/restapi/domain-groups", headers=st_headers(st.world, "1|nope"))
        good = client.get("/restapi/domain-groups", headers=st_headers(st.world))
    assert missing.status_code == wrong.status_code == 401
    assert missing.json() == {"message": "Unauthenticated."}
    assert good.status_code == 200


def test_spamtitan_issues_tokens_for_its_credentials(st: Sim) -> None:
    world = st.world
    with st.client() as client:
        ok = client.post(
            "/restapi/auth/tokens",
            json={"email": world.spamtitan_email, "password": world.spamtitan_password},
        )
        refused = client.post(
            "/restapi/auth/tokens", json={"email": world.spamtitan_email, "password": "guess"}
        )
        token = ok.json()["access_token"]
        groups = client.get("/restapi/domain-groups", headers=st_headers(world, token))
    assert ok.status_code == 200
    assert refused.status_code == 401
    assert groups.status_code == 200


def test_domain_groups_shape(st: Sim, st_client: httpx.Client) -> None:
    response = st_client.get("/restapi/domain-groups")
    assert response.headers["content-type"] == "application/json"
    data = response.json()["data"]
    assert {(g["id"], g["name"]) for g in data} == {
        (g.id, g.name) for g in st.world.domain_groups.values()
    }
    assert all(isinstance(g["id"], int) and "description" in g for g in data)


def test_license_usage_is_the_window_maximum(st: Sim, st_client: httpx.Client) -> None:
    world = st.world
    start, end = world.reporting_window()
    empty = next(g for g in world.domain_groups.values() if not g.usage)
    busy = next(g for g in world.domain_groups.values() if g.usage)
    day = TODAY - timedelta(days=40)
    cases = [(gid, start, end) for gid in list(world.domain_groups)[:8]]
    cases += [(empty.id, start, end), (busy.id, day, day), (busy.id, TODAY, TODAY)]
    for gid, first, last in cases:
        response = st_client.get(
            "/restapi/reports/license-usage",
            params={"start_date": first, "end_date": last, "domain_group_id": gid},
        )
        assert response.status_code == 200
        assert response.json() == {"data": {"maximum": world.expected_max_usage(gid, first, last)}}
    assert world.expected_max_usage(busy.id, day, day) == busy.usage[day]
    assert world.expected_max_usage(empty.id, start, end) == 0


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"end_date": "2025-03-01", "domain_group_id": "12"}, 422),
        ({"start_date": "2025-13-01", "end_date": "2025-03-01", "domain_group_id": "12"}, 422),
        ({"start_date": "01/02/2025", "end_date": "2025-03-01", "domain_group_id": "12"}, 422),
        ({"start_date": "2025-03-02", "end_date": "2025-03-01", "domain_group_id": "12"}, 422),
        ({"start_date": "2025-02-01", "end_date": "2025-03-01", "domain_group_id": "x"}, 422),
        ({"start_date": "2025-02-01", "end_date": "2025-03-01"}, 422),
        ({"start_date": "2025-02-01", "end_date": "2025-03-01", "domain_group_id": "999999"}, 404),
    ],
)
def test_license_usage_rejects_bad_requests(
    st_client: httpx.Client, params: dict[str, str], status: int
) -> None:
    response = st_client.get("/restapi/reports/license-usage", params=params)
    assert response.status_code == status
    assert response.json()["message"]
    if status == 404:
        assert response.json()["message"] == "Domain group not found"


def test_domain_lookup(st: Sim, st_client: httpx.Client) -> None:
    group = next(iter(st.world.domain_groups.values()))
    name, domain_id = next(iter(group.domains.items()))
    assert st_client.get(f"/restapi/domains/{name}").json()["id"] == domain_id
    assert st_client.get("/restapi/domains/not-a-customer.example").status_code == 404


# --- ConnectWise ---------------------------------------------------------------------------


def test_connectwise_auth(cw: Sim) -> None:
    world = cw.world
    with cw.client(API) as client:
        wrong = client.get("/system/info", headers=cw_headers(world, private_key="nope"))
        anonymous = client.get("/system/info")
        headers = cw_headers(world)
        del headers["clientId"]
        no_client_id = client.get("/system/info", headers=headers)
        ok = client.get("/system/info", headers=cw_headers(world))
    assert wrong.status_code == anonymous.status_code == 401
    assert set(wrong.json()) == {"code", "message", "errors"}
    assert no_client_id.status_code == 400
    assert "clientId" in no_client_id.json()["message"]
    assert no_client_id.json()["errors"][0]["field"] == "clientId"
    assert ok.json()["isCloud"] is False and ok.json()["version"].startswith("v2025.1")


def test_companyinfo_and_codebase(cw: Sim) -> None:
    with cw.client(headers=cw_headers(cw.world)) as client:
        info = client.get(f"/login/companyinfo/{cw.world.cw_company_id}")
        other_codebase = client.get("/v2019_3/apis/3.0/system/info")
    assert info.status_code == 200
    assert info.json()["Codebase"] == "v4_6_release/"
    assert info.json()["CompanyID"] == cw.world.cw_company_id
    assert other_codebase.status_code == 404


def test_paging_2500_companies_follows_link_headers() -> None:
    world = build_world(companies=2500, today=TODAY)
    with (
        LoopbackServer(connectwise_app(world)) as server,
        httpx.Client(headers=cw_headers(world)) as client,
    ):
        url: str | None = f"{server.base_url}{API}/company/companies?pageSize=1000&orderBy=id asc"
        pages: list[httpx.Response] = []
        while url and len(pages) < MAX_PAGES:
            pages.append(client.get(url))
            url = pages[-1].links.get("next", {}).get("url")
        clamped = client.get(f"{server.base_url}{API}/company/companies?pageSize=5000")
    assert [len(p.json()) for p in pages] == [1000, 1000, 500]
    assert [p.status_code for p in pages] == [200, 200, 200]
    ids = [c["id"] for p in pages for c in p.json()]
    assert ids == sorted(world.companies)
    assert "prev" not in pages[0].links and "next" in pages[0].links
    assert pages[1].links["first"]["url"].endswith("page=1")
    assert "next" not in pages[2].links and "prev" in pages[2].links
    assert pages[0].links["last"]["url"].endswith("page=3")
    assert "orderBy=id+asc" in pages[0].links["next"]["url"]
    assert len(clamped.json()) == 1000


def test_default_page_size_and_no_link_on_a_single_page(cw_client: httpx.Client) -> None:
    assert len(cw_client.get("/company/companies").json()) == 25
    boards = cw_client.get("/service/boards")
    assert [b["name"] for b in boards.json()][:3] == ["Help Desk", "Alerts", "Projects"]
    assert "link" not in boards.headers


def _all(client: httpx.Client, path: str, **params: str) -> list[dict]:
    items: list[dict] = []
    url: str | None = path
    query: dict[str, str] | None = {"pageSize": "1000", **params}
    for _ in range(MAX_PAGES):
        if not url:
            break
        response = client.get(url, params=query)
        assert response.status_code == 200, response.text
        items += response.json()
        url, query = response.links.get("next", {}).get("url"), None
    return items


def test_conditions_filter_like_connectwise(cw: Sim, cw_client: httpx.Client) -> None:
    world = cw.world
    live = _all(cw_client, "/company/companies", conditions="deletedFlag=false")
    assert {c["id"] for c in live} == {c.id for c in world.companies.values() if not c.deleted_flag}
    active = _all(cw_client, "/finance/agreements", conditions='agreementStatus="Active"')
    assert {a["id"] for a in active} == {
        a.id for a in world.agreements.values() if a.status == "Active"
    }
    company = world.agreements[next(iter(world.agreements))].company_id
    own = _all(
        cw_client,
        "/finance/agreements",
        conditions=f'company/id={company} and (agreementStatus="Active" or cancelledFlag=true)',
    )
    assert own and {a["company"]["id"] for a in own} == {company}
    dental = _all(cw_client, "/company/companies", conditions='name like "*dental*"')
    assert dental and all("dental" in c["name"].lower() for c in dental)
    count = cw_client.get("/company/companies/count", params={"conditions": "deletedFlag=false"})
    assert count.json() == {"count": len(live)}


@pytest.mark.parametrize("conditions", ["name like", 'nme="x"', "id = = 3", "(id=1", 'id="1" xor'])
def test_bad_conditions_are_400(cw_client: httpx.Client, conditions: str) -> None:
    response = cw_client.get("/company/companies", params={"conditions": conditions})
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "errors"}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ("id=250", True),
        ("id != 250", False),
        ("id >= 250 and id < 251", True),
        ('name = "ACME dental inc"', True),
        ('name contains "dent"', True),
        ('name like "Acme*"', True),
        ('name like "*Corp"', False),
        ("company/id=7 and company/name=null", True),
        ("deletedFlag=true or (id in (1, 250) and not website=null)", True),
        ("missing/field=null", True),
        ("lastUpdated > [2025-01-01T00:00:00Z]", True),
    ],
)
def test_condition_parser(conditions: str, expected: bool) -> None:
    obj = {
        "id": 250,
        "name": "Acme Dental Inc",
        "website": "acme.com",
        "deletedFlag": False,
        "company": {"id": 7, "name": None},
        "lastUpdated": "2025-02-01T00:00:00Z",
    }
    assert parse_conditions(conditions)(obj) is expected


def test_condition_parser_knows_the_fields() -> None:
    with pytest.raises(ConditionError, match="unknown field"):
        parse_conditions('nmae="x"', fields=["id", "name"])


def test_fields_and_order_by(cw_client: httpx.Client) -> None:
    response = cw_client.get(
        "/company/companies",
        params={"fields": "id,name,status/name", "orderBy": "name desc", "pageSize": "50"},
    )
    companies = response.json()
    assert all(set(c) == {"id", "name", "status"} for c in companies)
    names = [c["name"].casefold() for c in companies]
    assert names == sorted(names, reverse=True)
    assert cw_client.get("/company/companies", params={"orderBy": "name up"}).status_code == 400


def _st_line(world: World) -> tuple[int, int]:
    st_item = world.product("ST-TOTAL-LIC")
    addition = next(a for a in world.additions.values() if st_item and a.product_id == st_item.id)
    return addition.agreement_id, addition.id


def test_patch_changes_the_quantity(cw: Sim, cw_client: httpx.Client) -> None:
    agreement_id, addition_id = _st_line(cw.world)
    path = f"/finance/agreements/{agreement_id}/additions/{addition_id}"
    patched = cw_client.patch(path, json=[{"op": "replace", "path": "quantity", "value": 12}])
    assert patched.status_code == 200
    assert patched.json()["quantity"] == 12
    assert cw_client.get(path).json()["quantity"] == 12
    assert cw.world.additions[addition_id].quantity == 12
    slash = cw_client.patch(
        path,
        json=[
            {"op": "replace", "path": "/quantity", "value": 7},
            {"op": "replace", "path": "/cancelledDate", "value": "2025-04-01T00:00:00Z"},
        ],
    )
    assert slash.json()["quantity"] == 7
    assert slash.json()["cancelledDate"] == "2025-04-01T00:00:00Z"


@pytest.mark.parametrize(
    "body",
    [
        [{"op": "add", "path": "quantity", "value": 1}],
        [{"op": "replace", "path": "product/id", "value": 1}],
        [{"op": "replace", "path": "quantity", "value": "twelve"}],
        [{"op": "replace", "path": "quantity"}],
        {"quantity": 3},
        [],
    ],
)
def test_bad_patches_are_400_and_change_nothing(
    cw: Sim, cw_client: httpx.Client, body: object
) -> None:
    agreement_id, addition_id = _st_line(cw.world)
    before = cw.world.additions[addition_id].quantity
    response = cw_client.patch(
        f"/finance/agreements/{agreement_id}/additions/{addition_id}", json=body
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["resource"] == "agreementAddition"
    assert cw.world.additions[addition_id].quantity == before


def test_patch_unknown_ids_are_404(cw: Sim, cw_client: httpx.Client) -> None:
    agreement_id, addition_id = _st_line(cw.world)
    op = [{"op": "replace", "path": "quantity", "value": 1}]
    assert (
        cw_client.patch(f"/finance/agreements/1/additions/{addition_id}", json=op).status_code
        == 404
    )
    assert (
        cw_client.patch(f"/finance/agreements/{agreement_id}/additions/1", json=op).status_code
        == 404
    )


def test_post_addition(cw: Sim, cw_client: httpx.Client) -> None:
    agreement_id = next(iter(cw.world.agreements))
    path = f"/finance/agreements/{agreement_id}/additions"
    created = cw_client.post(
        path,
        json={
            "product": {"identifier": "ST-TOTAL-LIC"},
            "quantity": 31,
            "unitPrice": 2.75,
            "effectiveDate": "2025-04-01T00:00:00Z",
        },
    )
    assert created.status_code == 201
    addition = created.json()
    assert addition["product"]["identifier"] == "ST-TOTAL-LIC"
    assert (addition["quantity"], addition["unitPrice"]) == (31, 2.75)
    assert addition["agreementId"] == agreement_id
    assert addition["id"] in {a["id"] for a in cw_client.get(path).json()}
    bad = cw_client.post(path, json={"product": {"identifier": "NOPE"}, "quantity": 1})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "product"
    no_quantity = cw_client.post(path, json={"product": {"id": addition["product"]["id"]}})
    assert no_quantity.status_code == 400
    lost = cw_client.post("/finance/agreements/1/additions", json={"product": {"id": 107}})
    assert lost.status_code == 404


def test_post_ticket(cw: Sim, cw_client: httpx.Client) -> None:
    company = next(iter(cw.world.companies.values()))
    ticket = {
        "summary": "SpamTitan licence count changed",
        "board": {"id": 2},
        "company": {"id": company.id},
        "initialDescription": "12 -> 14",
    }
    created = cw_client.post("/service/tickets", json=ticket)
    assert created.status_code == 201
    body = created.json()
    assert body["board"] == {"id": 2, "name": "Alerts"}
    assert body["company"] == {
        "id": company.id,
        "identifier": company.identifier,
        "name": company.name,
    }
    assert cw.world.tickets[body["id"]].summary == ticket["summary"]
    for broken in ({**ticket, "summary": ""}, {**ticket, "board": {"id": 99}}, {"summary": "x"}):
        assert cw_client.post("/service/tickets", json=broken).status_code == 400


# --- faults --------------------------------------------------------------------------------


def test_latency(st: Sim, st_client: httpx.Client) -> None:
    st.faults.latency_s = 0.3
    started = time.perf_counter()
    assert st_client.get("/restapi/domain-groups").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_rate_limit_429_with_retry_after(st: Sim, st_client: httpx.Client) -> None:
    st.faults.rate_limit_429 = 1
    st.faults.retry_after_s = 2
    limited = st_client.get("/restapi/domain-groups")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert st_client.get("/restapi/domain-groups").status_code == 200


def test_requests_per_second_limit(cw: Sim, cw_client: httpx.Client) -> None:
    now = [0.0]
    cw.faults.clock = lambda: now[0]  # the bucket's own clock: no race with a busy machine
    cw.faults.max_requests_per_second = 5
    statuses = [cw_client.get("/system/info") for _ in range(7)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2  # a burst of 5, then 429
    limited = statuses[-1]
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == "TooManyRequests"
    now[0] += 0.2  # one request's worth
    assert [cw_client.get("/system/info").status_code for _ in range(2)] == [200, 429]


def test_server_errors_then_recovery(cw: Sim, cw_client: httpx.Client) -> None:
    cw.faults.status_500 = 2
    statuses = [cw_client.get("/system/info").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_malformed_json(st: Sim, st_client: httpx.Client) -> None:
    st.faults.malformed_json = 1
    response = st_client.get("/restapi/domain-groups")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert st_client.get("/restapi/domain-groups").json()["data"]


def test_unauthorized_fault(st: Sim, st_client: httpx.Client) -> None:
    st.faults.unauthorized = 1
    assert st_client.get("/restapi/domain-groups").status_code == 401
    assert st_client.get("/restapi/domain-groups").status_code == 200


def test_hang_times_out_and_the_server_still_stops(st: Sim) -> None:
    st.faults.hang = 1
    with (
        st.client(headers=st_headers(st.world), timeout=0.5) as client,
        pytest.raises(httpx.TimeoutException),
    ):
        client.get("/restapi/domain-groups")
    assert st.faults.in_flight == 1  # still hanging on the server
    st.server.stop()  # returns once the hanging request is released and the server is down
    assert st.faults.in_flight == 0


async def test_concurrent_requests_are_counted(st: Sim) -> None:
    st.faults.hang = 8  # all eight stay in flight until released
    async with httpx.AsyncClient(
        base_url=st.server.base_url, headers=st_headers(st.world)
    ) as client:
        sent = [
            asyncio.create_task(client.get("/restapi/domain-groups", params={"n": n}))
            for n in range(8)
        ]
        deadline = time.monotonic() + 30
        while st.faults.in_flight < 8:
            assert time.monotonic() < deadline, st.faults
            await asyncio.sleep(0.01)  # polling the server's count, bounded by the deadline
        st.faults.release_hangs()
        responses = await asyncio.gather(*sent)
    assert [r.status_code for r in responses] == [503] * 8  # a released hang answers 503
    assert st.faults.max_in_flight == 8
    assert st.faults.in_flight == 0
    assert st.faults.requests == 8
    assert sorted(st.faults.log) == [("GET", f"/restapi/domain-groups?n={n}") for n in range(8)]


def test_a_reply_finishing_after_a_reset_leaves_in_flight_at_zero() -> None:
    """A test that resets the faults while the server is still sending the last reply must not
    see in_flight at -1 (truthy), or a wait for a request in flight ends at once."""
    faults = Faults()
    generation = faults._begin("GET", "/x")
    faults.reset()
    faults._end(generation)
    assert faults.in_flight == 0
    faults._end(faults._begin("GET", "/y"))
    assert faults.in_flight == 0 and faults.requests == 1
