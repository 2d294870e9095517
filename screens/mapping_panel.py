"""MappingPanel: pair vendor accounts (or services) with PSA companies (or products).

PSA on the left, vendor on the right, each with a search box, a filter and a PairingList.
Pairing is a keyboard drag: pick a row up with space, go to the other list, drop it with
enter; a mouse drag does the same. Every change goes straight to the board, which saves it
(msp_tui.mapping); the panel only draws the board's state and posts `Changed` with its counts.

A board read but not matched yet (`MappingBoard.pending`) is shown at once: the panel runs the
matcher in a thread worker after its first frame, and redraws when the exact matches are mapped
and the suggestions are in (`FilledIn`). Keys work meanwhile; what the operator does to an
account before the matcher lands is kept (see `MappingBoard.fill_in`).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import DescendantFocus
from textual.message import Message
from textual.screen import ModalScreen
from textual.style import Style as VisualStyle
from textual.widget import Widget
from textual.widgets import Button, Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from msp_tui import mapping
from msp_tui.mapping import Counts, Filter, MappingBoard, PsaEntry, VendorEntry
from msp_tui.sources import PsaWords, psa_words
from screens.pairing import PairingList, RowFormatter
from screens.shown import plain

Side = Literal["psa", "vendor"]
VENDOR_FILTERS: tuple[Filter, ...] = ("all", "unmapped", "suggested", "mapped")
PSA_FILTERS: tuple[Filter, ...] = ("all", "unmapped", "mapped")
DEFAULT_THRESHOLD = 90.0
NOTE_MATCHING_FROM = 1_000_000
"""A board this big (open accounts x PSA companies) says it is matching while it is: the matcher
takes a tenth of a second or more there. A smaller one fills in before anyone could read it."""

MAPPING_HELP = """\
## Mapping
PSA companies (or products) on the left, the vendor's accounts (or services) on the right.
Every change is saved at once.

- **space** picks up the highlighted row; **tab** / **shift+tab** (or **left** / **right**)
  go to the other list; **enter** drops it on the highlighted row there, which maps the two.
  **esc** puts it down. With nothing carried, **enter** picks up too.
- **a** accepts the highlighted vendor row's top suggestion and moves on to the next row;
  **A** lists every open suggestion scoring at least the threshold (90 unless set otherwise),
  each ticked and saying why it is suggested: **space** unticks a row, **y** maps the rest.
- **u** unmaps the highlighted vendor row (a service loses all its products);
  **x** leaves an account out of mapping, or takes it back in (accounts only).
