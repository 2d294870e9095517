"""Mapping boards: the state behind the two pairing lists, saved as the operator works.

A board holds one integration's vendor side (accounts or services) and the PSA side (companies
or products), with what is mapped, excluded and suggested. Every change is written at once in
its own transaction, so Back, Cancel or a dropped SSH session never lose a mapping.

Accounts: each vendor account maps to at most one PSA company (many accounts may share one).
Exact matches (equal names after normalising, the same domain, or a mapping made for another
integration) are mapped when the board is first opened; the engine's other matches (a name
inside the other, a near name) are only suggested, with their scores and why, never applied
silently (DESIGN.md); `msp-tui map accounts --auto` applies those it is sure of.
Services: many-to-many.

Opening the accounts board is two steps, so that a screen can show the lists at once: reading
it (`read_account_board`, the lists and the saved mappings) and matching it
(`match_account_board`, about half a second at 5,000 x 5,000, run in a thread), which saves the
exact matches and fills in the suggestions. The operator may change the board in between: the
matcher's results never override that (`MappingBoard.fill_in`). `load_account_board` does both.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from peewee import fn

from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    AuditEvent,
    Integration,
    PsaCompany,
    PsaProduct,
    ServiceMapping,
    UsageCount,
    VendorAccount,
    VendorService,
)

if TYPE_CHECKING:
    from msp_tui.matching.engine import PreparedPsa

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
    kept_unmapped: bool = False  # the operator unmapped it: the matcher only suggests it
    suggestions: list[tuple[int, float]] = field(default_factory=list)  # best first
    why: dict[int, str] = field(default_factory=dict)  # PSA id -> why it is suggested
    usage: float = 0.0  # the latest count of each of its services, added up (accounts)
    # A match the engine would map on its own (a name inside the other, a near name); the board
    # only suggests it, `msp-tui map accounts --auto` applies it (`MappingBoard.accept_near_autos`).
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


@dataclass
class AccountMatches:
    """What the matcher found for the accounts that were open (unmapped, included) when it
    started; nothing of it is applied yet."""

    exact: list[tuple[int, int, float]] = field(default_factory=list)  # (vendor, PSA, score)
    suggestions: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    near_auto: dict[int, tuple[int, float]] = field(default_factory=dict)
    why: dict[int, dict[int, str]] = field(default_factory=dict)  # vendor -> PSA -> reason


@dataclass(frozen=True)
class FilledIn:
    """What `MappingBoard.fill_in` did."""

    exact: int  # accounts mapped as exact matches (and saved)
    suggested: int  # open accounts that now have suggestions
    left: int  # exact matches not applied: the account was changed meanwhile (now suggested)
    kept: int = 0  # ... or an operator unmapped it before (kept unmapped, suggested)


class MappingBoard:
    def __init__(self, integration: Integration, kind: Kind, operator: str,
                 psa: list[PsaEntry], vendor: list[VendorEntry], *,
                 pending: bool = False) -> None:  # fmt: skip
        self.integration = integration
        self.kind = kind
        self.operator = operator
        self.psa = psa
        self.vendor = vendor
        self.psa_by_id = {p.id: p for p in psa}
        self.vendor_by_id = {v.id: v for v in vendor}
        self.pending = pending
        """The matcher has not filled in yet: no exact matches mapped, no suggestions."""
        self.lock = threading.RLock()
        """Held by every change, and by `fill_in`, which a thread worker may call."""
        self._changed_ids: set[int] = set()  # vendor entries the operator changed
        self._matchable_psa: PreparedPsa | None = None

    def matchable_psa(self) -> PreparedPsa:
        """The PSA side prepared for the matcher, once per board: the matcher's thread makes
        it, and suggesting for one account (after `u`) reuses it instead of spending 50-100
        ms of the UI thread at 5,000 companies."""
        from msp_tui.matching.engine import Party, prepare_psa

        if self._matchable_psa is None:
            parties = [Party(str(p.id), p.label, p.website) for p in self.psa]
            self._matchable_psa = prepare_psa(parties)
        return self._matchable_psa

    # --- reading -------------------------------------------------------------------------------

    def counts(self) -> Counts:
        mapped = sum(1 for v in self.vendor if v.mapped)
        excluded = sum(1 for v in self.vendor if v.excluded and not v.mapped)
        suggested = sum(1 for v in self.vendor if not v.mapped and not v.excluded and v.suggestions)
        used = {p for v in self.vendor for p in v.mapped}
        return Counts(len(self.vendor), mapped, len(self.vendor) - mapped - excluded, suggested,
                      excluded, len(self.psa), len(used))  # fmt: skip

    def vendor_view(self, query: str = "", which: Filter = "all",
                    by_usage: bool = False) -> list[VendorEntry]:  # fmt: skip
        """The vendor rows a filter and a search leave, by name or, `by_usage`, the largest
        usage first (unmapped accounts with the most licences are the revenue at stake)."""
        keep = {
            "all": None,
            "unmapped": lambda v: not v.mapped and not v.excluded,
            "suggested": lambda v: not v.mapped and not v.excluded and bool(v.suggestions),
            "mapped": lambda v: bool(v.mapped),
        }[which]
        rows = self.vendor if keep is None else [v for v in self.vendor if keep(v)]
        rows = _having_words(rows, query)
        if by_usage:
            rows.sort(key=lambda v: -v.usage)  # stable: by name within the same usage
        return rows

    def psa_view(self, query: str = "", which: Filter = "all") -> list[PsaEntry]:
        rows = self.psa
        if which in ("mapped", "unmapped"):
            used = {p for v in self.vendor for p in v.mapped}
            wanted = which == "mapped"
            rows = [p for p in rows if (p.id in used) == wanted]
        return _having_words(rows, query)

    def mapped_vendor_for(self, psa_id: int) -> list[VendorEntry]:
        return [v for v in self.vendor if psa_id in v.mapped]

    # --- changing (each one saved at once) -----------------------------------------------------

    def pair(self, vendor_id: int, psa_id: int, method: str = "manual",
             score: float | None = None) -> None:  # fmt: skip
        entry = self.vendor_by_id[vendor_id]
        if psa_id not in self.psa_by_id:
            raise KeyError(psa_id)
        with self.lock, writing():
            self._changed_ids.add(vendor_id)
            if self.kind == "accounts":
                AccountMapping.delete().where(AccountMapping.vendor_account == vendor_id).execute()
                AccountMapping.create(vendor_account=vendor_id, psa_company=psa_id, method=method,
                                      score=score, operator=self.operator)  # fmt: skip
                VendorAccount.update(excluded=False, kept_unmapped=False).where(
                    VendorAccount.id == vendor_id
                ).execute()
                entry.mapped = {psa_id}
            else:
                ServiceMapping.insert(
                    vendor_service=vendor_id, psa_product=psa_id, method=method,
                    operator=self.operator,
                ).on_conflict_ignore().execute()  # fmt: skip
                VendorService.update(kept_unmapped=False).where(
                    VendorService.id == vendor_id
                ).execute()
                entry.mapped.add(psa_id)
            self._audit("map", entry, psa_id, method)
            entry.method = method
            entry.excluded = entry.kept_unmapped = False

    def unmap(self, vendor_id: int, psa_id: int | None = None) -> None:
        entry = self.vendor_by_id[vendor_id]
        with self.lock:
            self._unmap(entry, psa_id)

    def _unmap(self, entry: VendorEntry, psa_id: int | None) -> None:
        vendor_id = entry.id
        self._changed_ids.add(vendor_id)
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
            if not entry.mapped:  # theirs to map again: opening the board never maps it back
                model = VendorAccount if self.kind == "accounts" else VendorService
                model.update(kept_unmapped=True).where(model.id == vendor_id).execute()
                entry.kept_unmapped = True
            self._audit("unmap", entry, psa_id, None)
        if not entry.mapped:
            entry.method = None
            if self.kind == "accounts" and not entry.suggestions and not self.pending:
                entry.suggestions = self._suggest(entry)  # B10: never "No suggestions" here

    def _suggest(self, entry: VendorEntry) -> list[tuple[int, float]]:
        """Suggestions for one account, as the board gives the unmapped ones when it opens
        (an account mapped then did not need any). While the board is pending, the matcher
        gives them."""
        from msp_tui.matching.engine import Party, match_accounts

        if not self.psa:
            return []
        [decision] = match_accounts([Party(str(entry.id), entry.label)], self.matchable_psa())
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
        account = VendorAccount.id == vendor_id
        with self.lock:
            self._changed_ids.add(vendor_id)
            if excluded and entry.mapped:
                self._unmap(entry, None)
            with writing():
                VendorAccount.update(excluded=excluded).where(account).execute()
                if excluded:  # and not mapped in the store either, whoever mapped it meanwhile
                    mapping = AccountMapping.vendor_account == vendor_id
                    AccountMapping.delete().where(mapping).execute()
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

    def accept_all(self, threshold: float, only: set[int] | None = None) -> int:
        """Map every open row whose top suggestion scores at least `threshold` (of the vendor
        ids in `only`, when given: the rows the operator left ticked). Accounts are mapped in
        one transaction (1,154 of them at 5,000 x 5,000 took 1.6 s one by one); the panel
        calls this from a thread worker. Returns how many were mapped."""
        if self.kind != "accounts":
            chosen = [e for e in self.suggestions_above(threshold) if only is None or e.id in only]
            for entry in chosen:
                self.accept_suggestion(entry.id)
            return len(chosen)
        with self.lock:  # what is open is read under the lock: a change meanwhile waits
            chosen = [(entry, *entry.suggestions[0]) for entry in self.suggestions_above(threshold)
                      if entry.suggestions[0][0] in self.psa_by_id
                      and (only is None or entry.id in only)]  # fmt: skip
            if not chosen:
                return 0
            ids = [entry.id for entry, _, _ in chosen]
            mappings = [{"vendor_account": entry.id, "psa_company": psa_id, "method": "suggested",
                         "score": score, "operator": self.operator}
                        for entry, psa_id, score in chosen]  # fmt: skip
            audits = [{"operator": self.operator, "action": "accounts.map",
                       "subject": f"{self.integration.name}: {entry.label}",
                       "after": {"psa": self.psa_by_id[psa_id].label, "method": "suggested"}}
                      for entry, psa_id, _ in chosen]  # fmt: skip
            with writing():
                for start in range(0, len(ids), 500):  # as `pair`: replaced, never added twice
                    batch = AccountMapping.vendor_account.in_(ids[start : start + 500])
                    AccountMapping.delete().where(batch).execute()
                    VendorAccount.update(kept_unmapped=False).where(
                        VendorAccount.id.in_(ids[start : start + 500])
                    ).execute()
                for start in range(0, len(chosen), 100):
                    AccountMapping.insert_many(mappings[start : start + 100]).execute()
                    AuditEvent.insert_many(audits[start : start + 100]).execute()
            for entry, psa_id, _ in chosen:
                self._changed_ids.add(entry.id)
                entry.mapped, entry.method = {psa_id}, "suggested"
                entry.kept_unmapped = False
        return len(chosen)

    def accept_near_autos(self) -> list[VendorEntry]:
        """Map the accounts the engine decided on its own (a name inside the other, a near name),
        method "auto"; the TUI leaves them as suggestions, the headless `map accounts --auto`
        applies them. Returns the entries mapped."""
        chosen = []
        for entry in self.vendor:
            if (entry.near_auto is not None and not entry.mapped and not entry.excluded
                    and not entry.kept_unmapped):  # fmt: skip
                psa_id, score = entry.near_auto
                self.pair(entry.id, psa_id, "auto", score)
                chosen.append(entry)
        return chosen

    def fill_in(self, found: AccountMatches) -> FilledIn:
        """Apply what the matcher found: save the exact matches of the accounts still open
        and untouched, in one transaction, and give the open accounts their suggestions.

        The operator may have worked on the board since the matcher started (a thread
        worker runs it): an account they mapped, unmapped, excluded or took back in keeps
        what they did, and its exact match is only suggested (score 100). So is one that
        another process has mapped or excluded in the store meanwhile, and the board shows
        what the store says. Holds the board's lock: a change made meanwhile waits for it (the
        saving of the exact matches: 0.2-0.4 s for 3,000 of them, mostly peewee building the
        inserts), and the two never interleave."""
        with self.lock:
            with writing():
                # In the transaction: what the store says now, whoever wrote it.
                integration = VendorAccount.integration == self.integration
                stored = {
                    vendor_id: (psa_id, method)
                    for vendor_id, psa_id, method in AccountMapping.select(
                        AccountMapping.vendor_account, AccountMapping.psa_company,
                        AccountMapping.method,
                    )
                    .join(VendorAccount)
                    .where(integration)
                    .tuples()
                }  # fmt: skip
                excluded = {
                    id
                    for (id,) in VendorAccount.select(VendorAccount.id)
                    .where(integration & VendorAccount.excluded)
                    .tuples()
                }
                rows, left, kept = [], 0, 0
                for vendor_id, psa_id, score in found.exact:
                    entry = self.vendor_by_id.get(vendor_id)
                    if entry is None or psa_id not in self.psa_by_id:
                        continue
                    changed = vendor_id in self._changed_ids or bool(entry.mapped) or entry.excluded
                    if entry.kept_unmapped and not changed and vendor_id not in stored:
                        kept += 1
                        found.suggestions.setdefault(vendor_id, [(psa_id, score)])
                        continue
                    if not changed and vendor_id not in stored and vendor_id not in excluded:
                        rows.append((entry, psa_id, score))
                        continue
                    left += 1
                    found.suggestions.setdefault(vendor_id, [(psa_id, score)])
                    if not changed:  # another process got there first: show what it did
                        mapped = stored.get(vendor_id)
                        if mapped and mapped[0] in self.psa_by_id:
                            entry.mapped, entry.method = {mapped[0]}, mapped[1]
                        entry.excluded = vendor_id in excluded
                self._save_exact(rows)
            for vendor_id, suggestions in found.suggestions.items():
                entry = self.vendor_by_id.get(vendor_id)
                if entry is not None and not entry.suggestions:
                    entry.suggestions = [(p, s) for p, s in suggestions if p in self.psa_by_id]
                    entry.why = found.why.get(vendor_id, {})
            for vendor_id, near in found.near_auto.items():
                if vendor_id in self.vendor_by_id:
                    self.vendor_by_id[vendor_id].near_auto = near
            self.pending = False
            # Accounts unmapped meanwhile were left without suggestions (see `_unmap`).
            for vendor_id in self._changed_ids:
                entry = self.vendor_by_id[vendor_id]
                if not entry.mapped and not entry.excluded and not entry.suggestions:
                    entry.suggestions = self._suggest(entry)
            suggested = sum(
                1 for v in self.vendor if not v.mapped and not v.excluded and v.suggestions
            )
        return FilledIn(len(rows), suggested, left, kept)

    def _save_exact(self, found: list[tuple[VendorEntry, int, float]]) -> None:
        """In the caller's transaction."""
        if not found:
            return
        rows = [
            {"vendor_account": entry.id, "psa_company": psa_id, "method": "exact", "score": score,
             "operator": self.operator}
            for entry, psa_id, score in found
        ]  # fmt: skip
        for start in range(0, len(rows), 100):
            AccountMapping.insert_many(rows[start : start + 100]).on_conflict_ignore().execute()
        AuditEvent.create(operator=self.operator, action="accounts.auto_map",
                          subject=self.integration.name, after={"exact": len(rows)})  # fmt: skip
        for entry, psa_id, _ in found:
            entry.mapped, entry.method = {psa_id}, "exact"

    def _audit(
        self, action: str, entry: VendorEntry, psa_id: int | None, method: str | None
    ) -> None:
        psa = self.psa_by_id.get(psa_id) if psa_id is not None else None
        AuditEvent.create(
            operator=self.operator, action=f"{self.kind}.{action}",
            subject=f"{self.integration.name}: {entry.label}",
            after={"psa": psa.label, "method": method} if psa else None,
        )  # fmt: skip


