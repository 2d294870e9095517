"""The mapping panel, driven by keys (and once by the mouse) at 80x24; checked in the store."""

from __future__ import annotations

import threading

import pytest
from pilot_tools import wait_until
from textual.app import App, ComposeResult
from textual.widgets import Button, Input, SelectionList

from msp_tui import mapping
from msp_tui.context import Context
from msp_tui.mapping import (
    MappingBoard,
    load_account_board,
    load_service_board,
    read_account_board,
)
from msp_tui.store.models import (
    AccountMapping,
    AuditEvent,
    Integration,
    PsaCompany,
    PsaConnection,
    PsaProduct,
    ServiceMapping,
    UsageCount,
    VendorAccount,
    VendorService,
)
from screens import STYLES
from screens.mapping_panel import AcceptAllDialog, MappingPanel
from screens.pairing import PairingList

PSA_COMPANIES = [
    "Acme Dental",
    "Bluewater Logistics Inc",
    "Harbor Realty",
    "Peterson Plumbing",
    "Summit Law Group",
    "Zenith Freight",
]
VENDOR_ACCOUNTS = [
    "Acme Dental",  # exact: mapped when the board first opens
    "Bluewater Logistic",  # near names: suggested with scores of 90 or more
    "Harbour Realty LLC",
    "Petersen Plumbing",
    "Zen Freight",  # suggested, scoring under 90
    "Totally Unrelated Co",  # nothing like it
    "internal test",
]


class PanelApp(App[None]):
    CSS_PATH = STYLES

    def __init__(self, board: MappingBoard) -> None:
        super().__init__()
        self.board = board

    def compose(self) -> ComposeResult:
        yield MappingPanel(self.board)


def psa_connection() -> PsaConnection:
    return PsaConnection.create(name="cw", site="cw.example.com", company_identifier="msp",
                                client_id="client")  # fmt: skip


def account_board() -> MappingBoard:
    connection = psa_connection()
    for n, name in enumerate(PSA_COMPANIES):
        PsaCompany.create(connection=connection, external_id=n, identifier=f"C{n}", name=name)
    spamtitan = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
    for n, name in enumerate(VENDOR_ACCOUNTS):
        VendorAccount.create(integration=spamtitan, external_id=str(n), name=name)
    return load_account_board(spamtitan, "tester")


PRODUCTS = [("ARCH-1Y", "Email archiving, one year"), ("SPAM-ADV", "Spam filter advanced"),
            ("SPAM-STD", "Spam filter standard")]  # fmt: skip


def service_board(products=PRODUCTS, services=("Archiving", "Total Licenses")) -> MappingBoard:
    connection = psa_connection()
    for n, (identifier, description) in enumerate(products):
        PsaProduct.create(connection=connection, external_id=n, identifier=identifier,
                          description=description)  # fmt: skip
    spamtitan = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
    for n, name in enumerate(services):
        VendorService.create(integration=spamtitan, external_id=f"S{n}", name=name)
    return load_service_board(spamtitan, "tester")


def account_of(name: str) -> VendorAccount:
    return VendorAccount.get(VendorAccount.name == name)


def mapping_of(name: str) -> AccountMapping | None:
    return AccountMapping.get_or_none(AccountMapping.vendor_account == account_of(name))


def service_pairs() -> set[tuple[str, str]]:
    rows = ServiceMapping.select(ServiceMapping, VendorService, PsaProduct).join(VendorService)
    rows = rows.switch(ServiceMapping).join(PsaProduct)
    return {(m.vendor_service.name, m.psa_product.identifier) for m in rows}


def posted(messages: list, kind: type) -> list:
    """Each message once (the hook sees a bubbling message at every node it passes)."""
    return list({id(m): m for m in messages if isinstance(m, kind)}.values())


def lists(app: App) -> tuple[MappingPanel, PairingList, PairingList]:
    panel = app.query_one(MappingPanel)
    return panel, panel.query_one("#psa-list", PairingList), panel.query_one("#vendor-list")


def detail_of(panel: MappingPanel) -> str:
    return str(panel.query_one("#mapping-detail").content)


async def highlight(pilot, pairing_list: PairingList, label: str) -> None:
    """Put the cursor on the row called `label` with the keys an operator would press."""
    index = [row.label for row in pairing_list.rows].index(label)
    await pilot.press("home", *["down"] * index)
    assert pairing_list.highlighted_item.label == label