- **/** searches the focused list (a product by its {product_id} or description);
  **f** cycles its filter: all, unmapped, suggested, mapped. **esc** clears the search.
  **o** orders the vendor accounts by name or with the most licences first (the unmapped
  ones with the most licences are the revenue to clear first).
- Mouse: drag a row onto a row of the other list.

Vendor rows: `= Acme` exact match, mapped automatically; `→ Acme` mapped by hand or by an
accepted suggestion; `~92 Acme?` a suggestion and its score, not applied; `x excluded`. The
line below the lists says why each suggestion is made: a similar name, the leading part of a
longer name, initials, the same name with another legal form or shared by several companies.
PSA rows: `✓` already mapped from at least one vendor row.
"""


def mapping_help(words: PsaWords) -> str:
    return MAPPING_HELP.format(product_id=words.product_id)


def spread(left: Content, right: Content, width: int, share: int) -> Content:
    """`left`, then `right` against the right edge, in `width` cells. When both do not fit,
    `right` gets what `left` leaves it but never under `share` percent; cut text ends in "…"."""
    if not right.cell_length:
        return left.truncate(width, ellipsis=True, pad=True)
    if left.cell_length + 1 + right.cell_length > width:
        right = right.truncate(max(width - left.cell_length - 1, width * share // 100),
                               ellipsis=True)  # fmt: skip
    left = left.truncate(max(1, width - right.cell_length - 1), ellipsis=True, pad=True)
    return Content.assemble(left, " ", right)


MATCH_AFTER_S = 0.1  # from mounting the panel to starting the matcher


class MappingList(PairingList):
    """One side of the panel; enter picks up or drops, and the footer says so."""

    HELP = MAPPING_HELP.format(product_id="Product ID")
    BINDINGS = [
        Binding("enter", "select", "Drop", id="mapping.drop",
                tooltip="Drop what you carry on the highlighted row (or pick this row up)."),
    ]  # fmt: skip

    def __init__(self, side: Side, format_row: RowFormatter, *, id: str) -> None:
        super().__init__(format_row, id=id)
        self.side: Side = side


class MappingPanel(Widget):
    HELP = MAPPING_HELP.format(product_id="Product ID")

    BINDINGS = [
        Binding("space", "pick_up", "Pick up", id="mapping.pick_up",
                tooltip="Pick up the highlighted row, to drop it on a row of the other list."),
        Binding("a", "accept", "Accept", id="mapping.accept",
                tooltip="Map the highlighted vendor row to its top suggestion."),
        Binding("A", "accept_all", "Accept all", id="mapping.accept_all",
                tooltip="Map every open vendor row whose top suggestion scores at least the"
                " threshold (asks first)."),
        Binding("u", "unmap", "Unmap", id="mapping.unmap",
                tooltip="Remove the highlighted vendor row's mapping."),
        Binding("x", "exclude", "Exclude", id="mapping.exclude",
                tooltip="Leave the highlighted vendor account out of mapping, or take it back."),
        Binding("f", "cycle_filter", "Filter", id="mapping.filter",
                tooltip="Show all, unmapped, suggested or mapped rows of the focused list."),
        Binding("o", "order", "Order", id="mapping.order",
                tooltip="Vendor rows by name, or the most licences first."),
        Binding("slash", "search", "Search", id="mapping.search", key_display="/",
                tooltip="Type to narrow the focused list."),
        Binding("tab", "other_list", "Other list", id="mapping.next_list",
                tooltip="Go to the other list."),
        Binding("shift+tab", "other_list", "Other list", id="mapping.previous_list",
                show=False, tooltip="Go to the other list."),
        Binding("left", "focus_list('psa')", "PSA list", id="mapping.psa_list", show=False,
                tooltip="Go to the PSA list on the left."),
        Binding("right", "focus_list('vendor')", "Vendor list", id="mapping.vendor_list",
                show=False, tooltip="Go to the vendor list on the right."),
        Binding("down", "list_below", "To the list", id="mapping.list_below", show=False,
                tooltip="From a search box, go to the list under it."),
        Binding("escape", "cancel", "Cancel", id="mapping.cancel",
                tooltip="Put down what you carry, or clear the search."),
    ]  # fmt: skip

    COMPONENT_CLASSES = {
        "mapping-panel--mapped",
        "mapping-panel--suggested",
        "mapping-panel--excluded",
        "mapping-panel--detail",
    }

    class Changed(Message):
        """A mapping, exclusion or acceptance was saved; `counts` is the board's new tally."""

        def __init__(self, panel: MappingPanel, counts: Counts) -> None:
            super().__init__()
            self.panel = panel
            self.counts = counts

        @property
        def control(self) -> MappingPanel:
            return self.panel

    class FilledIn(Message):
        """The matcher, run in a thread, has mapped the exact matches and given suggestions."""

        def __init__(self, panel: MappingPanel, filled: mapping.FilledIn) -> None:
            super().__init__()
            self.panel = panel
            self.filled = filled

        @property
        def control(self) -> MappingPanel:
            return self.panel

    def __init__(
        self,
        board: MappingBoard,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.board = board
        self.threshold = threshold
        """`A` accepts the open suggestions scoring at least this."""
        self.filters: dict[Side, Filter] = {"psa": "all", "vendor": "all"}
        self.by_usage = False  # vendor rows: the most licences first (o), else by name
        self.carrying: tuple[Side, PsaEntry | VendorEntry] | None = None
        self.status = ""
        """The last thing done, shown under the lists when nothing is carried."""
        self._psa_uses: dict[int, int] = {}
        self._styles: dict[str, VisualStyle] = {}
        self._detail_side: Side = "vendor"
        self.matching = board.pending
        """The matcher is running (in a thread); its results are not shown yet."""
        open_accounts = sum(1 for v in board.vendor if not v.mapped and not v.excluded)
        self._matching_noted = board.pending and (
            open_accounts * len(board.psa) >= NOTE_MATCHING_FROM
        )
        """The board says it is matching (a big one, see `NOTE_MATCHING_FROM`)."""
        accounts = board.kind == "accounts"
        self.psa_noun = "PSA companies" if accounts else "PSA products"
        self.vendor_noun = "Vendor accounts" if accounts else "Vendor services"
        # Made here, not in compose: the footer asks check_action about them as soon as the
        # panel is in the DOM, which can be before its children are.
        words = psa_words()
        short_id = words.product_id.split()[-1]  # "ID", "name": the search box is narrow
        by_id = f"{short_id[:1].upper()}{short_id[1:]} or description"
        psa_hint = "Search companies" if accounts else by_id
        vendor_hint = "Search accounts" if accounts else "Search services"
        self._searches: dict[Side, Input] = {
            "psa": Input(placeholder=f"/ {psa_hint}", id="psa-search", compact=True),
            "vendor": Input(placeholder=f"/ {vendor_hint}", id="vendor-search", compact=True),
        }
        self._lists: dict[Side, MappingList] = {
            "psa": MappingList("psa", self.format_psa_row, id="psa-list"),
            "vendor": MappingList("vendor", self.format_vendor_row, id="vendor-list"),
        }
        # The help in the PSA's words (screens/help.py reads HELP off the widget)
        self.HELP = mapping_help(words)
        for mapping_list in self._lists.values():
            mapping_list.HELP = self.HELP

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="mapping-columns"):
            for side in ("psa", "vendor"):
                with Vertical(id=f"{side}-side", classes="mapping-side"):
                    with Horizontal(classes="mapping-search-row"):
                        yield self._searches[side]
                        yield Static(id=f"{side}-filter", classes="mapping-filter")
                    yield self._lists[side]
        yield Static(id="mapping-status")
        yield Static(id="mapping-detail")

    def on_mount(self) -> None:
        self._recount()
        self._show_side("psa")
        self._show_side("vendor")
        self._show_titles(self.board.counts())
        state = getattr(self.app, "sync_state", None)  # a bare host app (benches) has none
        if not self.board.psa and state is not None and state.psa_syncing:
            self.status = (f"The PSA is syncing: its {self.psa_noun.split()[-1]} and"
                           " suggestions fill in when it ends.")  # fmt: skip
        elif not self.board.psa:  # B11: an empty left list says why and what to do
            self.status = (f"No {self.psa_noun} yet: connect the PSA (its card on Home, or"
                           " ctrl+p) and let it sync; this board fills in when the sync ends,"
                           " and nothing here is lost meanwhile.")  # fmt: skip
        self._show_status()
        if self.screen.focused is None:
            self.list_for("psa").focus()
        # The first frame names the highlighted row of the list in use, whatever comes next.
        self._detail_side = self._side_of(self.screen.focused) or self._detail_side
        self._show_detail()
        # Watching the value (not waiting for Input.Changed to bubble up) filters inside the
        # keystroke, so the narrowed list is drawn in the same frame as the typed character.
        self.watch(self.search_for("psa"), "value", self._psa_query_changed, init=False)
        self.watch(self.search_for("vendor"), "value", self._vendor_query_changed, init=False)
        if self.matching:
            # After the first frame: the lists are drawn before the matcher takes the GIL.
            # (call_after_refresh comes after the layout but before the frame is written;
            # frames are written at most every 1/60 s, so a few frames' wait is enough.)
            self.set_timer(MATCH_AFTER_S, self._start_matching)

    def list_for(self, side: Side) -> MappingList:
        return self._lists[side]

    def search_for(self, side: Side) -> Input:
        return self._searches[side]

    # --- rows ----------------------------------------------------------------------------------

    def vendor_state(self, entry: VendorEntry) -> tuple[str, str]:
        """The mark a vendor row shows, and the component class that colours it."""
        if entry.mapped:
            names = [self._psa_label(p) for p in sorted(entry.mapped)]
            target = names[0] if len(names) == 1 else f"{names[0]} +{len(names) - 1}"
            return f"{'=' if entry.method == 'exact' else '→'} {target}", "mapped"
        if entry.excluded:
            return "x excluded", "excluded"
        if top := entry.top_suggestion:
            return f"~{top[1]:.0f} {self._psa_label(top[0])}?", "suggested"
        return "", ""

    def format_vendor_row(self, entry: VendorEntry, width: int) -> Content:
        state, tone = self.vendor_state(entry)
        mark = Content.styled(state, self._style(tone)) if tone else Content("")
        label = Content(plain(entry.label))
        if entry.excluded and not entry.mapped:
            label = label.stylize(self._style("excluded"))
        if self.by_usage:
            label = Content.styled(f"{entry.usage:>6,.0f} ", self._style("detail")) + label
        return spread(label, mark, width, 45)

    def format_psa_row(self, entry: PsaEntry, width: int) -> Content:
        used = self._psa_uses.get(entry.id, 0)
        mark = Content.styled("✓ ", self._style("mapped")) if used else Content("  ")
        detail = Content.styled(plain(entry.detail), self._style("detail"))
        return mark + spread(Content(plain(entry.label)), detail, max(1, width - 2), 40)

    def _style(self, part: str) -> VisualStyle:
        """A component class's style, looked up once (and again after a CSS change), not for
        every span of every row drawn: that lookup was most of a row's cost."""
        style = self._styles.get(part)
        if style is None:
            style = self._styles[part] = self.get_visual_style(f"mapping-panel--{part}",
                                                               partial=True)  # fmt: skip
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def _psa_label(self, psa_id: int) -> str:
        entry = self.board.psa_by_id.get(psa_id)
        return plain(entry.label) if entry else f"#{psa_id} (gone from the PSA)"

    # --- showing the board ---------------------------------------------------------------------

    def _recount(self) -> None:
        uses: dict[int, int] = {}
        for entry in self.board.vendor:
            for psa_id in entry.mapped:
                uses[psa_id] = uses.get(psa_id, 0) + 1
        self._psa_uses = uses

    def _show_side(self, side: Side) -> None:
        query = self.search_for(side).value
        which = self.filters[side]
        if side == "psa":
            rows: list = self.board.psa_view(query, which)
        else:
            rows = self.board.vendor_view(query, which, self.by_usage)
        self.list_for(side).set_rows(rows)
        # Fixed sizes (see the .tcss): a keystroke repaints these lines, it never lays out.
        self.query_one(f"#{side}-filter", Static).update(f"▾ {which} {len(rows)}", layout=False)

    def _show_titles(self, c: Counts) -> None:
        psa, vendor = self.list_for("psa"), self.list_for("vendor")
        psa.border_title = f"{self.psa_noun} {c.psa_total} · mapped {c.psa_mapped}"
        psa.border_subtitle = f"unmapped {c.psa_total - c.psa_mapped}"
        vendor.border_title = f"{self.vendor_noun} {c.vendor_total} · mapped {c.mapped}"
        suggested = "matching…" if self._matching_noted else f"suggested {c.suggested}"
        vendor.border_subtitle = f"unmapped {c.unmapped} · {suggested}" + (
            f" · excluded {c.excluded}" if c.excluded else ""
        )

    def _show_status(self) -> None:
        line = self.query_one("#mapping-status", Static)
        line.set_class(self.carrying is not None, "-carrying")
        if self.carrying is None:
            # Not markup: the status names vendor accounts and PSA companies.
            text = self.status or "space pick up · enter drop · a accept · ? help"
            line.update(Content(plain(text)), layout=False)
            return
        side, item = self.carrying
        other = "vendor" if side == "psa" else "PSA"
        width = line.content_region.width or 78
        label = Content(plain(item.label))
        # The longest instructions that fit beside the whole name; at 80 columns, names win.
        for how in (
            f" — move to the {other} list and press enter to drop, esc to put down",
            f" — move to the {other} list, enter drops, esc cancels",
            " — enter drops, esc cancels",
        ):
            if len("Carrying: ") + label.cell_length + len(how) <= width:
                break
        label = label.truncate(max(12, width - len("Carrying: ") - len(how)), ellipsis=True)
        line.update(Content.assemble("Carrying: ", label, how), layout=False)

    def _show_detail(self) -> None:
        side = self._detail_side
        item = self.list_for(side).highlighted_item
        detail = self.query_one("#mapping-detail", Static)
        if item is None:
            detail.update("Nothing matches.", layout=False)
            return
        if side == "vendor":
            first = f"{item.label} ({item.detail}): " + self._vendor_summary(item)
            tops = " · ".join(
                f"{score:.0f} {self._psa_label(p)}" + (f" ({item.why[p]})" if p in item.why else "")
                for p, score in item.suggestions[:3]
            )
            second = f"Suggestions: {tops}" if tops else "No suggestions."
            if not tops and self._matching_noted and not item.mapped and not item.excluded:
                second = "Suggestions: still matching…"
        else:
            first = f"{item.label} · {item.detail}" if item.detail else item.label
            names = [v.label for v in self.board.mapped_vendor_for(item.id)]
            second = f"Mapped from: {', '.join(names)}" if names else "Not mapped from anything."
        detail.update(Content(plain(first)).append("\n").append(plain(second)), layout=False)

    def _vendor_summary(self, entry: VendorEntry) -> str:
        licences = f" · {entry.usage:,.0f} licences" if entry.usage else ""
        return self._vendor_state_words(entry) + licences

    def _vendor_state_words(self, entry: VendorEntry) -> str:
        if entry.mapped:
            names = ", ".join(self._psa_label(p) for p in sorted(entry.mapped))
            return f"mapped to {names} ({entry.method or 'manual'})"
        return "excluded" if entry.excluded else "not mapped"

    def _changed(self, status: str) -> None:
        """After a saved change: redraw both sides and tell whoever listens."""
        self.status = status
        self._recount()
        self._show_side("psa")  # new rows (a filter may now leave some out), drawn afresh
        self._show_side("vendor")
        counts = self.board.counts()
        self._show_titles(counts)
        self._show_status()
        self._show_detail()
        self.post_message(self.Changed(self, counts))

    # --- matching, in a thread -----------------------------------------------------------------

    def _start_matching(self) -> None:
        """Run the matcher in a thread worker of the app's, not the panel's: once started, its
        exact matches are mapped even if the panel is gone before they are in (a board read
        again, the wizard left with Esc)."""
        self.app.run_worker(partial(self._match, self.board), thread=True,
                            group="mapping-match", description="mapping-match")  # fmt: skip

    def _match(self, board: mapping.MappingBoard) -> None:
        found = mapping.find_account_matches(board)
        # Saved whether or not the panel is still shown (another board of the integration
        # may have saved them meanwhile: `fill_in` reads the store in its transaction).
        filled = board.fill_in(found)
        self.post_message(self.FilledIn(self, filled))  # dropped if the panel is gone

    @on(FilledIn)
    def _filled_in(self, event: FilledIn) -> None:
        if event.panel is not self:
            return
        noted, self._matching_noted = self._matching_noted, False
        self.matching = False
        filled = event.filled
        if filled.exact or filled.left or filled.kept or noted:
            exact = f"{filled.exact} exact {'match' if filled.exact == 1 else 'matches'} mapped"
            aside = [f"{filled.left} changed meanwhile"] if filled.left else []
            aside += [f"{filled.kept} unmapped by you"] if filled.kept else []
            left = f" ({', '.join(aside)}: suggested)" if aside else ""
            self.status = f"{exact}{left}; {filled.suggested} with suggestions."
        self._recount()
        self._show_side("psa")
        self._show_side("vendor")
        counts = self.board.counts()
        self._show_titles(counts)
        self._show_status()
        self._show_detail()
        if filled.exact:
            self.post_message(self.Changed(self, counts))

    # --- events --------------------------------------------------------------------------------

    def _psa_query_changed(self) -> None:
        self._show_side("psa")

    def _vendor_query_changed(self) -> None:
        self._show_side("vendor")

    @on(Input.Submitted)
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_list_below()

    @on(PairingList.Highlighted)
    def _highlighted(self, event: PairingList.Highlighted) -> None:
        # The detail follows the list in use (focused, or its search being typed in): a
        # highlight the other list posts meanwhile (as both fill in on opening) does not take
        # it over.
        pairing_list = event.pairing_list
        if not isinstance(pairing_list, MappingList):
            return
        if not self.has_focus_within or self._side_of(self.screen.focused) == pairing_list.side:
            self._detail_side = pairing_list.side
            self._show_detail()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # Shown on every focus, not only when the side changes: a highlight posted while the
        # other list had the focus was passed over (see `_highlighted`).
        side = self._side_of(event.widget)
        if side is not None:
            self._detail_side = side
            self._show_detail()

    @on(PairingList.Selected)
    def _selected(self, event: PairingList.Selected) -> None:
        event.stop()
        if not isinstance(event.pairing_list, MappingList):
            return
        side = event.pairing_list.side
        if self.carrying is not None and self.carrying[0] != side:
            self._drop(self.carrying[1], event.item)
        else:
            self._pick_up(side, event.item)

    @on(PairingList.Dropped)
    def _dropped(self, event: PairingList.Dropped) -> None:
        event.stop()
        source, target = event.source_list, event.target_list
        if isinstance(source, MappingList) and isinstance(target, MappingList):
            self._drop(event.item, event.target_item)

    # --- carrying ------------------------------------------------------------------------------

    def _pick_up(self, side: Side, item: PsaEntry | VendorEntry) -> None:
        self._put_down()
        self.carrying = (side, item)
        self.list_for(side).set_marked(item)
        self._show_status()
        self.refresh_bindings()  # esc now has something to put down

    def _put_down(self) -> None:
        if self.carrying is not None:
            self.list_for(self.carrying[0]).set_marked(None)
            self.carrying = None
            self._show_status()
            self.refresh_bindings()

    def _drop(self, carried: PsaEntry | VendorEntry, target: PsaEntry | VendorEntry) -> None:
        self._put_down()
        vendor, psa = (carried, target) if isinstance(carried, VendorEntry) else (target, carried)
        if psa.id in vendor.mapped:
            self._say(f"{vendor.label} is already mapped to {psa.label}.")
            return
        replaced = vendor.mapped if self.board.kind == "accounts" else set()
        was = f" (was {self._psa_label(next(iter(replaced)))})" if replaced else ""
        self.board.pair(vendor.id, psa.id, "manual")
        self._changed(f"Mapped {vendor.label} → {psa.label}{was}.")

    def _say(self, status: str) -> None:
        self.status = status
        self._show_status()

    # --- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("exclude", "order"):  # services have no licences of their own
            return self.board.kind == "accounts"
        if action == "cancel":  # with nothing to cancel, esc is left to the screen (Back)
            focused = self.app.focused
            search = self.search_for(self.focused_side())
            return self.carrying is not None or bool(search.value) or focused is search
        return True

    def _side_of(self, widget: Widget | None) -> Side | None:
        for side in ("psa", "vendor"):
            if widget is self.list_for(side) or widget is self.search_for(side):
                return side
        return None

    def focused_side(self) -> Side:
        return self._side_of(self.app.focused) or "vendor"

    def _vendor_row(self) -> VendorEntry | None:
        entry = self.list_for("vendor").highlighted_item
        if entry is None:
            self.app.bell()
        return entry

    def action_pick_up(self) -> None:
        side = self.focused_side()
        item = self.list_for(side).highlighted_item
        if item is None:
            self.app.bell()
            return
        self._pick_up(side, item)

    def action_accept(self) -> None:
        entry = self._vendor_row()
        if entry is None:
            return
        top = entry.top_suggestion
        if top is None and self.matching and not entry.mapped and not entry.excluded:
            self._say(f"{entry.label}: still matching, its suggestions come in a moment.")
        elif top is None:
            self._say(f"{entry.label} has no suggestion: pick a PSA row up and drop it here.")
        elif self.board.kind == "accounts" and entry.mapped:
            self._say(f"{entry.label} is already mapped: u unmaps it first.")
        elif top[0] in entry.mapped:
            self._say(f"{entry.label} is already mapped to {self._psa_label(top[0])}.")
        else:
            self.board.accept_suggestion(entry.id)
            self._changed(f"Mapped {entry.label} → {self._psa_label(top[0])} (suggested).")
            vendor = self.list_for("vendor")
            if vendor.highlighted_item is entry:  # still shown (no filter took it away)
                vendor.move_cursor(vendor.cursor + 1)  # a: on to the next row

    def action_accept_all(self) -> None:
        if self.matching:
            self._say("Still matching: the suggestions come in a moment.")
            return
        open_rows = self.board.suggestions_above(self.threshold)
        if not open_rows:
            self._say(f"No open suggestion scores {self.threshold:g} or more.")
            return
        rows = []
        for entry in open_rows:
            psa_id, score = entry.suggestions[0]
            why = f" ({entry.why[psa_id]})" if psa_id in entry.why else ""
            rows.append((entry.id, f"{entry.label} → {self._psa_label(psa_id)} {score:.0f}{why}"))
        noun = self.vendor_noun.lower() if len(rows) != 1 else self.vendor_noun.lower()[:-1]
        self.app.push_screen(AcceptAllDialog(rows, noun, self.threshold), self._accept_all)

    def _accept_all(self, chosen: list[int] | None) -> None:
        if chosen:
            self._say(f"Accepting the suggestions scoring {self.threshold:g} or more…")
            self._accept_all_in_thread(self.threshold, set(chosen))

    @work(thread=True, group="mapping-accept-all", description="mapping-accept-all")
    def _accept_all_in_thread(self, threshold: float, chosen: set[int]) -> None:
        # A thousand mappings are a fifth of a second of saving: not on the UI thread.
        count = self.board.accept_all(threshold, only=chosen)
        self.post_message(self.AcceptedAll(self, count, threshold))

    class AcceptedAll(Message):
        """`A`'s mappings are saved (in a thread worker)."""

        def __init__(self, panel: MappingPanel, count: int, threshold: float) -> None:
            super().__init__()
            self.panel, self.count, self.threshold = panel, count, threshold

    @on(AcceptedAll)
    def _accepted_all(self, event: AcceptedAll) -> None:
        event.stop()
        noun = "suggestion" if event.count == 1 else "suggestions"
        self._changed(f"Accepted {event.count} {noun} scoring {event.threshold:g} or more.")

    def action_unmap(self) -> None:
        entry = self._vendor_row()
        if entry is None:
            return
        if not entry.mapped:
            self._say(f"{entry.label} is not mapped.")
            return
        self.board.unmap(entry.id)
        self._changed(f"Unmapped {entry.label}.")

    def action_exclude(self) -> None:
        entry = self._vendor_row()
        if entry is None:
            return
        was_mapped = bool(entry.mapped)
        self.board.exclude(entry.id, not entry.excluded)
        if not entry.excluded:
            self._changed(f"Included {entry.label} again.")
        else:
            unmapped = " and unmapped it" if was_mapped else ""
            self._changed(f"Excluded {entry.label}{unmapped}.")

    def action_cycle_filter(self) -> None:
        side = self.focused_side()
        order = PSA_FILTERS if side == "psa" else VENDOR_FILTERS
        self.filters[side] = order[(order.index(self.filters[side]) + 1) % len(order)]
        self._show_side(side)

    def action_order(self) -> None:
        self.by_usage = not self.by_usage
        vendor = self.list_for("vendor")
        vendor.refresh_rows()  # drawn with their licences, or without
        self._show_side("vendor")
        vendor.move_cursor(0)  # the top of the new order, not the old row wherever it went
        order = "the most licences first (o: by name)" if self.by_usage else (
            "by name (o: the most licences first)")  # fmt: skip
        self._say(f"{self.vendor_noun}: {order}.")

    def action_search(self) -> None:
        # At once: the keys typed right after / are the search's (see MspTuiApp._on_key).
        self.screen.set_focus(self.search_for(self.focused_side()))

    def action_other_list(self) -> None:
        side = self._side_of(self.app.focused)
        if side is not None and self.app.focused is self.search_for(side):
            self.list_for(side).focus()
        else:
            self.list_for("vendor" if side == "psa" else "psa").focus()

    def action_focus_list(self, side: Side) -> None:
        self.list_for(side).focus()

    def action_list_below(self) -> None:
        self.list_for(self.focused_side()).focus()

    def action_cancel(self) -> None:
        side = self.focused_side()
        search = self.search_for(side)
        if self.carrying is not None:
            self._put_down()
        elif self.app.focused is search:  # esc in the search: cleared, and back to the list
            search.value = ""
            self.list_for(side).focus()
        elif search.value:
            search.value = ""


class AcceptAllDialog(ModalScreen[list[int] | None]):
    """Shows what `A` would map, every row ticked: space unticks one, y (or the button) maps
    the ticked ones. Dismissed with their vendor ids, or None."""

    HELP = """\
## Accept all suggestions
Lists every open vendor row whose top suggestion scores at least the threshold, with why it
is suggested. **space** unticks a row (or ticks it again), **y** maps the ticked rows,
**n** or **esc** goes back without mapping. Each mapping can be undone afterwards with **u**.
"""

    BINDINGS = [
        Binding("y", "answer(True)", "Map ticked", id="accept_all.confirm",
                tooltip="Map the ticked rows."),
        Binding("n,escape", "answer(False)", "Cancel", id="accept_all.cancel",
                tooltip="Go back without mapping anything."),
    ]  # fmt: skip

    def __init__(self, rows: list[tuple[int, str]], noun: str, threshold: float) -> None:
        super().__init__()
        self.rows = rows
        self.question = (f"Map {len(rows)} {noun} to the top suggestion of each"
                         f" (score {threshold:g}+)?")  # fmt: skip

    def compose(self) -> ComposeResult:
        with Vertical(id="accept-all-box"):
            yield Static(self.question, id="accept-all-question")
            yield Static("space unticks a row · each can be undone later with u.",
                         id="accept-all-note")  # fmt: skip
            yield SelectionList[int](
                *(Selection(Content(plain(text)), id, True) for id, text in self.rows),
                id="accept-all-rows",
            )
            with Horizontal(id="accept-all-buttons"):
                yield Button(f"Map {len(self.rows)}", id="accept-all-yes", variant="primary")
                yield Button("Cancel", id="accept-all-no")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(SelectionList.SelectedChanged)
    def _ticked(self) -> None:
        count = len(self.query_one(SelectionList).selected)
        yes = self.query_one("#accept-all-yes", Button)
        yes.label = f"Map {count}"
        yes.disabled = not count

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "accept-all-yes")

    def action_answer(self, confirmed: bool) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected) if confirmed else None)
