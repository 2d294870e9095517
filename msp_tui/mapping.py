"""Mapping boards: the state behind the two pairing lists, saved as the operator works.

A board holds one integration's vendor side (accounts or services) and the PSA side (companies
or products), with what is mapped, excluded and suggested. Every change is written at once in
its own transaction, so Back, Cancel or a dropped SSH session never lose a mapping.

Accounts: each vendor account maps to at most one PSA company (many accounts may share one).
Exact matches (equal names after normalising, the same domain, or a mapping made for another
integration) are mapped when the board is first opened; near names are only suggested, with
their scores, never applied silently (DESIGN.md). Services: many-to-many.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from msp_tui.matching.engine import Party, match_accounts
from msp_tui.matching.normalize import normalize_name
from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    AuditEvent,
    Integration,
    PsaCompany,
    PsaProduct,
    ServiceMapping,
    VendorAccount,
    VendorService,
)

Kind = Literal["accounts", "services"]
Filter = Literal["all", "unmapped", "suggested", "mapped"]
AUTO_REASONS = {"exact name": "exact", "same domain": "exact", "mapped before": "exact"}


@dataclass
class PsaEntry:
    id: int
    label: str
    detail: str
    search: str
    website: str | None = None


@dataclass
class VendorEntry:
    id: int
    label: str
    detail: str
    search: str
    mapped: set[int] = field(default_factory=set)  # PSA entry ids
    method: str | None = None  # exact | auto | suggested | manual
    excluded: bool = False
    suggestions: list[tuple[int, float]] = field(default_factory=list)  # best first
    # A near name the engine would map on its own; the board only suggests it, `msp-tui map
    # accounts --auto` applies it (see `MappingBoard.accept_near_autos`).
    near_auto: tuple[int, float] | None = None

    @property
    def top_suggestion(self) -> tuple[int, float] | None:
        return self.suggestions[0] if self.suggestions else None


@dataclass
class Counts:
    vendor_total: int
    mapped: int
    unmapped: int
    suggested: int
    excluded: int
    psa_total: int
    psa_mapped: int


class MappingBoard:
    def __init__(self, integration: Integration, kind: Kind, operator: str,
                 psa: list[PsaEntry], vendor: list[VendorEntry]) -> None:  # fmt: skip
        self.integration = integration
        self.kind = kind
        self.operator = operator
        self.psa = psa
        self.vendor = vendor
        self.psa_by_id = {p.id: p for p in psa}
        self.vendor_by_id = {v.id: v for v in vendor}

    # --- reading -------------------------------------------------------------------------------

    def counts(self) -> Counts:
        mapped = sum(1 for v in self.vendor if v.mapped)
        excluded = sum(1 for v in self.vendor if v.excluded and not v.mapped)
        suggested = sum(1 for v in self.vendor if not v.mapped and not v.excluded and v.suggestions)
        used = {p for v in self.vendor for p in v.mapped}
        return Counts(len(self.vendor), mapped, len(self.vendor) - mapped - excluded, suggested,
                      excluded, len(self.psa), len(used))  # fmt: skip

    def vendor_view(self, query: str = "", which: Filter = "all") -> list[VendorEntry]:
        words = query.lower().split()
        keep = {
            "all": lambda v: True,
            "unmapped": lambda v: not v.mapped and not v.excluded,
            "suggested": lambda v: not v.mapped and not v.excluded and bool(v.suggestions),
            "mapped": lambda v: bool(v.mapped),
        }[which]
        return [v for v in self.vendor if keep(v) and all(w in v.search for w in words)]

    def psa_view(self, query: str = "", which: Filter = "all") -> list[PsaEntry]:
        words = query.lower().split()
        if which in ("mapped", "unmapped"):
            used = {p for v in self.vendor for p in v.mapped}
            wanted = which == "mapped"
            return [
                p
                for p in self.psa
                if (p.id in used) == wanted and all(w in p.search for w in words)
            ]
        return [p for p in self.psa if all(w in p.search for w in words)]

    def mapped_vendor_for(self, psa_id: int) -> list[VendorEntry]:
        return [v for v in self.vendor if psa_id in v.mapped]

    # --- changing (each one saved at once) -----------------------------------------------------

    def pair(self, vendor_id: int, psa_id: int, method: str = "manual",
             score: float | None = None) -> None:  # fmt: skip
        entry = self.vendor_by_id[vendor_id]
        if psa_id not in self.psa_by_id:
            raise KeyError(psa_id)
        with writing():
            if self.kind == "accounts":
                AccountMapping.delete().where(AccountMapping.vendor_account == vendor_id).execute()
                AccountMapping.create(vendor_account=vendor_id, psa_company=psa_id, method=method,
                                      score=score, operator=self.operator)  # fmt: skip
                VendorAccount.update(excluded=False).where(VendorAccount.id == vendor_id).execute()
                entry.mapped = {psa_id}
            else:
                ServiceMapping.insert(
                    vendor_service=vendor_id, psa_product=psa_id, operator=self.operator
                ).on_conflict_ignore().execute()
                entry.mapped.add(psa_id)
            self._audit("map", entry, psa_id, method)
        entry.method = method
        entry.excluded = False

    def unmap(self, vendor_id: int, psa_id: int | None = None) -> None:
        entry = self.vendor_by_id[vendor_id]
        with writing():
            if self.kind == "accounts":
                AccountMapping.delete().where(AccountMapping.vendor_account == vendor_id).execute()
                entry.mapped.clear()
            else:
                query = ServiceMapping.delete().where(ServiceMapping.vendor_service == vendor_id)
                if psa_id is not None:
                    query = query.where(ServiceMapping.psa_product == psa_id)
                query.execute()
                entry.mapped = set() if psa_id is None else entry.mapped - {psa_id}
            self._audit("unmap", entry, psa_id, None)
        if not entry.mapped:
            entry.method = None
            if self.kind == "accounts" and not entry.suggestions:
                entry.suggestions = self._suggest(entry)  # B10: never "No suggestions" here

    def _suggest(self, entry: VendorEntry) -> list[tuple[int, float]]:
        """Suggestions for one account, as the board gives the unmapped ones when it opens
        (an account mapped then did not need any)."""
        if not self.psa:
            return []
        [decision] = match_accounts(
            [Party(str(entry.id), entry.label)],
            [Party(str(p.id), p.label, p.website) for p in self.psa],
        )
        found = [(int(decision.psa_id), decision.score)] if decision.psa_id else []
        found += [(int(s.psa_id), s.score) for s in decision.suggestions]
        best: dict[int, float] = {}
        for psa_id, score in found:
            best.setdefault(psa_id, score)
        return list(best.items())[:3]

    def exclude(self, vendor_id: int, excluded: bool = True) -> None:
        """Leave an account out of mapping (a test domain, an internal account)."""
        if self.kind != "accounts":
            raise ValueError("only vendor accounts can be excluded")
        entry = self.vendor_by_id[vendor_id]
        if excluded and entry.mapped:
            self.unmap(vendor_id)
        with writing():
            VendorAccount.update(excluded=excluded).where(VendorAccount.id == vendor_id).execute()
            self._audit("exclude" if excluded else "include", entry, None, None)
        entry.excluded = excluded

    def accept_suggestion(self, vendor_id: int) -> bool:
        entry = self.vendor_by_id[vendor_id]
        top = entry.top_suggestion
        if top is None:
            return False
        self.pair(vendor_id, top[0], "suggested", top[1])
        return True

    def suggestions_above(self, threshold: float) -> list[VendorEntry]:
        return [v for v in self.vendor if not v.mapped and not v.excluded and v.suggestions
                and v.suggestions[0][1] >= threshold]  # fmt: skip

    def accept_all(self, threshold: float) -> int:
        chosen = self.suggestions_above(threshold)
        for entry in chosen:
            self.accept_suggestion(entry.id)
        return len(chosen)

    def accept_near_autos(self) -> list[VendorEntry]:
        """Map the near names the engine decided on its own (one typo apart, a clear lead),
        method "auto"; the TUI leaves them as suggestions, the headless `map accounts --auto`
        applies them. Returns the entries mapped."""
        chosen = []
        for entry in self.vendor:
            if entry.near_auto is not None and not entry.mapped and not entry.excluded:
                psa_id, score = entry.near_auto
                self.pair(entry.id, psa_id, "auto", score)
                chosen.append(entry)
        return chosen

    def _audit(
        self, action: str, entry: VendorEntry, psa_id: int | None, method: str | None
    ) -> None:
        psa = self.psa_by_id.get(psa_id) if psa_id is not None else None
        AuditEvent.create(
            operator=self.operator, action=f"{self.kind}.{action}",
            subject=f"{self.integration.name}: {entry.label}",
            after={"psa": psa.label, "method": method} if psa else None,
        )  # fmt: skip


# --- loading -----------------------------------------------------------------------------------


def _psa_companies() -> list[PsaEntry]:
    return [
        PsaEntry(
            c.id,
            c.name,
            c.identifier,
            f"{c.name} {c.identifier} {c.website or ''}".lower(),
            c.website,
        )
        for c in PsaCompany.select().where(~PsaCompany.deleted).order_by(PsaCompany.name)
    ]


def _psa_products() -> list[PsaEntry]:
    return [
        PsaEntry(p.id, p.identifier, p.description, f"{p.identifier} {p.description}".lower())
        for p in PsaProduct.select().where(~PsaProduct.inactive).order_by(PsaProduct.identifier)
    ]


def _prior_mappings(integration: Integration) -> list[tuple[str, str]]:
    """(vendor account name, PSA company id) from the other integrations' mappings."""
    rows = (
        AccountMapping.select(VendorAccount.name, AccountMapping.psa_company)
        .join(VendorAccount)
        .where(VendorAccount.integration != integration)
        .tuples()
    )
    return [(name, str(company)) for name, company in rows]