async def test_exact_matches_are_mapped_and_counted_at_80x24(ctx: Context) -> None:
    board = account_board()
    acme = mapping_of("Acme Dental")
    assert acme is not None and acme.method == "exact" and acme.psa_company.name == "Acme Dental"
    assert AccountMapping.select().count() == 1  # near names are only suggested
    app = PanelApp(board)
    async with app.run_test(size=(80, 24)):
        panel, psa, vendor = lists(app)
        assert vendor.border_title == "Vendor accounts 7 · mapped 1"
        assert vendor.border_subtitle == "unmapped 6 · suggested 4"
        assert psa.border_title == "PSA companies 6 · mapped 1"
        assert psa.row_count == 6 and vendor.row_count == 7
        assert psa.has_focus
        assert panel.region.width == 80 and 38 <= vendor.region.width <= 40
        assert vendor.region.right <= 80 and psa.region.x == 0
        rows = {row.label: row for row in vendor.rows}
        width = vendor.scrollable_content_region.width
        shown = {label: panel.format_vendor_row(row, width) for label, row in rows.items()}
        assert all(line.cell_length <= width for line in shown.values())
        assert shown["Acme Dental"].plain.rstrip().endswith("= Acme Dental")
        assert shown["Bluewater Logistic"].plain.startswith("Bluewater Logistic ~96 Bluewater")
        assert shown["Bluewater Logistic"].plain.endswith("…")
        assert shown["Totally Unrelated Co"].plain.strip() == "Totally Unrelated Co"
        wide = {label: panel.format_vendor_row(row, 80).plain for label, row in rows.items()}
        assert wide["Bluewater Logistic"].endswith("~96 Bluewater Logistics Inc?")
        assert wide["Zen Freight"].endswith("~83 Zenith Freight?")
        narrow = panel.format_vendor_row(rows["Bluewater Logistic"], 24).plain
        assert len(narrow) == 24 and "…" in narrow


async def test_space_tab_enter_carries_a_company_onto_an_account(ctx: Context) -> None:
    messages: list = []
    app = PanelApp(account_board())
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        panel, psa, vendor = lists(app)
        await highlight(pilot, psa, "Summit Law Group")
        await pilot.press("space")
        status = str(panel.query_one("#mapping-status").content)
        assert status.startswith("Carrying: Summit Law Group — move to the vendor list")
        assert psa.marked is psa.highlighted_item
        await pilot.press("tab")
        assert vendor.has_focus
        await highlight(pilot, vendor, "Totally Unrelated Co")
        await pilot.press("enter")
        mapping = mapping_of("Totally Unrelated Co")
        assert mapping is not None
        assert (mapping.psa_company.name, mapping.method, mapping.operator) == (
            "Summit Law Group", "manual", "tester",
        )  # fmt: skip
        assert panel.carrying is None and psa.marked is None
        assert vendor.border_title == "Vendor accounts 7 · mapped 2"
        assert vendor.border_subtitle == "unmapped 5 · suggested 4"
        changed = posted(messages, MappingPanel.Changed)
        assert len(changed) == 1 and changed[0].counts.mapped == 2

        # esc puts down what is carried; nothing is saved
        await pilot.press("shift+tab", "space", "escape")
        assert panel.carrying is None
        await pilot.press("tab", "enter")  # enter with nothing carried picks up
        assert panel.carrying is not None and panel.carrying[0] == "vendor"
        assert AccountMapping.select().count() == 2