def _having_words(rows: list, query: str) -> list:
    """The rows whose search text holds every word of `query`, one word at a time: a keystroke
    in a 5,000-row board's search is one comprehension of `in` tests (1-2 ms), not a function
    call and a generator per row (17 ms). Always a new list."""
    rows = list(rows)
    for word in query.lower().split():
        rows = [row for row in rows if word in row.search]
    return rows


# --- loading -----------------------------------------------------------------------------------


def _psa_companies() -> list[PsaEntry]:
    columns = (PsaCompany.id, PsaCompany.name, PsaCompany.identifier, PsaCompany.website)
    rows = PsaCompany.select(*columns).where(~PsaCompany.deleted).order_by(PsaCompany.name).tuples()
    return [
        PsaEntry(id, name, identifier, f"{name} {identifier} {website or ''}".lower(), website)
        for id, name, identifier, website in rows
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


def read_account_board(integration: Integration, operator: str) -> MappingBoard:
    """The accounts board as the store has it: both lists and the saved mappings, quickly
    (tuples, no model objects). It is `pending` when the matcher has open accounts to look
    at: `match_account_board` then maps the exact matches and fills in the suggestions."""
    psa = _psa_companies()
    columns = (VendorAccount.id, VendorAccount.name, VendorAccount.domain,
               VendorAccount.external_id, VendorAccount.excluded,
               VendorAccount.kept_unmapped)  # fmt: skip
    accounts = (
        VendorAccount.select(*columns)
        .where(VendorAccount.integration == integration)
        .order_by(VendorAccount.name)
        .tuples()
    )
    existing = {
        vendor_id: (psa_id, method)
        for vendor_id, psa_id, method in AccountMapping.select(
            AccountMapping.vendor_account, AccountMapping.psa_company, AccountMapping.method
        )
        .join(VendorAccount)
        .where(VendorAccount.integration == integration)
        .tuples()
    }
    usage = account_usage(integration)
    vendor = []
    for id, name, domain, external_id, excluded, kept_unmapped in accounts:
        mapped = existing.get(id)
        vendor.append(
            VendorEntry(
                id,
                name,
                domain or external_id,
                f"{name} {domain or ''} {external_id}".lower(),
                mapped={mapped[0]} if mapped else set(),
                method=mapped[1] if mapped else None,
                excluded=bool(excluded),
                kept_unmapped=bool(kept_unmapped),
            )
        )
    for entry in vendor:
        entry.usage = usage.get(entry.id, 0.0)
    pending = bool(psa) and any(not v.mapped and not v.excluded for v in vendor)
    return MappingBoard(integration, "accounts", operator, psa, vendor, pending=pending)


def account_usage(integration: Integration) -> dict[int, float]:
    """Each account's latest count of each service, added up: what the vendor bills for it."""
    latest = (
        UsageCount.select(fn.MAX(UsageCount.id))
        .join(VendorAccount)
        .where(VendorAccount.integration == integration)
        .group_by(UsageCount.account, UsageCount.service)
    )
    rows = (
        UsageCount.select(UsageCount.account, fn.SUM(UsageCount.quantity))
        .join(VendorAccount)
        .where(UsageCount.id.in_(latest) & (VendorAccount.integration == integration))
        .group_by(UsageCount.account)
        .tuples()
    )
    return {account: float(total or 0) for account, total in rows}


def find_account_matches(board: MappingBoard) -> AccountMatches:
    """Run the matcher over the board's open accounts (the slow part: safe in a thread; it
    reads the store and the board, and changes neither)."""
    from msp_tui.matching.engine import Party, match_accounts

    with board.lock:
        open_entries = [(v.id, v.label) for v in board.vendor if not v.mapped and not v.excluded]
        others = [v.label for v in board.vendor if v.mapped]
    found = AccountMatches()
    if not open_entries or not board.psa:
        return found
    decisions = match_accounts(
        [Party(str(id), label) for id, label in open_entries],
        board.matchable_psa(),
        prior=_prior_mappings(board.integration),
        others=others,
    )
    for (vendor_id, _), decision in zip(open_entries, decisions, strict=True):
        if decision.decision == "auto" and decision.reason in AUTO_REASONS:
            found.exact.append((vendor_id, int(decision.psa_id), decision.score))
        elif decision.decision == "auto":  # not an exact match: only ever a suggestion here
            top = (int(decision.psa_id), decision.score)
            found.suggestions[vendor_id] = [top]
            found.near_auto[vendor_id] = top
            found.why[vendor_id] = {top[0]: f"{decision.reason}, safe to map"}
        elif decision.suggestions:
            found.suggestions[vendor_id] = [(int(s.psa_id), s.score) for s in decision.suggestions]
            found.why[vendor_id] = {int(s.psa_id): s.reason for s in decision.suggestions}
    return found


def match_account_board(board: MappingBoard) -> FilledIn:
    """Find the matches and fill them in (see `MappingBoard.fill_in`); for a thread worker."""
    return board.fill_in(find_account_matches(board))


def load_account_board(integration: Integration, operator: str) -> MappingBoard:
    """The accounts board, matched: the first time, exact matches are mapped and saved."""
    board = read_account_board(integration, operator)
    if board.pending:
        match_account_board(board)
    return board


def load_service_board(integration: Integration, operator: str) -> MappingBoard:
    """The services board: SKUs beside catalog products, with name-based suggestions."""
    psa = _psa_products()
    services = list(
        VendorService.select()
        .where(VendorService.integration == integration)
        .order_by(VendorService.name)
    )
    existing: dict[int, set[int]] = {}
    methods: dict[int, str] = {}  # "exact" only when every product of it was mapped so
    for m in (
        ServiceMapping.select().join(VendorService).where(VendorService.integration == integration)
    ):
        existing.setdefault(m.vendor_service_id, set()).add(m.psa_product_id)
        methods[m.vendor_service_id] = (
            m.method if methods.get(m.vendor_service_id, m.method) == m.method else "manual"
        )
    vendor = []
    for s in services:
        entry = VendorEntry(s.id, s.name, s.description or s.external_id,
                            f"{s.name} {s.description or ''} {s.external_id}".lower(),
                            mapped=existing.get(s.id, set()), method=methods.get(s.id),
                            kept_unmapped=s.kept_unmapped)  # fmt: skip
        entry.suggestions = _product_suggestions(s.name, psa)
        vendor.append(entry)
    board = MappingBoard(integration, "services", operator, psa, vendor)
    _map_identical_services(board, services)
    return board


def _map_identical_services(board: MappingBoard, services: list[VendorService]) -> None:
    """Map each unmapped service whose name or id is a PSA product's identifier or
    description, written the same way (case, spacing and punctuation aside), when exactly one
    product is: as accounts with equal names are."""
    from msp_tui.matching.normalize import normalize_name

    def same(text: str | None) -> str:
        return normalize_name(text).full_squash if text else ""

    products: dict[str, set[int]] = {}
    for p in board.psa:
        for text in (p.label, p.detail):
            if same(text):
                products.setdefault(same(text), set()).add(p.id)
    found = []
    for service, entry in zip(services, board.vendor, strict=True):
        if entry.mapped or entry.kept_unmapped:  # unmapped by an operator: theirs to map again
            continue
        names = (service.name, service.external_id)
        ids = set().union(*(products.get(same(text), set()) for text in names))
        if len(ids) == 1:
            found.append((entry, ids.pop()))
    if not found:
        return
    with writing():
        for entry, psa_id in found:
            row = {"vendor_service": entry.id, "psa_product": psa_id, "method": "exact",
                   "operator": board.operator}  # fmt: skip
            ServiceMapping.insert(row).on_conflict_ignore().execute()
            entry.mapped, entry.method = {psa_id}, "exact"
            entry.suggestions = [(psa_id, 100.0)]
        AuditEvent.create(operator=board.operator, action="services.auto_map",
                          subject=board.integration.name, after={"exact": len(found)})  # fmt: skip


def _product_suggestions(name: str, psa: list[PsaEntry], limit: int = 3) -> list[tuple[int, float]]:
    from rapidfuzz import fuzz, process

    from msp_tui.matching.normalize import normalize_name

    if not psa:
        return []
    key = normalize_name(name).key
    found = process.extract(key, [p.search for p in psa], scorer=fuzz.partial_ratio,
                            limit=limit, score_cutoff=70)  # fmt: skip
    return [(psa[i].id, round(score, 1)) for _, score, i in found]
