"""Home: a card for the PSA, one per integration, and one per vendor that can be connected."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widget import MountError
from textual.widgets import Input, Static

from msp_tui.alerts import alert_counts
from msp_tui.health import Health
from msp_tui.overview import (
    IntegrationSummary,
    PsaSummary,
    integration_summaries,
    psa_not_connected,
    psa_summary,
)
from msp_tui.reconcile import ReviewSummary, review_summary
from msp_tui.sources import PSA_TITLES, PsaWords, psa_words
from msp_tui.writeback import current_period
from screens.footer import Footer
from screens.indicator import AppHeader
from screens.shown import sentence, shown

EMPTY_STATE = """\
[b]No integrations yet.[/b]

msp-tui compares what your vendors count (SpamTitan, Mailprotector) with what your PSA \
({psa}) bills, and fixes the {agreements} you approve.

To begin: press [b]enter[/b] on the PSA card to connect it, then connect a vendor below, map \
its accounts and services, and reconcile. Press [b]?[/b] for help on any screen, [b]ctrl+p[/b] \
for every command, [b]q[/b] to quit.
"""
FIRST_STEP = "press [b]enter[/b] on the PSA card to connect it, then connect a vendor below,"
_TITLES = list(PSA_TITLES.values())
ANY_PSA = f"{', '.join(_TITLES[:-1])} or {_TITLES[-1]}"  # ConnectWise Manage, Autotask or HaloPSA
NEXT_STEP = "the PSA is connected; now pick a vendor below, press [b]enter[/b] to connect it,"
CATALOG = {
    "spamtitan": ("SpamTitan", "Email security · pulled with an API URL and key"),
    "mailprotector": ("Mailprotector", "Email security · pushes counts with a partner key"),
}


class EmptyState(Static):
    pass


@dataclass(frozen=True)
class CardData:
    kind: str  # psa | integration | catalog
    key: str
    title: str
    lines: tuple[str, ...]
    status: str = ""


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


def health_lines(health: Health, last: str) -> tuple[str, ...]:
    """The status line of a card and, when something is wrong, what and what to do next."""
    lines = [f"{health.title} · {last}"]
    if health.detail:
        lines.append(health.detail)
    if health.next_step:
        lines.append(f"Next: {health.next_step}")
    return tuple(lines)


def empty_state(words: PsaWords | None) -> str:
    """The first-run text, naming the PSA connected (or the ones msp-tui knows)."""
    if words is None:
        return EMPTY_STATE.format(psa=ANY_PSA, agreements="billed quantities")
    text = EMPTY_STATE.format(psa=words.psa, agreements=f"{words.agreement}s")
    return text.replace(FIRST_STEP, NEXT_STEP)


def psa_card(psa: PsaSummary | None, words: PsaWords | None = None) -> CardData:
    if psa is None:
        health = psa_not_connected()
        return CardData("psa", "psa", f"PSA ({ANY_PSA})",
                        (f"{health.title} · {health.next_step}",), health.key)  # fmt: skip
    words = words or psa_words()
    counts = (f"{psa.companies} companies · {psa.products} products ·"
              f" {psa.lines} {words.agreement} lines")  # fmt: skip
    return CardData(
        "psa",
        "psa",
        f"{words.psa} (PSA) · {psa.site}",
        (
            *health_lines(psa.health, f"last sync {_when(psa.last_sync_at)}"),
            counts,
            *([psa.budget] if psa.budget else []),
        ),
        psa.health.key,
    )


def integration_card(s: IntegrationSummary) -> CardData:
    last = ("last push " if s.kind == "push" else "last sync ") + _when(s.last_sync_at)
    counts = (f"{s.accounts:,} accounts · {s.services} services · {s.unmapped_words}"
              + (f" · {s.failed_alerts} failed alerts" if s.failed_alerts else ""))  # fmt: skip
    return CardData("integration", s.name, f"{s.vendor_title} · {s.name}",
                    (*health_lines(s.health, last), counts), s.health.key)  # fmt: skip


def reconcile_card(summary: ReviewSummary) -> CardData:
    lines = [f"{summary.to_review:,} line{'s' * (summary.to_review != 1)} to review"
             f" · revenue change {summary.impact:+,.2f}"]  # fmt: skip
    if summary.need_a_look:
        lines.append(f"{summary.need_a_look} PSA write(s) need a look (conflict or failed)")
    status = "error" if summary.need_a_look else ("pending" if summary.to_review else "ok")
    return CardData("reconcile", "reconcile", "Reconcile (c)", tuple(lines), status)


COUNTING = CardData("reconcile", "reconcile", "Reconcile (c)", ("Counting the lines to review…",))


@dataclass(frozen=True)
class HomeData:
    cards: list[CardData]
    words: PsaWords | None


def read_home() -> HomeData:
    """Every card but the reconciliation count (see `HomeScreen.count_review`). Reads the
    store: called in a thread."""
    summaries = integration_summaries()
    psa = psa_summary()
    words = psa_words() if psa is not None else None
    cards = [psa_card(psa, words)]
    if psa is not None and summaries:
        cards.append(COUNTING)
    alerts = alert_counts()
    if any(alerts.values()):
        cards.append(alerts_card(alerts))
    cards += [integration_card(s) for s in summaries]
    if psa is not None and summaries:  # before that, the first steps keep the screen
        cards.append(schedule_card())
    cards += [
        CardData("catalog", f"connect:{vendor}", f"Connect {title}", (blurb,))
        for vendor, (title, blurb) in CATALOG.items()
    ]
    return HomeData(cards, words)


def alerts_card(counts: dict[str, int]) -> CardData:
    made = counts["created"]
    line = (f"{counts['failed']:,} failed · {counts['queued']:,} queued ·"
            f" {made:,} ticket{'s' * (made != 1)} created")  # fmt: skip
    status = "error" if counts["failed"] else ("pending" if counts["queued"] else "ok")
    return CardData("alerts", "alerts", "Alerts (a)", (line,), status)


def schedule_card() -> CardData:
    from msp_tui.schedule import current_schedule, last_run, local_text, next_run, overdue

    schedule, last = current_schedule(), last_run()
    if schedule is None:
        return CardData("schedule", "schedule", "Scheduled sync",
                        ("Off · enter sets a daily, weekly or monthly sync",), "none")  # fmt: skip
    zone, next_at = schedule.timezone, next_run(schedule, last)
    lines = [f"{sentence(schedule.describe())} · next {local_text(next_at, zone)}"]
    status = "ok"
    if last is not None:
        ended = {None: "running", True: "ok", False: "failed"}[last.ok]
        lines.append(f"Last {local_text(last.started_at, zone)} · {ended}: {last.detail}")
        status = "error" if last.ok is False else status
    if overdue(next_at):
        lines.append("Overdue: is 'msp-tui serve' or the cron line running? (see the README)")
        status = "error"
    return CardData("schedule", "schedule", "Scheduled sync", tuple(lines), status)


class Card(Static, can_focus=True):
    BINDINGS = [
        Binding("enter", "open", "Open", id="home.open", tooltip="Open this card."),
        Binding(
            "down",
            "screen.next_card(1)",
            "Next",
            id="card.next",
            show=False,
            tooltip="The next card (from the last, the first).",
        ),
        Binding(
            "up",
            "screen.next_card(-1)",
            "Previous",
            id="card.previous",
            show=False,
            tooltip="The previous card (from the first, the last).",
        ),
    ]
    HELP = """\