async def test_a_accepts_the_top_suggestion(ctx: Context) -> None:
    app = PanelApp(account_board())
    async with app.run_test(size=(80, 24)) as pilot:
        panel, _, vendor = lists(app)
        await pilot.press("right")
        assert vendor.has_focus
        await highlight(pilot, vendor, "Bluewater Logistic")
        detail = str(panel.query_one("#mapping-detail").content)
        # Each suggestion says why: here a slip of one letter the matcher would map by itself.
        assert "Suggestions: 96 Bluewater Logistics Inc (shortened name, safe to map)" in detail
        rows = [row.label for row in vendor.rows]
        await pilot.press("a")
        mapping = mapping_of("Bluewater Logistic")
        assert mapping.psa_company.name == "Bluewater Logistics Inc"
        # On to the next row: a, a, a works down the list.
        assert vendor.highlighted_item.label == rows[rows.index("Bluewater Logistic") + 1]
        assert mapping.method == "suggested" and round(mapping.score) == 96
        row = panel.format_vendor_row(vendor.rows[rows.index("Bluewater Logistic")], 80).plain
        assert row.endswith("→ Bluewater Logistics Inc")
        assert vendor.border_subtitle == "unmapped 5 · suggested 3"
        await highlight(pilot, vendor, "Totally Unrelated Co")
        await pilot.press("a")  # no suggestion: nothing happens but a word why
        assert mapping_of("Totally Unrelated Co") is None
        assert "has no suggestion" in str(panel.query_one("#mapping-status").content)


async def test_shift_a_maps_all_suggestions_above_the_threshold_after_asking(
    ctx: Context,
) -> None:
    app = PanelApp(account_board())
    async with app.run_test(size=(80, 24)) as pilot:
        panel, _, vendor = lists(app)

        def status() -> str:
            return str(panel.query_one("#mapping-status").content)

        assert panel.threshold == 90
        await pilot.press("A")
        assert isinstance(app.screen, AcceptAllDialog)
        question = str(app.screen.query_one("#accept-all-question").content)
        assert question.startswith("Map 3 vendor accounts to the top suggestion")
        await pilot.press("n")  # changed my mind
        assert not isinstance(app.screen, AcceptAllDialog)
        assert AccountMapping.select().count() == 1

        await pilot.press("A")
        assert isinstance(app.screen, AcceptAllDialog)
        rows = app.screen.query_one("#accept-all-rows", SelectionList)
        # What it would map, each row ticked, with why it is suggested.
        shown = [str(rows.get_option_at_index(i).prompt) for i in range(rows.option_count)]
        first = "Bluewater Logistic → Bluewater Logistics Inc 96 (shortened name, safe to map)"
        assert shown[0] == first
        assert len(shown) == 3 and len(rows.selected) == 3
        await pilot.press("down", "space")  # the second row is unticked: "Harbour Realty LLC"
        assert str(app.screen.query_one("#accept-all-yes", Button).label) == "Map 2"
        await pilot.press("y")
        assert not isinstance(app.screen, AcceptAllDialog)
        await wait_until(pilot, lambda: "Accepted 2 suggestions scoring 90 or more." in status())
        mapped = {m.vendor_account.name: (m.psa_company.name, m.method)
                  for m in AccountMapping.select()}  # fmt: skip
        assert mapped == {
            "Acme Dental": ("Acme Dental", "exact"),
            "Bluewater Logistic": ("Bluewater Logistics Inc", "suggested"),
            "Petersen Plumbing": ("Peterson Plumbing", "suggested"),
        }
        assert vendor.border_title == "Vendor accounts 7 · mapped 3"
        maps = AuditEvent.select().where(AuditEvent.action == "accounts.map")
        audited = {(e.subject, e.after["psa"], e.after["method"], e.operator) for e in maps}
        assert audited == {
            ("spamtitan: Bluewater Logistic", "Bluewater Logistics Inc", "suggested", "tester"),
            ("spamtitan: Petersen Plumbing", "Peterson Plumbing", "suggested", "tester"),
        }  # one saving for both, each audited as a single mapping is

        panel.threshold = 80  # configurable: now "Zen Freight" (83) qualifies
        await pilot.press("A")
        question = str(app.screen.query_one("#accept-all-question").content)
        assert question.startswith("Map 2 vendor accounts to the top suggestion")  # and Harbour
        await pilot.press("space")  # Harbour Realty LLC stays the operator's call
        assert app.screen.query_one(SelectionList).selected == [account_of("Zen Freight").id]
        assert "(score 80+)" in question
        await pilot.press("y")
        await wait_until(pilot, lambda: "Accepted 1 suggestion scoring 80" in status())
        assert mapping_of("Zen Freight").psa_company.name == "Zenith Freight"