def load_account_board(integration: Integration, operator: str) -> MappingBoard:
    """The accounts board; the first time, exact matches are mapped and saved."""
    psa = _psa_companies()
    accounts = list(
        VendorAccount.select()
        .where(VendorAccount.integration == integration)
        .order_by(VendorAccount.name)
    )
    existing = {m.vendor_account_id: m for m in AccountMapping.select().join(VendorAccount)
                .where(VendorAccount.integration == integration)}  # fmt: skip
    vendor = [
        VendorEntry(
            a.id,
            a.name,
            a.domain or a.external_id,
            f"{a.name} {a.domain or ''} {a.external_id}".lower(),
            mapped={existing[a.id].psa_company_id} if a.id in existing else set(),
            method=existing[a.id].method if a.id in existing else None,
            excluded=a.excluded,
        )
        for a in accounts
    ]
    board = MappingBoard(integration, "accounts", operator, psa, vendor)
    open_entries = [v for v in vendor if not v.mapped and not v.excluded]
    if not open_entries or not psa:
        return board
    decisions = match_accounts(
        [Party(str(v.id), v.label) for v in open_entries],
        [Party(str(p.id), p.label, p.website) for p in psa],
        prior=_prior_mappings(integration),
    )
    taken_now: list[tuple[VendorEntry, int, float]] = []
    for entry, decision in zip(open_entries, decisions, strict=True):
        if decision.decision == "auto" and decision.reason in AUTO_REASONS:
            taken_now.append((entry, int(decision.psa_id), decision.score))
        elif decision.decision == "auto":  # a near name: only ever a suggestion here
            entry.suggestions = [(int(decision.psa_id), decision.score)]
            entry.near_auto = entry.suggestions[0]
        else:
            entry.suggestions = [(int(s.psa_id), s.score) for s in decision.suggestions]
    if taken_now:
        _save_exact(board, taken_now)
    return board


