"""SpamTitan (TitanHQ) REST API, "Reporting - Licensing Stats": a pull integration.

Domain groups are the vendor accounts (normally one per customer). Usage is the *maximum*
licence count over the last 30 days, from today (UTC). The API counts every day of the week;
the SpamTitan portal leaves out weekends, so it may show less.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from adapters.errors import AdapterError, AuthenticationError, MalformedResponse, Secret
from adapters.http import HttpClient, RetryPolicy
from adapters.records import VendorAccountRecord, VendorServiceRecord

VENDOR = "SpamTitan"
WINDOW_DAYS = 30
# Requests in flight at once. SpamTitan publishes no limit; 16 keeps a 1,000-group sync under
# ten seconds at 50 ms a request, and a 429 slows every request down (adapters/http.py).
DEFAULT_CONCURRENCY = 16
TOTAL_LICENSES = VendorServiceRecord(
    external_id="total-licenses",
    name="Total Licenses",
    description="Maximum licensed users over the last 30 days (weekends included)",
    category="security",
    subcategory="email security",
)


def normalise_base_url(url: str) -> str:
    """`https://host`, `https://host/`, `https://host/restapi/` -> `https://host/restapi`."""
    url = url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        url = f"https://{url}"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if not parsed.host:
        raise ValueError(f"not a URL: {url!r}")
    if parsed.userinfo:
        raise ValueError("the URL carries a user name or password: give the API key instead")
    return url if url.endswith("/restapi") else f"{url}/restapi"


def usage_window(today: date | None = None) -> tuple[date, date]:
    end = today or datetime.now(UTC).date()
    return end - timedelta(days=WINDOW_DAYS), end


def _data(body: Any) -> Any:
    """The API wraps results in {"data": ...}; be tolerant where it does not."""
    return body["data"] if isinstance(body, dict) and "data" in body else body


class SpamTitanAdapter:
    vendor = VENDOR

    def __init__(
        self,
        url: str,
        api_key: Secret,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = normalise_base_url(url)
        self.http = HttpClient(
            self.base_url + "/",
            vendor=VENDOR,
            headers={"Authorization": f"Bearer {api_key.reveal()}"},
            concurrency=concurrency,
            timeout=timeout,
            retry=retry,
            transport=transport,
        )

    async def __aenter__(self) -> SpamTitanAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def authenticate(self) -> int:
        """A real call with the key; returns how many domain groups it can see."""
        try:
            return len(await self.accounts())
        except AuthenticationError:
            raise AuthenticationError(
                VENDOR,
                "SpamTitan refused the API key (401): create a key under Settings > User"
                " Management > RestAPI Keys and enter it again",
                401,
            ) from None

    async def accounts(self) -> list[VendorAccountRecord]:
        groups = _data(await self.http.get_json("domain-groups"))
        if not isinstance(groups, list):
            raise MalformedResponse(VENDOR, "SpamTitan's domain-groups reply has no list of groups")
        accounts = []
        for group in groups:
            if not isinstance(group, dict) or group.get("id") is None:
                raise MalformedResponse(VENDOR, "SpamTitan sent a domain group without an id")
            name = group.get("name") or group.get("domain_group_name") or str(group["id"])
            accounts.append(
                VendorAccountRecord(str(group["id"]), str(name), group.get("description"))
            )
        return accounts

    async def usage(self, account_id: str, today: date | None = None) -> int:
        start, end = usage_window(today)
        body = await self.http.get_json(
            "reports/license-usage",
            params={
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "domain_group_id": account_id,
            },
        )
        data = _data(body)
        value = data.get("maximum", data.get("max")) if isinstance(data, dict) else None
        try:
            return int(float(value))
        except (TypeError, ValueError):
            raise MalformedResponse(
                VENDOR, f"SpamTitan's licence usage for group {account_id} has no maximum"
            ) from None

    async def usage_for(
        self,
        account_ids: list[str],
        today: date | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, int]:
        """Usage for many groups at once, at most `concurrency` requests in flight. The first
        failure cancels the rest and is raised as itself."""
        done = 0
        result: dict[str, int] = {}

        async def one(account_id: str) -> None:
            nonlocal done
            result[account_id] = await self.usage(account_id, today)
            done += 1
            if progress:
                progress(done, len(account_ids))

        try:
            async with asyncio.TaskGroup() as group:
                for account_id in account_ids:
                    group.create_task(one(account_id))
        except* AdapterError as failures:
            raise failures.exceptions[0] from None
        return result