async def test_u_unmaps_and_x_excludes(ctx: Context) -> None:
    app = PanelApp(account_board())
    async with app.run_test(size=(80, 24)) as pilot:
        panel, _, vendor = lists(app)
        await pilot.press("tab")
        await highlight(pilot, vendor, "Acme Dental")
        await pilot.press("u")
        assert mapping_of("Acme Dental") is None
        assert vendor.border_title == "Vendor accounts 7 · mapped 0"
        # B10: unmapped, it is suggested its company again, not left with "No suggestions"
        row = panel.format_vendor_row(vendor.highlighted_item, 60).plain
        assert "~100 Acme Dental?" in row, row

        await highlight(pilot, vendor, "internal test")
        await pilot.press("x")
        assert account_of("internal test").excluded
        assert vendor.border_subtitle == "unmapped 6 · suggested 5 · excluded 1"
        assert "x excluded" in panel.format_vendor_row(vendor.highlighted_item, 60).plain
        await pilot.press("x")  # and back in
        assert not account_of("internal test").excluded
        assert vendor.border_subtitle == "unmapped 7 · suggested 5"


async def test_search_narrows_a_list_and_f_cycles_its_filter(ctx: Context) -> None:
    app = PanelApp(account_board())
    async with app.run_test(size=(80, 24)) as pilot:
        panel, psa, vendor = lists(app)
        await pilot.press("tab", "slash")
        search = panel.query_one("#vendor-search", Input)
        assert search.has_focus
        await pilot.press(*"blue")
        assert search.value == "blue" and vendor.row_count == 1
        assert vendor.rows[0].label == "Bluewater Logistic"
        assert detail_of(panel).startswith("Bluewater Logistic")  # the row the search found
        assert psa.row_count == 6  # the other side is untouched
        await pilot.press("escape")  # clears the search and goes back to the list
        assert search.value == "" and vendor.row_count == 7
        assert vendor.has_focus

        counts = []
        for _ in range(4):
            await pilot.press("f")
            counts.append((panel.filters["vendor"], vendor.row_count))
        assert counts == [("unmapped", 6), ("suggested", 4), ("mapped", 1), ("all", 7)]

        await pilot.press("left", "f")
        assert (panel.filters["psa"], psa.row_count) == ("unmapped", 5)
        await pilot.press("f")
        assert (panel.filters["psa"], psa.row_count) == ("mapped", 1)
        await pilot.press("f", "slash", *"zen")
        assert psa.row_count == 1 and psa.rows[0].label == "Zenith Freight"
        assert detail_of(panel).startswith("Zenith Freight")


async def test_services_map_many_to_many(ctx: Context) -> None:
    app = PanelApp(service_board())
    async with app.run_test(size=(80, 24)) as pilot:
        panel, psa, vendor = lists(app)
        assert psa.border_title == "PSA products 3 · mapped 0"
        assert vendor.border_title == "Vendor services 2 · mapped 0"
        # products are found by Product ID and by description
        await pilot.press("slash", *"spam-a")
        assert [p.label for p in psa.rows] == ["SPAM-ADV"]
        await pilot.press("escape")  # cleared, and the keys go to the list again
        assert psa.has_focus and psa.row_count == 3
        await pilot.press("slash", *"archiving")
        assert [p.label for p in psa.rows] == ["ARCH-1Y"]
        await pilot.press("escape")
        assert psa.has_focus and psa.row_count == 3

        # two products on one service
        await highlight(pilot, psa, "SPAM-ADV")
        await pilot.press("space", "tab")
        await highlight(pilot, vendor, "Total Licenses")
        await pilot.press("enter", "tab")
        await highlight(pilot, psa, "SPAM-STD")
        await pilot.press("space", "tab", "enter")
        # one product on two services
        await pilot.press("tab", "space", "tab")
        await highlight(pilot, vendor, "Archiving")
        await pilot.press("enter")
        assert service_pairs() == {
            ("Total Licenses", "SPAM-ADV"),
            ("Total Licenses", "SPAM-STD"),
            ("Archiving", "SPAM-STD"),
        }
        assert vendor.border_title == "Vendor services 2 · mapped 2"
        assert psa.border_title == "PSA products 3 · mapped 2"

        await pilot.press("x")  # services cannot be excluded: the key does nothing
        assert service_pairs() and "Excluded" not in str(panel.query_one("#mapping-status").content)
        await highlight(pilot, vendor, "Total Licenses")
        await pilot.press("u")  # a service loses all its products
        assert service_pairs() == {("Archiving", "SPAM-STD")}