def _save_exact(board: MappingBoard, found: Iterable[tuple[VendorEntry, int, float]]) -> None:
    rows = []
    for entry, psa_id, score in found:
        rows.append({"vendor_account": entry.id, "psa_company": psa_id, "method": "exact",
                     "score": score, "operator": board.operator})  # fmt: skip
        entry.mapped, entry.method = {psa_id}, "exact"
    with writing():
        for start in range(0, len(rows), 100):
            AccountMapping.insert_many(rows[start : start + 100]).on_conflict_ignore().execute()
        AuditEvent.create(operator=board.operator, action="accounts.auto_map",
                          subject=board.integration.name, after={"exact": len(rows)})  # fmt: skip


def load_service_board(integration: Integration, operator: str) -> MappingBoard:
    """The services board: SKUs beside catalog products, with name-based suggestions."""
    psa = _psa_products()
    services = list(
        VendorService.select()
        .where(VendorService.integration == integration)
        .order_by(VendorService.name)
    )
    existing: dict[int, set[int]] = {}
    for m in (
        ServiceMapping.select().join(VendorService).where(VendorService.integration == integration)
    ):
        existing.setdefault(m.vendor_service_id, set()).add(m.psa_product_id)
    vendor = []
    for s in services:
        entry = VendorEntry(s.id, s.name, s.description or s.external_id,
                            f"{s.name} {s.description or ''} {s.external_id}".lower(),
                            mapped=existing.get(s.id, set()),
                            method="manual" if s.id in existing else None)  # fmt: skip
        entry.suggestions = _product_suggestions(s.name, psa)
        vendor.append(entry)
    return MappingBoard(integration, "services", operator, psa, vendor)


def _product_suggestions(name: str, psa: list[PsaEntry], limit: int = 3) -> list[tuple[int, float]]:
    from rapidfuzz import fuzz, process

    if not psa:
        return []
    key = normalize_name(name).key
    found = process.extract(key, [p.search for p in psa], scorer=fuzz.partial_ratio,
                            limit=limit, score_cutoff=70)  # fmt: skip
    return [(psa[i].id, round(score, 1)) for _, score, i in found]
