"""Reconcile: the vendor's quantity beside the PSA's, for every mapped company and product.

One PairingList (a line-API list, so 20,000 lines open and page as fast as 20) holds group
headings and lines; a detail pane under it says where the highlighted line's numbers come from.
Decisions go to the store first (msp_tui.writeback.decide) and the app's outbox worker writes
them to the PSA; handled lines leave the list for the period (msp_tui.reconcile.is_handled).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from msp_tui.operator import current_operator
from msp_tui.reconcile import (
    FILTERS,
    STATUS_TITLES,
    TO_REVIEW,
    Group,
    GroupBy,
    ReconciliationLine,
    SortBy,
    arrange,
    is_handled,
    line_vendors,
    needs_a_look,
    reconciliation_lines,
    with_decisions,
)
from msp_tui.sources import PsaWords, psa_words
from msp_tui.store.models import PsaAgreement
from msp_tui.writeback import (
    DecisionError,
    agreement_choices,
    agreement_lines,
    current_period,
    decide,
    needs_new_line,
)
from screens.footer import Footer
from screens.indicator import AppHeader
from screens.pairing import PairingList
from screens.shown import plain, shown
from screens.wizard import ConfirmModal

ARRANGE_IN_THREAD_FROM = 2_000  # lines; fewer are arranged at once, in well under a frame

RECONCILE_HELP = """\
## Reconcile
Every mapped company and product: what the vendor counts beside what the PSA {agreement} bills.

- **a** approves (PSA := vendor); **e** adjusts (your quantity and effective date);
  **d** dismisses the line for this billing period. Decisions are saved at once and written to
  {psa} in the background; the line then leaves the list until a sync changes its
  numbers. New revenue asks which {agreement} gets the new line.
- **space** selects a line (on a heading: all of its lines); **x** selects every line shown,
  or clears the selection. With lines selected, **a** and **d** act on all of them after a
  confirmation that shows the total revenue change.