async def test_dragging_a_company_onto_an_account_with_the_mouse(ctx: Context) -> None:
    """A real drag through Pilot: mouse down on a PSA row, move, release over a vendor row."""
    messages: list = []
    app = PanelApp(account_board())
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        _, psa, vendor = lists(app)
        source = [row.label for row in psa.rows].index("Zenith Freight")
        target = [row.label for row in vendor.rows].index("internal test")
        # offsets are from each list's outer edge: its border is one cell wide
        assert await pilot.mouse_down(psa, offset=(4, 1 + source))
        assert app.mouse_captured is psa
        await pilot.hover(vendor, offset=(4, 1 + target))
        await pilot.mouse_up(vendor, offset=(4, 1 + target))
        assert app.mouse_captured is None
        dropped = posted(messages, PairingList.Dropped)
        assert len(dropped) == 1
        assert (dropped[0].source_list, dropped[0].target_list) == (psa, vendor)
        assert dropped[0].item.label == "Zenith Freight"
        assert dropped[0].target_item.label == "internal test"
        mapping = mapping_of("internal test")
        assert mapping.psa_company.name == "Zenith Freight" and mapping.method == "manual"
        assert vendor.highlighted_item.label == "internal test"


class Row:
    def __init__(self, label: str) -> None:
        self.label = label


class ListApp(App[None]):
    CSS_PATH = STYLES

    def __init__(self, rows: list[Row]) -> None:
        super().__init__()
        self.rows = rows
        self.drawn: list[str] = []

    def compose(self) -> ComposeResult:
        yield PairingList(self.draw, self.rows)

    def draw(self, row: Row, width: int) -> str:
        self.drawn.append(row.label)
        return row.label


async def test_pairing_list_draws_only_visible_rows_and_keeps_its_cursor(ctx: Context) -> None:
    rows = [Row(f"Customer {n:04}") for n in range(5000)]
    messages: list = []
    app = ListApp(rows)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        lst = app.query_one(PairingList)
        assert lst.has_focus and not lst.children
        height = lst.scrollable_content_region.height
        assert 0 < len(set(app.drawn)) <= height  # 5,000 rows, one screenful drawn
        await pilot.press("pagedown", "down", "down")
        assert lst.cursor == height - 1 + 2
        await pilot.press("end")
        assert lst.highlighted_item is rows[-1] and lst.scroll_offset.y > 0
        await pilot.press("pageup", "home")
        assert lst.cursor == 0 and lst.scroll_offset.y == 0
        await pilot.press(*["down"] * 10)
        current = lst.highlighted_item
        lst.set_rows(rows[5:50])  # still there: the cursor follows it
        assert lst.highlighted_item is current and lst.cursor == 5
        lst.set_rows(rows[100:200])  # gone: the cursor keeps its place
        assert lst.cursor == 5 and lst.highlighted_item is rows[105]
        await pilot.press("enter")
        await pilot.click(lst, offset=(2, 3))
        highlighted = [m.item for m in posted(messages, PairingList.Highlighted)]
        selected = [m.item for m in posted(messages, PairingList.Selected)]
        assert selected == [rows[105]]
        assert highlighted[-1] is rows[102] and lst.cursor == 2


async def test_an_empty_psa_side_says_what_to_do(ctx: Context) -> None:
    """B11: with no PSA the board showed "PSA companies 0" and nothing else."""
    spamtitan = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
    VendorAccount.create(integration=spamtitan, external_id="1", name="Acme Dental")
    app = PanelApp(load_account_board(spamtitan, "tester"))
    async with app.run_test(size=(80, 24)):
        status = str(app.query_one("#mapping-status").content)
        assert "No PSA companies yet: connect the PSA" in status


# --- the lists first, the matcher after (issue 19) ---------------------------------------------


def unmatched_account_board() -> MappingBoard:
    """The board as the wizard reads it: the lists only, the matcher still to run."""
    board = account_board_read()
    assert board.pending and AccountMapping.select().count() == 0
    return board