## Cards
The PSA connection, each connected integration (status, last sync, accounts, services and
unmapped accounts), and the vendors you can connect. **enter** opens one: the PSA card its
form, a vendor card the connect wizard, the scheduled sync card its form (off, daily, weekly,
monthly; `msp-tui serve` runs it); an integration offers mapping, alerts, key rotation and
disconnecting. A card with a problem says what to do next.
"""

    class Opened(Message):
        def __init__(self, card: CardData) -> None:
            super().__init__()
            self.card = card

    def __init__(self, card: CardData) -> None:
        super().__init__(classes=f"card -{card.kind} -{card.status or 'none'}")
        self.set_card(card)

    def set_card(self, card: CardData) -> None:
        if hasattr(self, "card"):
            self.remove_class(f"-{self.card.status or 'none'}")
        self.add_class(f"-{card.status or 'none'}")
        self.card = card
        self.update(f"[b]{shown(card.title)}[/b]\n" + "\n".join(map(shown, card.lines)))

    def action_open(self) -> None:
        self.post_message(self.Opened(self.card))

    def on_click(self) -> None:
        self.focus()
        self.action_open()


class HomeScreen(Screen):
    # No focus by default (it went to the sync indicator, the first focusable widget): `show`
    # puts it on a card, and keeps it where the operator put it (the search, the indicator).
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("s", "sync", "Sync", id="home.sync", tooltip="Sync the PSA and pulled vendors."),
        Binding(
            "c",
            "reconcile",
            "Reconcile",
            id="home.reconcile",
            tooltip="Vendor quantities beside PSA quantities: approve, adjust, dismiss.",
        ),
        Binding(
            "a",
            "alerts",
            "Alerts",
            id="home.alerts",
            tooltip="Vendor alerts and the PSA tickets made from them.",
        ),
        # Not in the footer, where "? Help" must fit at 80 columns: Home refreshes itself when
        # a sync ends; r is in the help.
        Binding(
            "r",
            "refresh",
            "Refresh",
            id="home.refresh",
            show=False,
            tooltip="Read the store again.",
        ),
        Binding(
            "slash",
            "search",
            "Search",
            id="home.search",
            key_display="/",
            tooltip="Find a card by name.",
        ),
        Binding(
            "escape",
            "clear_search",
            "Clear",
            id="home.clear_search",
            show=False,
            tooltip="Clear the search.",
        ),
    ]

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Input(placeholder="search cards", id="card-search", classes="-hidden")
        # The scroll containers take no focus: the cards do (Down never lands on nothing).
        with VerticalScroll(id="home", can_focus=False):
            yield EmptyState(empty_state(None), id="empty-state")
            yield VerticalScroll(id="cards", can_focus=False)
        yield Footer()

    def _sync_seen(self, state) -> None:
        """Home is a summary, not a list being worked through: when the syncs end, it shows
        what they brought without waiting for r (other screens light "new data" instead)."""
        ended = self._was_syncing and not state.syncing
        self._was_syncing = bool(state.syncing)
        if ended and self.is_current:
            self.action_refresh()

    async def on_mount(self) -> None:
        self._last_card: Card | None = None
        self._was_syncing = False
        self._cards: list[CardData] = []
        self._psa_words: PsaWords | None = None
        self._reads = 0  # which read of the store is the latest: older ones are dropped
        self._counted = -1  # the read whose reconciliation count is shown
        self._focus_next: str | None = None  # a card to focus when the cards are next shown
        self.query_one(EmptyState).display = False  # until the store says so
        self.watch(self.app, "sync_state", self._sync_seen)
        # Awaited here (off the UI thread, the loop stays free) so Home's first frame has its
        # cards; every later refresh is a worker and the cards shown stay until it lands.
        self.app.data_seen()
        self._shown_read(await asyncio.to_thread(read_home), self._reads)

    def action_refresh(self) -> None:
        self.app.data_seen()
        self._reads += 1
        self.read(self._reads)

    @work(exclusive=True, group="home-read", thread=True, description="home-read")
    def read(self, number: int) -> None:
        self.post_message(self.Read(read_home(), number))

    class Read(Message):
        """What the store holds now (the cheap part: the reconciliation count follows)."""

        def __init__(self, home: HomeData, number: int) -> None:
            super().__init__()
            self.home, self.number = home, number

    class ReviewCounted(Message):
        def __init__(self, summary: ReviewSummary, number: int) -> None:
            super().__init__()
            self.summary, self.number = summary, number

    def on_home_screen_read(self, message: Read) -> None:
        self._shown_read(message.home, message.number)

    def _shown_read(self, home: HomeData, number: int) -> None:
        if number != self._reads:
            return
        self._cards, self._psa_words = home.cards, home.words
        self.show(self._cards)
        if any(c.kind == "reconcile" for c in home.cards):
            self.count_review(number)
        else:
            self._counted = number

    @property
    def settled(self) -> bool:
        """The latest read of the store is shown, its reconciliation count included."""
        return self._counted == self._reads

    @work(exclusive=True, group="home-review", thread=True, description="home-review")
    def count_review(self, number: int) -> None:
        """Every line is computed to count the ones to review: at 20,000 lines that is most of
        a second, so the card says it is counting until this lands."""
        self.post_message(self.ReviewCounted(review_summary(current_period()), number))

    def on_home_screen_review_counted(self, message: ReviewCounted) -> None:
        if message.number != self._reads:
            return
        self._counted = message.number
        card = reconcile_card(message.summary)
        self._cards = [card if c.key == card.key else c for c in self._cards]
        for widget in self.query(Card):
            if widget.card.key == card.key:
                widget.set_card(card)

    @work(exclusive=True, group="home-cards", description="home-cards")
    async def show(self, cards: list[CardData]) -> None:
        shown = self._matching(cards)
        # The search keeps the focus while in use, and so does anything else that is not a
        # card (the sync indicator, read on focus): only a card's focus is carried over.
        focused = self.focused if isinstance(self.focused, Card) else self._last_card
        focused_key = focused.card.key if focused is not None else None
        # Kept until the cards are shown: a refresh may cancel this one half way (the
        # syncs Finish started can end meanwhile), and the next must still focus it.
        focused_key = self._focus_next or focused_key
        box = self.query_one("#cards", VerticalScroll)
        # The old cards go first: focus must land on a new one, never on one being removed
        # (which left Home with no card focused after a disconnect or a closed screen). Nothing
        # holds the focus meanwhile, so what holds it afterwards was put there by the operator.
        if focused is self.focused:
            self.set_focus(None)
        try:
            with self.app.batch_update():  # no frame shows the cards half replaced
                await box.remove_children()
                widgets = [Card(c) for c in shown]
                await box.mount_all(widgets)
                empty = self.query_one(EmptyState)
                empty.display = not any(c.kind == "integration" for c in cards)
                empty.update(empty_state(self._psa_words))
        except (MountError, NoMatches):
            if self.is_attached and box.is_attached:
                raise
            return  # Home was taken down meanwhile: the app is closing
        target = next((w for w in widgets if w.card.key == focused_key), None)
        if psa_missing := next((w for w in widgets if w.card.key == "psa"
                                and w.card.status == "disconnected"), None):  # fmt: skip
            target = target or psa_missing  # the first step of a first run
        target = target or next((w for w in widgets if w.card.kind == "integration"), None)
        target = target or next((w for w in widgets if w.card.kind == "catalog"), None)
        self._focus_next = None
        if target is not None:
            # After the focus changes already asked for (`focus()` waits its turn too): tab to
            # the sync indicator just as a sync ended stays there.
            self.call_later(self._focus_card, target)

    def _focus_card(self, card: Card) -> None:
        elsewhere = self.focused is not None and not isinstance(self.focused, Card)
        if card.is_attached and not elsewhere:
            # Straight to it: the cards changed under the old scroll position, and an animated
            # scroll showed them sliding past for a few frames.
            self.set_focus(card, scroll_visible=False)
            card.scroll_visible(animate=False)

    def _matching(self, cards: list[CardData]) -> list[CardData]:
        query = self.query_one("#card-search", Input).value.lower().strip()
        return [c for c in cards if query in c.title.lower()]

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, Card):
            self._last_card = event.widget

    def action_next_card(self, step: int) -> None:
        cards = list(self.query(Card))
        if not cards:
            return
        here = cards.index(self.focused) if self.focused in cards else -1
        cards[(here + step) % len(cards)].focus()

    def action_sync(self) -> None:
        started = self.app.start_sync()
        if not started:
            self.notify("Nothing to sync yet: connect the PSA or a pulled vendor first.")

    def action_reconcile(self) -> None:
        from screens.reconcile import ReconcileScreen

        self.app.push_screen(ReconcileScreen(), lambda _: self.action_refresh())

    def action_alerts(self) -> None:
        from screens.alerts import AlertsScreen

        self.app.push_screen(AlertsScreen(), lambda _: self.action_refresh())

    def action_search(self) -> None:
        search = self.query_one("#card-search", Input)
        search.remove_class("-hidden")
        self.set_focus(search)  # at once: the keys typed right after / are the search's

    def action_clear_search(self) -> None:
        search = self.query_one("#card-search", Input)
        search.value = ""
        search.add_class("-hidden")
        if self.focused is search:  # back to the cards, not left typing into nothing
            self.set_focus(None)
        self.action_refresh()

    @on(Input.Changed, "#card-search")
    def search_changed(self) -> None:
        self.show(self._cards)

    @on(Input.Submitted, "#card-search")
    def search_done(self) -> None:
        # From the cards' data, not the widgets: those may be being remounted by the last key.
        found = self._matching(self._cards)
        if len(found) == 1:  # the only match: open it, and come back to every card
            self.action_clear_search()
            self.open(found[0])
        elif found:
            self.set_focus(None)
            self.show(self._cards)  # focuses the first match once mounted

    @on(Card.Opened)
    def open_card(self, message: Card.Opened) -> None:
        self.open(message.card)

    def open(self, card: CardData) -> None:
        if card.kind == "reconcile":
            self.action_reconcile()
        elif card.kind == "alerts":
            self.action_alerts()
        elif card.kind == "schedule":
            self.action_schedule()
        elif card.kind == "catalog":
            from screens.wizard import ConnectWizard

            vendor = card.key.removeprefix("connect:")
            self.app.push_screen(ConnectWizard(vendor), self._back_from_wizard)
        elif card.kind == "integration":
            from screens.integration import IntegrationScreen

            self.app.push_screen(IntegrationScreen(card.key), lambda _: self.action_refresh())
        else:
            self.action_connect_psa()

    def _back_from_wizard(self, home: HomeData | None) -> None:
        """A finished wizard read Home before its syncs began: shown at once. Cancelled, Home
        reads itself again (a wizard may have saved some of its steps)."""
        if home is None:
            self.action_refresh()
            return
        before = {c.key for c in self._cards if c.kind == "integration"}
        new = [c.key for c in home.cards if c.kind == "integration" and c.key not in before]
        self._focus_next = new[0] if new else None  # the integration just connected
        self.app.data_seen()
        self._reads += 1
        self._shown_read(home, self._reads)

    def action_schedule(self) -> None:
        from screens.schedule_form import ScheduleForm

        self.app.push_screen(ScheduleForm(), lambda _: self.action_refresh())

    def action_connect_psa(self) -> None:
        from screens.psa_form import PsaForm

        self.app.push_screen(PsaForm(), lambda _: self.action_refresh())
