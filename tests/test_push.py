"""The push lifecycle over loopback HTTP against `msp-tui serve` run as a subprocess."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stored import stored_text

from adapters.sandbox import build_world
from adapters.sandbox.mailprotector import (
    VENDOR_KEY,
    MailprotectorConsole,
    customers_from_world,
    gradient_token,
)
from msp_tui.cli import main
from msp_tui.logs import log_path
from msp_tui.push.limits import RateLimiter
from msp_tui.store.db import open_store, resolve_location
from msp_tui.store.models import Alert, Integration, UsageCount, VendorAccount, VendorService
from serve_process import Served, api_client, rejection, start_serve, stop_serve


@pytest.fixture
def served(db_path: Path, partner_key: str) -> Iterator[Served]:
    s = start_serve(db_path)
    yield s
    stop_serve(s)


def client(served: Served, partner_key: str, vendor_key: str = VENDOR_KEY) -> httpx.Client:
    return api_client(served, partner_key, vendor_key)


def reopen(db_path: Path) -> None:
    open_store(resolve_location(str(db_path)))


def test_the_whole_push_lifecycle(served: Served, partner_key: str, db_path: Path) -> None:
    customers = customers_from_world(build_world(seed=7, companies=120), count=25)

    async def vendor_side() -> tuple[dict, int, dict]:
        async with MailprotectorConsole(served.url, partner_key, customers) as console:
            organization = await console.enable()
            sent = await console.update_counts()
            queued = await console.send_alert(customers[0].id, "Quarantine full", "It is full",
                                              alert_id="alert-1")  # fmt: skip
            return organization, sent, queued

    organization, sent, queued = asyncio.run(vendor_side())
    assert organization["vendorName"] == "Mailprotector"
    assert set(organization) >= {"organizationId", "name", "vendorId", "integrationId",
                                 "status", "lastSyncedAt"}  # fmt: skip
    with client(served, partner_key) as api:
        vendor = api.get("").json()
        assert vendor["status"] and vendor["message"]
        skus = vendor["data"]["skus"]
        assert {s["name"] for s in skus} >= {"CloudFilter", "CloudMail", "SafeSend"}
        assert all(s["_id"] == s["id"] for s in skus)
        assert api.get("/organization").json()["status"] == "active"
        listed = api.get("/organization/accounts").json()
        assert {a["id"] for a in listed} == {c.id for c in customers}
        one = api.get("/organization/accounts", params={"accountIds[]": customers[1].id}).json()
        assert [a["id"] for a in one] == [customers[1].id]
        renamed = api.patch(f"/organization/accounts/{customers[2].id}",
                            json={"id": customers[2].id, "name": "Renamed Customer"})  # fmt: skip
        assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed Customer"
        debug = api.get(f"/alerting/debug/{queued['messageId']}").json()
        assert debug["messageId"] == queued["messageId"] and debug["status"] == "queued"
        assert debug["errors"] == []
        again = api.post(f"/alerting/{customers[0].id}", json={"title": "Quarantine full",
                                                               "alertId": "alert-1"})  # fmt: skip
        assert again.json()["messageId"] == queued["messageId"]  # once per alertId
        sku = api.post("/service", json={"name": "Archive", "category": "productivity"})
        assert sku.status_code in (200, 201) and any(
            s["name"] == "Archive" for s in sku.json()["skus"]
        )
        paused = api.patch("/organization/status/inactive")
        assert paused.status_code == 200
        assert api.get("/organization").json()["status"] == "inactive"
        # a later count does not overrule the vendor's own status
        counted = api.post("/service/mp-cloudfilter/count",
                           json={"accountId": customers[0].id, "unitCount": 5})  # fmt: skip
        assert counted.status_code == 201
        assert api.get("/organization").json()["status"] == "inactive"

    reopen(db_path)
    integration = Integration.get(Integration.name == "mailprotector")
    assert VendorAccount.select().where(VendorAccount.integration == integration).count() == 25
    assert VendorService.select().where(VendorService.integration == integration).count() == 9
    assert UsageCount.select().count() == sent + 1 == sum(len(c.counts) for c in customers) + 1
    assert Alert.select().count() == 1


def test_pending_after_enable_before_counts(served: Served, partner_key: str) -> None:
    with client(served, partner_key) as api:
        assert api.get("/organization").json()["status"] == "pending"  # first call
        api.post("/organization/accounts", json=[{"id": "1", "name": "Acme"}])
        assert api.get("/organization").json()["status"] == "pending"


def test_every_rejection(served: Served, partner_key: str, db_path: Path) -> None:
    with client(served, partner_key) as api:
        api.post("/organization/accounts", json=[{"id": "a1", "name": "Acme"}])
        api.post("/organization/services", json=[{"id": "s1", "name": "CloudFilter"}])
        count = "/service/s1/count"
        for bad in (None, "12x", -1, True, "12"):
            rejection(api.post(count, json={"accountId": "a1", "unitCount": bad}), 400,
                      "unitCount must be a number")  # fmt: skip
        rejection(api.post(count, json={"accountId": "a1"}), 400, "unitCount must be a number")
        rejection(api.post(count, json={"accountId": "nobody", "unitCount": 3}), 404,
                  "Account with id nobody not found")  # fmt: skip
        rejection(api.post("/service/nothing/count", json={"accountId": "a1", "unitCount": 3}), 404)
        rejection(api.post("/alerting/nobody", json={"title": "x"}), 404)
        rejection(api.get("/alerting/debug/no-such-message"), 404)
        rejection(api.post(count, content=b'{"accountId": "a1", "unitCount": ',
                           headers={"Content-Type": "application/json"}), 400,
                  "Malformed JSON in the request body")  # fmt: skip
        big = b'{"accountId": "a1", "unitCount": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
        rejection(api.post(count, content=big, headers={"Content-Type": "application/json"}), 413)
        rejection(api.patch("/organization/status/Active"), 400)  # case-sensitive
        assert api.post(count, json={"accountId": "a1", "unitCount": 0}).status_code == 201
        assert api.post(count, json={"accountId": "a1", "unitCount": 2.5}).status_code == 201
    with httpx.Client(base_url=served.api, timeout=30) as anonymous:
        rejection(anonymous.get("/organization"), 401)
        rejection(anonymous.get("/organization", headers={"GRADIENT-TOKEN": "not base64!"}), 401)
        wrong = gradient_token(VENDOR_KEY, "msptui_" + "x" * 43)
        rejection(anonymous.get("/organization", headers={"GRADIENT-TOKEN": wrong}), 401)
    # the vendor half was pinned by the first call: another vendor key is refused
    with client(served, partner_key, vendor_key="someone-else") as other:
        rejection(other.get("/organization"), 401)
    reopen(db_path)
    assert UsageCount.select().count() == 2  # only the two good counts landed


def test_the_rate_limiter_on_its_own_clock() -> None:
    now = [1000.0]
    limiter = RateLimiter(100, clock=lambda: now[0])
    assert [limiter.retry_after(1) for _ in range(100)] == [0] * 100  # a full bucket's burst
    assert limiter.retry_after(1) == 1  # the 101st in the same instant waits
    assert limiter.retry_after(2) == 0  # another partner key has its own bucket
    now[0] += 0.011  # a little over one request's worth of refill
    assert limiter.retry_after(1) == 0 and limiter.retry_after(1) == 1
    now[0] += 60  # the bucket refills to its size, not beyond
    assert [limiter.retry_after(1) for _ in range(101)].count(0) == 100
    slow = RateLimiter(0.25, clock=lambda: now[0])  # under 1/s: still one request at a time
    assert slow.retry_after(1) == 0 and slow.retry_after(1) == 4
    assert "0.25 per second" in slow.describe()
    off = RateLimiter(0, clock=lambda: now[0])
    assert all(off.retry_after(1) == 0 for _ in range(1000))


def test_a_real_server_answers_429_with_retry_after(db_path: Path, partner_key: str) -> None:
    # One request per 10 s: the second of two back-to-back requests is over, on any machine.
    served = start_serve(db_path, "--rate-limit", "0.1")
    try:
        with client(served, partner_key) as api:
            assert api.get("/organization").status_code == 200
            limited = api.get("/organization")
    finally:
        stop_serve(served)
    rejection(limited, 429, "Too many requests: the limit is 0.1 per second")
    assert 1 <= int(limited.headers["Retry-After"]) <= 10


@pytest.mark.parametrize("value", ["nan", "-5", "inf", "lots"])
def test_a_bad_rate_limit_is_a_usage_error(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--rate-limit", value])
    assert exc.value.code == 2
    assert "a number >= 0" in capsys.readouterr().err


def test_rotating_the_key_stops_the_old_one_and_keeps_accounts(
    served: Served, partner_key: str, db_path: Path, capsys
) -> None:
    with client(served, partner_key) as api:
        api.post("/organization/accounts", json=[{"id": "a1", "name": "Acme"}])
    capsys.readouterr()
    assert (
        main(["--db", str(db_path), "integrations", "rotate-key", "mailprotector", "--json"]) == 0
    )
    new_key = json.loads(capsys.readouterr().out)["partner_key"]
    assert new_key != partner_key
    with client(served, partner_key) as old:
        rejection(old.get("/organization"), 401)
    with client(served, new_key) as new:
        assert [a["id"] for a in new.get("/organization/accounts").json()] == ["a1"]


def test_disconnect_asks_then_deletes_accounts(
    served: Served, partner_key: str, db_path: Path, capsys
) -> None:
    with client(served, partner_key) as api:
        api.post("/organization/accounts", json=[{"id": "a1", "name": "Acme"}])
    assert main(["--db", str(db_path), "integrations", "disconnect", "mailprotector"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["--db", str(db_path), "integrations", "disconnect", "mailprotector", "--yes"]) == 0
    reopen(db_path)
    assert VendorAccount.select().count() == 0
    with client(served, partner_key) as api:
        rejection(api.get("/organization"), 401)


def test_the_partner_key_is_nowhere_after_it_was_shown(
    db_path: Path, partner_key: str, capsys
) -> None:
    served = start_serve(db_path)
    try:
        customers = customers_from_world(build_world(seed=7, companies=60), count=10)

        async def push() -> None:
            async with MailprotectorConsole(served.url, partner_key, customers) as console:
                await console.enable()
                await console.update_counts()

        asyncio.run(push())
        with client(served, partner_key, vendor_key="intruder") as api:
            api.get("/organization")  # a refused call is logged too
    finally:
        stop_serve(served)
    assert main(["--db", str(db_path), "-v", "integrations", "list", "--json"]) == 0
    texts = ["".join(served.output), capsys.readouterr().out, log_path().read_text()]
    texts.append(stored_text(db_path))
    for text in texts:
        assert partner_key not in text
        assert partner_key.removeprefix("msptui_") not in text


@pytest.mark.skipif(shutil.which("st", path=str(Path(sys.executable).parent)) is None,
                    reason="schemathesis is not installed")  # fmt: skip
def test_schemathesis_finds_no_server_errors(
    served: Served, partner_key: str, tmp_path: Path
) -> None:
    with client(served, partner_key) as api:
        api.post("/organization/accounts", json=[{"id": "a1", "name": "Acme"}])
        api.post("/organization/services", json=[{"id": "s1", "name": "CloudFilter"}])
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    token = gradient_token(VENDOR_KEY, partner_key)
    result = subprocess.run(
        [st, "run", f"{served.url}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "25", "--seed", "1", "--generation-database", "none",
         "--generation-allow-x00", "true",  # NUL in any string: 400, never stored or a 500
         "--header", f"GRADIENT-TOKEN: {token}", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