def account_board_read() -> MappingBoard:
    connection = psa_connection()
    for n, name in enumerate(PSA_COMPANIES):
        PsaCompany.create(connection=connection, external_id=n, identifier=f"C{n}", name=name)
    spamtitan = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
    for n, name in enumerate(VENDOR_ACCOUNTS):
        VendorAccount.create(integration=spamtitan, external_id=str(n), name=name)
    return read_account_board(spamtitan, "tester")


@pytest.fixture
def held_matcher(monkeypatch) -> threading.Event:
    """The panel's matcher finds its matches (in its thread) as the board is when it starts,
    then waits until the test sets the event before they are applied."""
    go_on = threading.Event()
    find = mapping.find_account_matches

    def held(board: MappingBoard) -> mapping.AccountMatches:
        found = find(board)
        assert go_on.wait(20), "the test never let the matcher go on"
        return found

    monkeypatch.setattr(mapping, "find_account_matches", held)
    return go_on


async def test_the_lists_show_at_once_and_the_matcher_fills_in(
    ctx: Context, held_matcher: threading.Event
) -> None:
    messages: list = []
    app = PanelApp(unmatched_account_board())
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        panel, psa, vendor = lists(app)
        assert panel.matching and psa.row_count == 6 and vendor.row_count == 7
        assert vendor.border_title == "Vendor accounts 7 · mapped 0"
        assert vendor.border_subtitle == "unmapped 7 · suggested 0"  # small: no note
        held_matcher.set()
        await wait_until(pilot, lambda: not panel.matching)
        assert mapping_of("Acme Dental").method == "exact"
        assert vendor.border_title == "Vendor accounts 7 · mapped 1"
        assert vendor.border_subtitle == "unmapped 6 · suggested 4"
        assert psa.border_title == "PSA companies 6 · mapped 1"
        rows = {row.label: row for row in vendor.rows}
        assert panel.format_vendor_row(rows["Acme Dental"], 80).plain.endswith("= Acme Dental")
        assert (
            "~96 Bluewater Logistics Inc?"
            in panel.format_vendor_row(rows["Bluewater Logistic"], 80).plain
        )
        status = str(panel.query_one("#mapping-status").content)
        assert status == "1 exact match mapped; 4 with suggestions."
        changed = posted(messages, MappingPanel.Changed)
        assert len(changed) == 1 and changed[0].counts.mapped == 1


async def test_a_big_board_says_it_is_matching_and_keys_wait_for_suggestions(
    ctx: Context, held_matcher: threading.Event, monkeypatch
) -> None:
    monkeypatch.setattr("screens.mapping_panel.NOTE_MATCHING_FROM", 1)  # "big" from 1 x 1
    app = PanelApp(unmatched_account_board())
    async with app.run_test(size=(80, 24)) as pilot:
        panel, _, vendor = lists(app)
        assert vendor.border_subtitle == "unmapped 7 · matching…"
        await pilot.press("right")
        await highlight(pilot, vendor, "Bluewater Logistic")
        detail = str(panel.query_one("#mapping-detail").content)
        assert detail.endswith("Suggestions: still matching…")
        await pilot.press("a")
        status = str(panel.query_one("#mapping-status").content)
        assert status == "Bluewater Logistic: still matching, its suggestions come in a moment."
        await pilot.press("A")
        assert not isinstance(app.screen, AcceptAllDialog)
        assert "Still matching" in str(panel.query_one("#mapping-status").content)
        assert AccountMapping.select().count() == 0
        held_matcher.set()
        await wait_until(pilot, lambda: not panel.matching)
        assert vendor.border_subtitle == "unmapped 6 · suggested 4"
        assert "Suggestions: 96 Bluewater Logistics Inc" in str(
            panel.query_one("#mapping-detail").content
        )
        await pilot.press("a")
        assert mapping_of("Bluewater Logistic").method == "suggested"


