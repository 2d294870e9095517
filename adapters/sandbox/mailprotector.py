"""A Mailprotector "vendor console" that pushes to a Gradient-compatible Vendor API, as the real
one does once the MSP pastes a partner key and clicks Enable, then Update Counts.

    console = MailprotectorConsole(base_url, partner_key, customers_from_world(world))
    await console.enable()          # status pending, customers as accounts, products as services
    await console.update_counts()   # one count per customer and product it uses
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.sandbox.names import exact_variant, near_variant, squash
from adapters.sandbox.world import World

VENDOR_KEY = "mailprotector-sandbox-vendor-key"
PRODUCTS = {
    "mp-cloudfilter": ("CloudFilter", "Inbound and outbound email filtering"),
    "mp-cloudmail": ("CloudMail", "Hosted mailboxes"),
    "mp-safesend": ("SafeSend", "Outbound email encryption"),
    "mp-xtramail": ("XtraMail", "Additional mailbox storage"),
    "mp-securestore": ("SecureStore", "Email archiving"),
    "mp-continuitybundle": ("ContinuityBundle", "Email continuity"),
    "mp-bracketbundle": ("BracketBundle", "Bracket encryption bundle"),
    "mp-bracket": ("Bracket", "Bracket encryption"),
}


@dataclass
class Customer:
    id: str
    name: str
    counts: dict[str, int] = field(default_factory=dict)  # product id -> users


def customers_from_world(world: World, count: int = 60, seed: int = 5) -> list[Customer]:
    """Mailprotector customers: most are PSA companies under a drifted name; a few are not."""
    rng = random.Random(seed)  # noqa: S311 - test data
    companies = sorted(
        (c for c in world.companies.values() if not c.deleted_flag), key=lambda c: c.id
    )
    picked = rng.sample(companies, min(count, len(companies)))
    customers = []
    for n, company in enumerate(picked):
        base = company.name.split(",")[0]
        roll = rng.random()
        if roll < 0.7:
            name = exact_variant(rng, company.name, base)
        elif roll < 0.9:
            name = near_variant(rng, base, company.website or f"{squash(base).lower()}.com")
        else:
            place = rng.choice(["Harbor", "Summit", "Lakeside"])
            name = f"{place} {rng.choice(['Co-op', 'Clinic', 'Trust'])} {n}"
        users = max(1, round(rng.lognormvariate(2.8, 0.8)))
        counts = {"mp-cloudfilter": users}
        if rng.random() < 0.4:
            counts["mp-cloudmail"] = max(1, users - rng.randint(0, 3))
        if rng.random() < 0.25:
            counts["mp-safesend"] = rng.randint(1, users)
        if rng.random() < 0.15:
            counts["mp-securestore"] = users
        customers.append(Customer(str(70000 + n), name, counts))
    return customers


def gradient_token(vendor_key: str, partner_key: str) -> str:
    return base64.b64encode(f"{vendor_key}:{partner_key}".encode()).decode()


class MailprotectorConsole:
    """What the Mailprotector Console does against the Vendor API at `base_url`."""

    def __init__(
        self,
        base_url: str,
        partner_key: str,
        customers: list[Customer],
        vendor_key: str = VENDOR_KEY,
        timeout: float = 30.0,
    ) -> None:
        self.customers = customers
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/vendor-api",
            headers={
                "GRADIENT-TOKEN": gradient_token(vendor_key, partner_key),
                "Accept": "application/json",
            },
            timeout=timeout,
        )

    async def __aenter__(self) -> MailprotectorConsole:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = await self.client.request(method, path, json=body, params=params or None)
        response.raise_for_status()
        return response.json()

    async def enable(self) -> dict[str, Any]:
        """Check the key, say pending, send customers and products."""
        organization = await self._call("GET", "/organization")
        await self._call("PATCH", "/organization/status/pending")
        accounts = [{"id": c.id, "name": c.name, "description": f"Customer {c.id}"}
                    for c in self.customers]  # fmt: skip
        await self._call("POST", "/organization/accounts", accounts)
        await self._call("POST", "/organization/services",
                         [{"id": pid, "name": name, "description": desc}
                          for pid, (name, desc) in PRODUCTS.items()])  # fmt: skip
        return organization

    async def update_counts(self) -> int:
        """Push every customer's count of every product it uses; returns how many."""
        sent = 0
        for customer in self.customers:
            for product_id, users in customer.counts.items():
                await self._call("POST", f"/service/{product_id}/count",
                                 {"accountId": customer.id, "unitCount": users})  # fmt: skip
                sent += 1
        return sent

    async def send_alert(
        self, customer_id: str, title: str, description: str = "",
        alert_id: str | None = None, priority: int = 2,
    ) -> dict[str, Any]:  # fmt: skip
        body = {"title": title, "description": description, "priority": priority, "status": 1}
        if alert_id is not None:
            body["alertId"] = alert_id
        return await self._call("POST", f"/alerting/{customer_id}", body)