- **f** picks the filter from a short list: to review (everything but no change), handled
  this period, all, or one status. **v** cycles the vendor. **/** searches company, product
  and account names.
- **g** groups by company or by product; **i** sorts by revenue impact (largest first, gains
  and losses alike) or by name.
- **p** writes waiting decisions now (and retries failed ones); **r** reads everything again.

Statuses: New revenue (the vendor counts it, the PSA bills nothing), Reconcile (they differ),
No change, No vendor data (`-`: billed, not counted), Unmapped (counted, not mapped: map it so
the number reaches zero), Stale (billed on a cancelled {agreement}). A conflict means the PSA
changed after you saw it: nothing was overwritten; decide again.
"""


def reconcile_help(words: PsaWords) -> str:
    return RECONCILE_HELP.format(psa=words.psa, agreement=words.agreement)


COLUMNS = ((8, "Vendor"), (8, "PSA"), (8, "Change"), (12, "Impact"), (14, "Status"))
STATUS_WIDTH = COLUMNS[-1][0]  # "No vendor data", the longest status, whole
STATUS_STYLES = {
    "new_revenue": "$success",
    "reconcile": "$warning",
    "no_change": "$text-muted",
    "no_vendor_data": "$text-muted",
    "unmapped": "$error",
    "stale": "$error",
}
DECISION_TITLES = {"approve": "Approved", "adjust": "Adjusted", "dismiss": "Dismissed"}


def quantity(value: Decimal | None) -> str:
    if value is None:
        return "-"
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value.normalize():,f}"


def money(value: Decimal) -> str:
    return f"{value:+,.2f}" if value else "0.00"


def status_label(line: ReconciliationLine) -> tuple[str, str]:
    """What the status column says, and its colour."""
    decision = line.decision
    if decision is not None and needs_a_look(line):
        return decision.state.title(), "$error"
    if decision is not None and is_handled(line):
        label = DECISION_TITLES.get(decision.action, decision.action)
        return (label + ("…" if decision.state == "pending" else ""), "$text-muted")
    return STATUS_TITLES[line.status], STATUS_STYLES[line.status]


def _cells(values: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        (text.rjust(width) + " ", style)
        for (width, _), (text, style) in zip(COLUMNS, values, strict=True)
    ]


def column_heading(width: int, group_by: GroupBy) -> Content:
    name = "  Product" if group_by == "company" else "  Company"
    right = "".join(title.rjust(w) + " " for w, title in COLUMNS)
    return Content(name.ljust(max(0, width - len(right))) + right).truncate(width)


class ReconcileList(PairingList):
    """The table: group headings and lines."""

    BINDINGS = [
        Binding("enter", "select", "Select", id="reconcile_list.select", show=False,
                tooltip="Nothing: a, e and d act on the highlighted line."),
    ]  # fmt: skip


class AdjustModal(ModalScreen[tuple[Decimal, date] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="adjust.cancel", tooltip="Leave it.")]

    def __init__(self, line: ReconciliationLine) -> None:
        super().__init__()
        self.line = line

    def compose(self) -> ComposeResult:
        line = self.line
        start = line.vendor_quantity if line.vendor_quantity is not None else line.psa_quantity
        with Vertical(id="adjust-dialog", classes="dialog"):
            yield Static(
                f"[b]Adjust {shown(line.company_name)} / "
                f"{shown(line.product_identifier)}[/b]\nVendor {quantity(line.vendor_quantity)}"
                f" · PSA {quantity(line.psa_quantity)}"
            )
            yield Label("Quantity for the PSA")
            yield Input(quantity(start or Decimal(0)).replace(",", ""), id="adjust-quantity")
            yield Label("Effective date (YYYY-MM-DD)")
            yield Input(date.today().isoformat(), id="adjust-date")
            yield Static("", id="adjust-error", classes="error-text")
            with Horizontal(classes="buttons"):
                yield Button("Adjust (enter)", id="adjust-ok", variant="primary")
                yield Button("Cancel (esc)", id="adjust-cancel")

    @on(Input.Submitted)
    @on(Button.Pressed, "#adjust-ok")
    def submit(self) -> None:
        error = self.query_one("#adjust-error", Static)
        text = self.query_one("#adjust-quantity", Input).value.strip().replace(",", "")
        try:
            value = Decimal(text)
            if not value.is_finite() or value < 0:
                raise InvalidOperation
        except InvalidOperation:
            error.update("The quantity must be a number, 0 or more.")
            self.query_one("#adjust-quantity", Input).focus()
            return
        try:
            when = date.fromisoformat(self.query_one("#adjust-date", Input).value.strip())
        except ValueError:
            error.update("The effective date must look like 2026-11-01.")
            self.query_one("#adjust-date", Input).focus()
            return
        self.dismiss((value, when))

    @on(Button.Pressed, "#adjust-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class AgreementModal(ModalScreen[PsaAgreement | None]):
    """New revenue: which agreement gets the new line."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="agreement.cancel", tooltip="Leave it.")]

    def __init__(self, line: ReconciliationLine, choices: list[PsaAgreement]) -> None:
        super().__init__()
        self.line, self.choices = line, choices
        self.words = psa_words()

    def compose(self) -> ComposeResult:
        line = self.line
        with Vertical(id="agreement-dialog", classes="dialog"):
            yield Static(
                f"[b]Add {quantity(line.vendor_quantity)} of "
                f"{shown(line.product_identifier)} for {shown(line.company_name)}"
                f"[/b]\nChoose the {self.words.agreement} that gets the new line (enter), or esc."
            )
            yield OptionList(
                *(
                    Option(f"{shown(a.name)} (#{a.external_id})", id=str(i))
                    for i, a in enumerate(self.choices)
                ),
                id="agreement-list",
            )

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterPicker(ModalScreen[str | None]):
    """f: which lines to show, from a short list (the current one highlighted)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="filter.cancel", tooltip="Keep it.")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-dialog", classes="dialog"):
            yield Static("[b]Show which lines?[/b] (enter picks, esc keeps the filter)")
            yield OptionList(*(Option(title, id=key) for key, title in FILTERS.items()),
                             id="filter-list")  # fmt: skip

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = list(FILTERS).index(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReconcileScreen(Screen):
    HELP = RECONCILE_HELP.format(psa="the PSA", agreement="agreement")
    BINDINGS = [
        Binding(
            "a",
            "approve",
            "Approve",
            id="reconcile.approve",
            tooltip="PSA := vendor for the line (or the selected lines).",
        ),
        Binding(
            "e",
            "adjust",
            "Adjust",
            id="reconcile.adjust",
            tooltip="Set the PSA quantity and effective date yourself.",
        ),
        Binding(
            "d",
            "dismiss_lines",
            "Dismiss",
            id="reconcile.dismiss",
            tooltip="Leave the line (or the selected lines) alone this period.",
        ),
        Binding(
            "space",
            "select_line",
            "Select",
            id="reconcile.select",
            tooltip="Select the line, or every line under a heading.",
        ),
        Binding(
            "x",
            "select_all",
            "All",
            id="reconcile.select_all",
            show=False,
            tooltip="Select every line shown, or clear the selection.",
        ),
        Binding(
            "f",
            "pick_filter",
            "Filter",
            id="reconcile.filter",
            tooltip="To review, handled, all, or one status.",
        ),
        Binding(
            "v",
            "cycle_vendor",
            "Vendor",
            id="reconcile.vendor",
            show=False,
            tooltip="Show one vendor integration's lines, or all.",
        ),
        Binding(
            "g",
            "toggle_group",
            "Group",
            id="reconcile.group",
            tooltip="Group by company or by product.",
        ),
        Binding(
            "i",
            "toggle_sort",
            "Sort",
            id="reconcile.sort",
            show=False,
            tooltip="Sort by revenue impact or by name.",
        ),
        Binding(
            "slash",
            "search",
            "Search",
            id="reconcile.search",
            key_display="/",
            tooltip="Find companies, products or accounts.",
        ),
        Binding(
            "p",
            "push",
            "Push",
            id="reconcile.push",
            show=False,
            tooltip="Write waiting decisions to the PSA now; retry failed ones.",
        ),
        Binding(
            "r",
            "reload",
            "Refresh",
            id="reconcile.reload",
            show=False,
            tooltip="Read the lines again.",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            id="reconcile.back",
            tooltip="Clear the search, or go back home.",
        ),
    ]

    def __init__(self, which: str = TO_REVIEW) -> None:
        super().__init__()
        self.lines: list[ReconciliationLine] = []
        self.which = which if which in FILTERS else TO_REVIEW
        self.integration: str | None = None
        self.group_by: GroupBy = "company"
        self.sort_by: SortBy = "name"
        self.selected: set[tuple[int | None, int | None]] = set()
        self.integrations: list[str] = []
        self.waiting = self.trouble = 0  # decisions pending, and conflicts or failed pushes
        self.reads = 0  # reads of the lines asked for; `loaded` counts those shown
        self.loaded = 0
        self._arranging = self._arranged = 0  # the same for arranging them in a thread
        self.words = psa_words()
        self.HELP = reconcile_help(self.words)  # in the PSA's words (screens/help.py)

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("", id="reconcile-status")
        yield Input(
            placeholder="search companies, products, accounts",
            id="reconcile-search",
            classes="-hidden",
        )
        yield Static("", id="reconcile-columns")
        yield ReconcileList(self.format_row, id="reconcile-list")
        yield Static("", id="reconcile-detail")
        yield Footer()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_columns)

    def _show_columns(self) -> None:
        width = self.query_one(ReconcileList).scrollable_content_region.width
        self.query_one("#reconcile-columns", Static).update(column_heading(width, self.group_by))

    def on_mount(self) -> None:
        self.app.data_seen()
        self.query_one("#reconcile-status", Static).update("Reading the lines…")
        self.load()
        self.query_one(ReconcileList).focus()
        self.watch(self.app, "outbox_rounds", self.outbox_round, init=False)

    # --- reading -------------------------------------------------------------------------------

    class Loaded(Message):
        def __init__(self, lines: list[ReconciliationLine], number: int) -> None:
            super().__init__()
            self.lines, self.number = lines, number

    def load(self) -> None:
        """Read every line and this period's decisions (most of a second at 20,000 lines, so in
        a thread); the lines shown stay until the new ones land."""
        self.reads += 1
        self.read_lines(self.reads)

    @work(exclusive=True, group="reconcile-read", thread=True, description="reconcile-read")
    def read_lines(self, number: int) -> None:
        self.post_message(self.Loaded(with_decisions(reconciliation_lines(), current_period()),
                                      number))  # fmt: skip

    def on_reconcile_screen_loaded(self, message: Loaded) -> None:
        if message.number != self.reads:  # an older read, overtaken by a newer one
            return
        self.lines = message.lines
        self.integrations = sorted({name for line in self.lines for name in line_vendors(line)})
        keys = {line.key for line in self.lines}
        self.selected &= keys
        # Counted once per read, not on every key that redraws the status line.
        decisions = [line.decision for line in self.lines if line.decision is not None]
        self.waiting = sum(1 for decision in decisions if decision.state == "pending")
        self.trouble = sum(1 for line in self.lines if needs_a_look(line))
        self.show()
        self.loaded = message.number

    @property
    def settled(self) -> bool:
        """The latest read of the lines is shown, arranged as last asked."""
        return self.loaded == self.reads and self._arranged == self._arranging

    def show(self) -> None:
        """Filter, group and sort the lines into rows and show them. From ARRANGE_IN_THREAD_FROM
        lines that takes longer than a frame (a quarter of a second at 20,000, sorted by
        impact), so it runs in a thread and the rows shown stay until the new ones land."""
        settings = {
            "which": self.which,
            "integration": self.integration,
            "query": self.query_one("#reconcile-search", Input).value,
            "group_by": self.group_by,
            "sort_by": self.sort_by,
        }
        if len(self.lines) < ARRANGE_IN_THREAD_FROM:
            self._show_rows(arrange(self.lines, **settings))
            return
        self._arranging += 1
        self.arrange_rows(self.lines, settings, self._arranging)

    class Arranged(Message):
        def __init__(self, rows: list, number: int) -> None:
            super().__init__()
            self.rows, self.number = rows, number

    # Every worker here is given a description: without one Textual writes one from the repr()
    # of each argument, which for 20,000 lines cost the UI thread more than the work it moved.
    @work(exclusive=True, group="reconcile-arrange", thread=True, description="reconcile-arrange")
    def arrange_rows(self, lines: list[ReconciliationLine], settings: dict, number: int) -> None:
        self.post_message(self.Arranged(arrange(lines, **settings), number))

    def on_reconcile_screen_arranged(self, message: Arranged) -> None:
        if message.number == self._arranging:  # else a newer arrangement is on its way
            self._arranged = message.number
            self._show_rows(message.rows)

    def _show_rows(self, rows: list) -> None:
        table = self.query_one(ReconcileList)
        table.set_rows(rows)
        if isinstance(table.highlighted_item, Group) and len(rows) > 1:
            table.move_cursor(table.cursor + 1)  # land on a line, not a heading
        self._show_status(rows)
        self._show_detail(table.highlighted_item)

    def _show_status(self, rows: list) -> None:
        count = sum(1 for row in rows if isinstance(row, ReconciliationLine))
        parts = [
            f"[b]{FILTERS[self.which]}[/b]",
            self.integration or "every vendor",
            f"by {'company' if self.group_by == 'company' else 'product'}",
            f"sorted by {self.sort_by}",
            f"{count:,} line{'s' * (count != 1)}",
        ]
        if self.selected:
            chosen = [line for line in self.lines if line.key in self.selected]
            impact = sum((line.impact for line in chosen), Decimal(0))
            parts.append(f"[b]{len(chosen)} selected ({money(impact)})[/b]")
        if self.waiting:
            parts.append(f"{self.waiting} waiting to be written")
        if self.trouble:
            parts.append(f"[$error]{self.trouble} need a look[/]")
        self.query_one("#reconcile-status", Static).update(" · ".join(parts))
        self._show_columns()

    def format_row(self, row: Group | ReconciliationLine, width: int) -> Content:
        if isinstance(row, Group):
            mark = "■ " if all(line.key in self.selected for line in row.lines) else "▸ "
            right = f"{len(row.lines)} line{'s' * (len(row.lines) != 1)}  {money(row.impact)}"
            left = (mark + plain(row.title))[: max(1, width - len(right) - 1)]
            return Content.assemble((left.ljust(width - len(right)), "bold"), (right, "bold"))
        name = row.product_identifier if self.group_by == "company" else row.company_name
        if row.status == "unmapped":
            name = f"{row.company_name}: {row.product_identifier}"
        name = plain(name)
        mark = "■ " if row.key in self.selected and row.company_id is not None else "  "
        status, style = status_label(row)
        change = row.change if row.status not in ("no_vendor_data", "unmapped") else None
        cells = _cells(
            [
                (quantity(row.vendor_quantity), ""),
                (quantity(row.psa_quantity), ""),
                ("-" if change is None else (f"{change:+,}" if change else "0"), ""),
                (
                    money(row.impact),
                    "$success" if row.impact > 0 else ("$error" if row.impact < 0 else ""),
                ),
                (status[:STATUS_WIDTH], style),
            ]
        )
        room = max(1, width - sum(len(text) for text, _ in cells) - 2)
        label = name if len(name) <= room else name[: room - 1] + "…"
        return Content.assemble(mark, label.ljust(room), *cells)

    @on(PairingList.Highlighted, "#reconcile-list")
    def highlighted(self, event: PairingList.Highlighted) -> None:
        self._show_detail(event.item)

    def _show_detail(self, row: Group | ReconciliationLine | None) -> None:
        detail = self.query_one("#reconcile-detail", Static)
        if row is None:
            detail.update(
                "Nothing to show here. [b]f[/b] changes the filter; the lines come "
                "from synced counts and mapped accounts and services."
            )
            return
        if isinstance(row, Group):
            detail.update(
                f"[b]{shown(row.title)}[/b]: {len(row.lines)} line{'s' * (len(row.lines) != 1)},"
                " revenue change "
                f"{money(row.impact)}. [b]space[/b] selects them all."
            )
            return
        detail.update(describe(row))

    # --- selecting -----------------------------------------------------------------------------

    def action_select_line(self) -> None:
        table = self.query_one(ReconcileList)
        row = table.highlighted_item
        if row is None:
            return
        lines = row.lines if isinstance(row, Group) else [row]
        keys = {line.key for line in lines if line.company_id is not None}
        if not keys:
            self.notify("Unmapped lines cannot be approved: map the account or service first.")
            return
        if keys <= self.selected:
            self.selected -= keys
        else:
            self.selected |= keys
        table.refresh_rows()
        if not isinstance(row, Group):
            table.action_cursor_down()
        self._show_status(list(table.rows))

    def action_select_all(self) -> None:
        table = self.query_one(ReconcileList)
        if self.selected:
            self.selected.clear()
        else:
            self.selected = {
                row.key
                for row in table.rows
                if isinstance(row, ReconciliationLine) and row.company_id is not None
            }
        table.refresh_rows()
        self._show_status(list(table.rows))

    def _targets(self) -> list[ReconciliationLine]:
        if self.selected:
            return [line for line in self.lines if line.key in self.selected]
        row = self.query_one(ReconcileList).highlighted_item
        if isinstance(row, Group):
            if len(row.lines) == 1:  # a company with one line: the heading stands for it
                return list(row.lines)
            self.notify("On a heading: press space to select its lines, then act on them.")
            return []
        return [row] if row is not None else []

    # --- deciding ------------------------------------------------------------------------------

    def _decide(
        self,
        lines: list[ReconciliationLine],
        action: str,
        problems: list[str] | None = None,
        agreements: dict[tuple, PsaAgreement] | None = None,
        **options,
    ) -> None:
        """Store `action` for each line (its agreement from `agreements` when given), say what
        could not be decided, and start the outbox on what was. The store is written on the
        app's writer thread, in the order the operator decided."""
        self.store_decisions(lines, action, list(problems or []), agreements, options)

    class Decided(Message):
        def __init__(self, made: dict[tuple, object], problems: list[str]) -> None:
            super().__init__()
            self.made, self.problems = made, problems

    @work(group="reconcile-decide", description="reconcile-decide")
    async def store_decisions(self, lines, action, problems, agreements, options) -> None:
        operator = current_operator()

        def store() -> dict[tuple, object]:
            made = {}
            for line in lines:
                if agreements is not None:
                    options["agreement"] = agreements.get(line.key)
                try:
                    made[line.key] = decide(line, action, operator, **options)
                except DecisionError as exc:
                    problems.append(f"{line.company_name} / {line.product_identifier}: {exc}")
            return made

        self.post_message(self.Decided(await self.app.work.call(store), problems))

    def on_reconcile_screen_decided(self, message: Decided) -> None:
        for line in self.lines:
            if line.key in message.made:
                line.decision = message.made[line.key]
        for problem in message.problems[:3]:
            self.notify(problem, severity="warning", timeout=8)
        if message.made:
            self.selected.clear()
            self.app.push_outbox()
        self.show()

    def action_approve(self) -> None:
        lines = self._targets()
        if not lines:
            return
        if len(lines) == 1 and not self.selected:
            self._approve_one(lines[0])
            return
        ready, problems = [], []
        agreements: dict[tuple, PsaAgreement] = {}
        for line in lines:
            if line.vendor_quantity is None or line.status == "no_change":
                problems.append(
                    f"{line.company_name} / {line.product_identifier}: nothing to approve"
                )
                continue
            if needs_new_line(line):
                choices = agreement_choices(line.company_id)
                if len(choices) != 1:
                    problems.append(
                        f"{line.company_name}: {len(choices)} live {self.words.agreement}s; "
                        "approve its new line on its own to choose"
                    )
                    continue
                agreements[line.key] = choices[0]
            ready.append(line)
        if not ready:
            self._decide([], "approve", problems or ["Nothing to approve."])
            return
        impact = sum((line.impact for line in ready), Decimal(0))
        question = (
            f"Approve {len(ready)} line{'s' * (len(ready) != 1)}: the PSA takes the "
            f"vendor's quantity.\nRevenue change: [b]{money(impact)}[/b] per period."
        )
        if problems:
            question += f"\n{len(problems)} selected line(s) are left out: {problems[0]}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._decide(ready, "approve", problems, agreements)

        self.app.push_screen(ConfirmModal(question), answered)

    def _approve_one(self, line: ReconciliationLine) -> None:
        if line.status == "unmapped":
            self.notify(
                "Map this vendor account or service first (open its integration on the "
                "home screen, then m).",
                severity="warning",
            )
            return
        if line.status != "no_change" and needs_new_line(line):
            choices = agreement_choices(line.company_id)
            if not choices:
                self.notify(
                    f"{line.company_name} has no live {self.words.agreement}: add one in"
                    f" {self.words.psa}, then sync.",
                    severity="warning",
                )
                return

            def chosen(agreement: PsaAgreement | None) -> None:
                if agreement is not None:
                    self._decide([line], "approve", agreement=agreement)

            self.app.push_screen(AgreementModal(line, choices), chosen)
            return
        self._decide([line], "approve")

    def action_adjust(self) -> None:
        row = self.query_one(ReconcileList).highlighted_item
        if not isinstance(row, ReconciliationLine):
            return
        if row.status == "unmapped":
            self.notify("Map this vendor account or service first.", severity="warning")
            return
        choices = agreement_choices(row.company_id) if needs_new_line(row) else []

        def adjusted(answer: tuple[Decimal, date] | None) -> None:
            if answer is None:
                return
            value, when = answer
            if choices:
                self.app.push_screen(
                    AgreementModal(row, choices), lambda a: a and self._adjust(row, value, when, a)
                )
            else:
                self._adjust(row, value, when, None)

        self.app.push_screen(AdjustModal(row), adjusted)

    def _adjust(self, line, value: Decimal, when: date, agreement) -> None:
        self._decide([line], "adjust", quantity=value, effective_date=when, agreement=agreement)

    def action_dismiss_lines(self) -> None:
        lines = [line for line in self._targets() if line.company_id is not None]
        if not lines:
            return
        if len(lines) == 1 and not self.selected:
            self._decide(lines, "dismiss")
            return
        impact = sum((line.impact for line in lines), Decimal(0))
        question = (
            f"Dismiss {len(lines)} line{'s' * (len(lines) != 1)} for this period?"
            " Revenue change left undone: "
            f"[b]{money(impact)}[/b]. They come back if a sync changes their numbers."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._decide(lines, "dismiss")

        self.app.push_screen(ConfirmModal(question), answered)

    # --- viewing -------------------------------------------------------------------------------

    def action_pick_filter(self) -> None:
        def picked(which: str | None) -> None:
            if which is not None:
                self.set_filter(which)

        self.app.push_screen(FilterPicker(self.which), picked)

    def set_filter(self, which: str) -> None:
        self.which = which
        self.show()

    def action_cycle_vendor(self) -> None:
        choices: list[str | None] = [None, *self.integrations]
        self.integration = choices[(choices.index(self.integration) + 1) % len(choices)]
        self.show()

    def action_toggle_group(self) -> None:
        self.group_by = "service" if self.group_by == "company" else "company"
        self.show()

    def action_toggle_sort(self) -> None:
        self.sort_by = "impact" if self.sort_by == "name" else "name"
        self.show()

    def action_search(self) -> None:
        search = self.query_one("#reconcile-search", Input)
        search.remove_class("-hidden")
        self.set_focus(search)  # at once: the keys typed right after / are the search's

    @on(Input.Changed, "#reconcile-search")
    def searched(self) -> None:
        self.show()

    @on(Input.Submitted, "#reconcile-search")
    def search_done(self) -> None:
        self.query_one(ReconcileList).focus()

    def action_back(self) -> None:
        search = self.query_one("#reconcile-search", Input)
        if search.value or search.has_focus:
            search.value = ""
            search.add_class("-hidden")
            self.query_one(ReconcileList).focus()
            return
        self.dismiss()

    def action_push(self) -> None:
        self.app.push_outbox()
        self.notify("Writing waiting decisions to the PSA…", timeout=3)

    def action_reload(self) -> None:
        self.app.data_seen()
        self.load()

    def outbox_round(self) -> None:
        self.load()


def describe(line: ReconciliationLine) -> str:
    """The detail pane: where each number came from, and what was decided."""
    title = f"[b]{shown(line.company_name)} / {shown(line.product_identifier)}[/b]"
    out = [f"{title} · {STATUS_TITLES[line.status]} · revenue change {money(line.impact)}"]
    if line.sources:

        def one(s) -> str:
            when = s.counted_at.strftime("%Y-%m-%d %H:%M") if s.counted_at else "?"
            return (
                f"{shown(s.integration)} · {shown(s.account)} · {shown(s.service)}"
                f" · {quantity(s.quantity)} counted {when}"
            )

        if len(line.sources) == 1:
            out.append(f"Vendor {quantity(line.vendor_quantity)}: {one(line.sources[0])}")
        else:
            more = f" and {len(line.sources) - 3} more" if len(line.sources) > 3 else ""
            out.append(
                f"Vendor {quantity(line.vendor_quantity)}, the sum of: "
                + "; ".join(one(s) for s in line.sources[:3])
                + more
            )
        if line.rounding_note:
            out.append(f"Whole units for the PSA: {line.rounding_note}.")
        if any(s.vendor == "spamtitan" for s in line.sources):
            out.append("SpamTitan: 30-day maximum, weekends included; its portal may show less.")
    else:
        out.append("Vendor -: no count for this company and product.")
    found = agreement_lines(line)
    words = psa_words()
    if found:
        parts = [
            f"{shown(a.agreement)} #{a.agreement_external_id} {words.line} "
            f"{a.addition_external_id}: {quantity(a.quantity)}"
            + (f" at {a.unit_price:,.2f}" if a.unit_price is not None else "")
            + (" (cancelled)" if a.cancelled else "")
            for a in found
        ]
        out.append(f"PSA {quantity(line.psa_quantity)}: " + "; ".join(parts))
    elif line.status != "unmapped":
        out.append(f"PSA: no {words.agreement} line; approving adds one to the"
                   f" {words.agreement} you choose.")  # fmt: skip
    decision = line.decision
    if decision is not None:
        verb = DECISION_TITLES.get(decision.action, decision.action).lower()
        target = (
            "" if decision.target_quantity is None else f" to {quantity(decision.target_quantity)}"
        )
        text = f"{verb.capitalize()}{target} by {shown(decision.operator)}: {decision.state}"
        if decision.state == "conflict":
            text += (
                f". The PSA now says {quantity(decision.conflict_quantity)}, you saw "
                f"{quantity(decision.psa_quantity_seen)}; nothing was overwritten."
            )
        elif decision.state == "failed" and decision.last_error:
            text += f": {shown(decision.last_error)} (p retries)"
        out.append(text)
    return "\n".join(out)
