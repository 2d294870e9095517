"""The PSA contract: what the core asks of any PSA, whatever its billing model.

Reconciliation, the outbox, alerts, the screens and the CLI speak only this Protocol and the
records in `adapters.records`; each PSA adapter (ConnectWise Manage now; Autotask and HaloPSA
next) implements it in its own API's terms. The core's words are neutral (an agreement and its
lines, a board); `PsaWords` gives each PSA's own, for what the operator reads.

The write path is the same for every PSA: re-read the line (`line`, as of the date the change
takes effect), compare with what the operator saw, then `set_line_quantity` or `add_line`. An
adapter whose PSA writes changes, not totals (Autotask's adjustments), turns the target quantity
into its change there, from the quantity just re-read (`current`). A PSA that bills whole units
says so (`whole_units`), and the core rounds vendor counts before they reach it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, runtime_checkable

from adapters.records import (
    Board,
    PsaAdditionRecord,
    PsaAgreementRecord,
    PsaCompanyRecord,
    PsaProductRecord,
)


@dataclass(frozen=True)
class PsaWords:
    """What this PSA calls the things the core names neutrally, for the operator's eyes."""

    psa: str  # "ConnectWise Manage"
    agreement: str  # "agreement" | "contract" | "recurring invoice"
    line: str  # "addition" | "contract service" | "invoice line"
    product_id: str  # what identifies a product: "Product ID" | "service name" | "item name"
    board: str  # where tickets go: "board" | "queue" | "team"
    whole_units: bool = False  # quantities are whole numbers (Autotask's units)


# Each PSA's words, here rather than only on its adapter: screens show them at once, and the
# adapters' modules (httpx with them) are imported when a PSA is first called, not to draw Home.
WORDS = {
    "connectwise": PsaWords(psa="ConnectWise Manage", agreement="agreement", line="addition",
                            product_id="Product ID", board="board"),
    "autotask": PsaWords(psa="Autotask", agreement="contract", line="contract service",
                         product_id="service name", board="queue", whole_units=True),
    "halopsa": PsaWords(psa="HaloPSA", agreement="recurring invoice", line="invoice line",
                        product_id="item name", board="team"),
}  # fmt: skip


@runtime_checkable
class PsaAdapter(Protocol):
    """One PSA, reached over its API. Async; used as `async with adapter:`."""

    vendor: str
    words: PsaWords

    async def __aenter__(self) -> PsaAdapter: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def authenticate(self) -> dict[str, Any]:
        """A cheap call that proves the credentials (AuthenticationError if not)."""
        ...

    def usage(self) -> dict[str, int]:
        """Requests made so far ("requests"), and the PSA's own budget where it has one."""
        ...

    # --- reading: what the PSA bills ---------------------------------------------------------

    async def companies(self) -> list[PsaCompanyRecord]: ...

    async def products(self) -> list[PsaProductRecord]: ...

    async def agreements(self) -> list[PsaAgreementRecord]: ...

    async def lines_for(
        self, agreement_ids: list[int], progress: Callable[[int, int], None] | None = None
    ) -> list[PsaAdditionRecord]:
        """The lines of many agreements, read within the PSA's limits."""
        ...

    async def lines(self, agreement_id: int, as_of: date | None = None) -> list[PsaAdditionRecord]:
        """The lines of one agreement, with their quantity on `as_of` (today by default)."""
        ...

    async def line(
        self, agreement_id: int, line_id: int, as_of: date | None = None
    ) -> PsaAdditionRecord:
        """One line as the PSA holds it now (or on `as_of`): the re-read before every write."""
        ...

    # --- writing: once, after the re-read ----------------------------------------------------

    async def set_line_quantity(
        self,
        agreement_id: int,
        line_id: int,
        quantity: float,
        *,
        current: float,
        effective_date: date | None = None,
    ) -> None:
        """Make the line hold `quantity` from `effective_date`; `current` is what the re-read
        found (a PSA that writes changes writes `quantity - current`)."""
        ...

    async def add_line(
        self,
        agreement_id: int,
        product_id: int,
        quantity: float,
        unit_price: float | None = None,
        effective_date: date | None = None,
    ) -> None: ...

    # --- alerts: tickets -----------------------------------------------------------------------

    async def boards(self) -> list[Board]:
        """Where tickets can go (ConnectWise's boards, Autotask's queues, HaloPSA's teams)."""
        ...

    async def find_ticket(self, external_ref: str) -> int | None:
        """A ticket made earlier for this reference: a restarted worker makes it once."""
        ...

    async def create_ticket(
        self,
        *,
        summary: str,
        board_id: int,
        company_id: int,
        description: str,
        priority_id: int | None = None,
        external_ref: str | None = None,
    ) -> int: ...