async def test_what_the_operator_does_while_matching_is_kept(
    ctx: Context, held_matcher: threading.Event
) -> None:
    """The matcher has found the exact matches of "Acme Dental", "Zenith Freight" and
    "Peterson Plumbing"; before they land, the operator pairs Acme Dental by hand with another
    company and excludes Zenith Freight, and another process maps Peterson Plumbing. The
    auto-map skips all three, and offers each as a suggestion instead."""
    integration = unmatched_account_board().integration
    for n, name in enumerate(["Zenith Freight", "Peterson Plumbing"], start=10):
        VendorAccount.create(integration=integration, external_id=str(n), name=name)
    app = PanelApp(read_account_board(integration, "tester"))
    async with app.run_test(size=(80, 24)) as pilot:
        panel, psa, vendor = lists(app)
        assert panel.matching
        await highlight(pilot, psa, "Summit Law Group")
        await pilot.press("space", "tab")
        await highlight(pilot, vendor, "Acme Dental")
        await pilot.press("enter")  # Summit Law Group onto Acme Dental, by hand
        await highlight(pilot, vendor, "Zenith Freight")
        await pilot.press("x")  # left out of mapping
        AccountMapping.create(vendor_account=account_of("Peterson Plumbing"),
                              psa_company=PsaCompany.get(name="Harbor Realty"),
                              method="manual", operator="someone")  # fmt: skip
        assert panel.matching  # all that before the matcher's results land
        held_matcher.set()
        await wait_until(pilot, lambda: not panel.matching)
        acme = mapping_of("Acme Dental")
        assert (acme.psa_company.name, acme.method) == ("Summit Law Group", "manual")
        assert mapping_of("Zenith Freight") is None and account_of("Zenith Freight").excluded
        assert mapping_of("Peterson Plumbing").operator == "someone"
        assert AccountMapping.select().count() == 2  # nothing auto-mapped
        rows = {row.label: row for row in vendor.rows}
        assert rows["Acme Dental"].mapped == {PsaCompany.get(name="Summit Law Group").id}
        assert rows["Acme Dental"].suggestions[0] == (PsaCompany.get(name="Acme Dental").id, 100)
        assert rows["Zenith Freight"].excluded and not rows["Zenith Freight"].mapped
        peterson = panel.format_vendor_row(rows["Peterson Plumbing"], 80).plain
        assert peterson.endswith("→ Harbor Realty")  # as the store has it now
        status = str(panel.query_one("#mapping-status").content)
        assert (
            status == "0 exact matches mapped (3 changed meanwhile: suggested); 4 with suggestions."
        )
        # u on Acme Dental: its exact match is there to accept with a
        await highlight(pilot, vendor, "Acme Dental")
        await pilot.press("u", "a")
        acme = mapping_of("Acme Dental")
        assert (acme.psa_company.name, acme.method) == ("Acme Dental", "suggested")


def test_an_exact_match_never_overrides_a_change_made_while_matching(ctx: Context) -> None:
    """The same at the board: the matcher's results come after the changes, in any order the
    thread gives; a pairing, an unmapping and an exclusion made meanwhile all stand."""
    board = unmatched_account_board()
    found = mapping.find_account_matches(board)  # as the thread does, before the changes
    assert {board.vendor_by_id[v].label for v, _, _ in found.exact} == {"Acme Dental"}
    acme, summit = account_of("Acme Dental").id, PsaCompany.get(name="Summit Law Group").id
    board.pair(acme, summit)
    board.unmap(acme)  # mapped and unmapped again: the operator's, still
    filled = board.fill_in(found)
    assert (filled.exact, filled.left) == (0, 1)
    assert mapping_of("Acme Dental") is None and not board.vendor_by_id[acme].mapped
    assert board.vendor_by_id[acme].suggestions[0][1] == 100  # offered, not applied
    assert not board.pending


def test_an_account_unmapped_while_matching_gets_its_suggestions(ctx: Context) -> None:
    """B10 while the matcher runs: an account mapped before the board opened (so not one the
    matcher looks at) and unmapped meanwhile is given suggestions when the matcher lands."""
    board = account_board_read()
    zen = account_of("Zen Freight").id
    board.pair(zen, PsaCompany.get(name="Harbor Realty").id)  # an earlier session's mapping
    board = read_account_board(board.integration, "tester")
    found = mapping.find_account_matches(board)
    assert board.pending and zen not in found.suggestions
    board.unmap(zen)
    assert board.vendor_by_id[zen].suggestions == []  # the matcher gives them, off this thread
    board.fill_in(found)
    top, score = board.vendor_by_id[zen].suggestions[0]
    assert board.psa_by_id[top].label == "Zenith Freight" and round(score) == 83


