"""Autotask's limits, kept by the adapter: at most 3 requests in flight per endpoint (entity),
and a request budget per hour that every integration of the tenant shares (10,000 by default).
Past half the budget Autotask adds latency to each call, so the adapter goes one request at a
time; near the budget it stops, so the tenant's other integrations keep working.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.errors import RateLimited
from adapters.values import as_int

PER_ENDPOINT = 3
HOURLY = 10_000
CHECK_EVERY = 250  # requests between two looks at ThresholdInformation
SLOW_FROM = 0.5  # of the hourly budget: Autotask adds latency from here


def endpoint_of(path: str) -> str:
    """The entity a request goes to (`Companies`, `ContractServiceUnits`): Autotask counts
    threads per endpoint."""
    parts = [p for p in httpx.URL(path).path.split("/") if p]
    lowered = [p.casefold() for p in parts]
    if "v1.0" in lowered:
        parts = parts[lowered.index("v1.0") + 1 :]
    return parts[0] if parts else ""


@dataclass
class RequestBudget:
    share: float = 0.9  # of the hourly budget msp-tui may bring the tenant to
    limit: int = HOURLY
    used: int | None = None  # the tenant's count this hour, at the last look
    made: int = 0  # requests this adapter made
    _made_at_look: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def estimate(self) -> int:
        """The tenant's count now, as far as we know: the last look plus ours since."""
        return (self.used or 0) + self.made - self._made_at_look

    @property
    def slow(self) -> bool:
        return self.estimate >= self.limit * SLOW_FROM

    def note(self, info: dict[str, Any]) -> None:
        """What ThresholdInformation said."""
        limit = as_int(info.get("externalRequestThreshold"))
        count = as_int(info.get("currentTimeframeRequestCount"))
        if limit and limit > 0:
            self.limit = limit
        if count is not None:
            self.used, self._made_at_look = count, self.made

    async def before_request(self, look: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        """Look at the tenant's count now and then; refuse to go past our share of it."""
        if self.used is None or self.made - self._made_at_look >= CHECK_EVERY:
            async with self._lock:
                if self.used is None or self.made - self._made_at_look >= CHECK_EVERY:
                    self.note(await look())
        if self.estimate >= self.share * self.limit:
            raise RateLimited(
                "Autotask",
                f"Autotask's request budget for this hour is nearly spent ({self.estimate:,} of"
                f" {self.limit:,}, shared by every integration of your Autotask); msp-tui stops"
                f" at {self.share:.0%} so the others keep working: sync again later",
            )

    def report(self) -> dict[str, int]:
        return {"requests": self.made, "requests_this_hour": self.estimate,
                "hourly_limit": self.limit}  # fmt: skip