def test_a_service_named_as_a_product_is_mapped_on_opening(ctx: Context) -> None:
    products = [("SPAM-ADV", "Spam filter advanced"), ("ARCHIVING", "Email archiving, one year"),
                ("ARCH-10Y", "Email archiving, ten years")]  # fmt: skip
    board = service_board(products, ["Spam Filter, Advanced", "archiving", "Total Licenses"])
    spamtitan = board.integration
    # The same words as a description, and the same as an identifier: mapped, and said so.
    assert service_pairs() == {("Spam Filter, Advanced", "SPAM-ADV"), ("archiving", "ARCHIVING")}
    by_name = {v.label: v for v in board.vendor}
    assert by_name["archiving"].method == "exact"
    assert not by_name["Total Licenses"].mapped  # nothing the same: left to the operator
    assert AuditEvent.select().where(AuditEvent.action == "services.auto_map").count() == 1
    # Unmapped by the operator, it stays theirs: opened again, it is not mapped back.
    board.unmap(by_name["archiving"].id)
    again = load_service_board(spamtitan, "tester")
    assert service_pairs() == {("Spam Filter, Advanced", "SPAM-ADV")}
    assert [v.label for v in again.vendor if v.mapped] == ["Spam Filter, Advanced"]
    # Opened again, the board still says how the mapping was made.
    assert {v.label: v.method for v in again.vendor if v.mapped} == {
        "Spam Filter, Advanced": "exact"
    }
    # Mapped by hand, then the mapping is the operator's, and says so.
    archiving = next(v for v in again.vendor if v.label == "archiving")
    again.pair(archiving.id, next(p.id for p in again.psa if p.label == "ARCH-10Y"))
    third = load_service_board(spamtitan, "tester")
    assert {v.label: v.method for v in third.vendor if v.mapped} == {
        "Spam Filter, Advanced": "exact",
        "archiving": "manual",
    }


def test_an_account_the_operator_unmapped_is_not_mapped_back_when_the_board_opens(
    ctx: Context,
) -> None:
    board = account_board()  # opening it mapped the exact match
    acme = account_of("Acme Dental").id
    assert board.vendor_by_id[acme].method == "exact" and mapping_of("Acme Dental")
    board.unmap(acme)
    again = read_account_board(board.integration, "tester")
    filled = mapping.match_account_board(again)
    assert (filled.exact, filled.left, filled.kept) == (0, 0, 1)
    assert mapping_of("Acme Dental") is None and not again.vendor_by_id[acme].mapped
    assert again.vendor_by_id[acme].suggestions[0][1] == 100  # offered, not applied
    # Mapped again by the operator, it is an account like any other.
    again.accept_suggestion(acme)
    assert not account_of("Acme Dental").kept_unmapped
    assert load_account_board(board.integration, "tester").vendor_by_id[acme].mapped


async def test_o_puts_the_accounts_with_the_most_licences_first(ctx: Context) -> None:
    account_board()  # the store: companies, accounts, the exact match mapped
    spamtitan = Integration.get(Integration.name == "spamtitan")
    service = VendorService.create(integration=spamtitan, external_id="t", name="Total Licenses")
    for name, quantity in [("Zen Freight", 250), ("Harbour Realty LLC", 40), ("Acme Dental", 9)]:
        UsageCount.create(account=account_of(name), service=service, quantity=quantity)
    app = PanelApp(read_account_board(spamtitan, "tester"))
    async with app.run_test(size=(80, 24)) as pilot:
        panel, _, vendor = lists(app)
        await pilot.press("right", "o")
        assert [v.label for v in vendor.rows][:3] == ["Zen Freight", "Harbour Realty LLC",
                                                      "Acme Dental"]  # fmt: skip
        assert panel.format_vendor_row(vendor.rows[0], 60).plain.startswith("   250 Zen Freight")
        assert "the most licences first" in str(panel.query_one("#mapping-status").content)
        assert detail_of(panel).startswith("Zen Freight (")  # the cursor at the top
        assert "· 250 licences" in detail_of(panel)
        await pilot.press("f")  # a filter keeps the order: unmapped, most licences first
        assert [v.label for v in vendor.rows][:2] == ["Zen Freight", "Harbour Realty LLC"]
        await pilot.press("o")  # and back to names
        assert [v.label for v in vendor.rows] == sorted(v.label for v in vendor.rows)
