"""PairingList: a keyboard-first list for thousands of rows, one of the two sides of a mapping.

It is a line-API view (see Toolong in STYLE.md): it keeps the rows as plain objects and renders
only the lines on screen, so filtering 5,000 rows replaces one Python list instead of building
5,000 widgets. What a row shows is the caller's business: a formatter turns an object into one
line of `Content` for a given width. A mouse drag from one PairingList onto a row of another
posts `Dropped`; the list does not know what dropping means.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.content import Content
from textual.errors import NoWidget
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual

RowFormatter = Callable[[Any, int], "Content | Strip | str"]
"""(row, width in cells) -> one line; longer lines are cut with an ellipsis."""


class PairingList(ScrollView, can_focus=True, inherit_bindings=False):
    HELP = """\
## List
Move with **up**/**down**, **page up**/**page down**, **home**/**end**; **enter** selects
the highlighted row. With a mouse, click a row to highlight it, double-click to select it, or
drag it onto a row of the list beside it.
"""

    BINDINGS = [
        Binding("up", "cursor_up", "Up", id="pairing.cursor_up", show=False,
                tooltip="Highlight the row above."),
        Binding("down", "cursor_down", "Down", id="pairing.cursor_down", show=False,
                tooltip="Highlight the row below."),
        Binding("pageup", "page_up", "Page up", id="pairing.page_up", show=False,
                tooltip="Move the highlight up one screenful."),
        Binding("pagedown", "page_down", "Page down", id="pairing.page_down", show=False,
                tooltip="Move the highlight down one screenful."),
        Binding("home", "first", "First", id="pairing.first", show=False,
                tooltip="Highlight the first row."),
        Binding("end", "last", "Last", id="pairing.last", show=False,
                tooltip="Highlight the last row."),
        Binding("enter", "select", "Select", id="pairing.select",
                tooltip="Select the highlighted row."),
    ]  # fmt: skip

    COMPONENT_CLASSES = {"pairing-list--row", "pairing-list--cursor", "pairing-list--marked"}

    class Highlighted(Message):
        """The cursor moved to another row (`item` is None when the list is empty)."""

        def __init__(self, pairing_list: PairingList, item: Any | None) -> None:
            super().__init__()
            self.pairing_list = pairing_list
            self.item = item

        @property
        def control(self) -> PairingList:
            return self.pairing_list

    class Selected(Message):
        """Enter was pressed on a row."""

        def __init__(self, pairing_list: PairingList, item: Any) -> None:
            super().__init__()
            self.pairing_list = pairing_list
            self.item = item

        @property
        def control(self) -> PairingList:
            return self.pairing_list

    class Dropped(Message):
        """A row of `source_list` was dragged with the mouse onto a row of `target_list`."""

        def __init__(self, source_list: PairingList, item: Any, target_list: PairingList,
                     target_item: Any) -> None:  # fmt: skip
            super().__init__()
            self.source_list = source_list
            self.item = item
            self.target_list = target_list
            self.target_item = target_item

        @property
        def control(self) -> PairingList:
            return self.source_list

    def __init__(
        self,
        format_row: RowFormatter,
        rows: Sequence[Any] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.format_row = format_row
        self._rows: list[Any] = list(rows)
        self.cursor = 0
        """Index of the highlighted row (0 when empty)."""
        self.marked: Any | None = None
        """A row drawn apart from the rest, such as the one being carried."""
        self._lines: LRUCache[tuple[int, str, int], Strip] = LRUCache(256)
        self._drag_item: Any | None = None
        self._announced: Any | None = None

    # --- rows ----------------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[Any]:
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def highlighted_item(self) -> Any | None:
        return self._rows[self.cursor] if self._rows else None

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Show `rows`; the cursor stays on the same object when it is still there, otherwise
        on the same position."""
        current = self.highlighted_item
        self._rows = list(rows)
        index = next((i for i, row in enumerate(self._rows) if row is current), None)
        self.cursor = self._clamp(self.cursor if index is None else index)
        self._lines.clear()
        self._size_to_rows()
        self.scroll_to_cursor()
        self.refresh()
        self._announce()

    def _size_to_rows(self) -> None:
        size = Size(self.scrollable_content_region.width, len(self._rows))
        if size != self.virtual_size:
            # Only the scroll range changes, never the list's own size, so this skips the
            # screen layout that setting `virtual_size` asks for (at 80x24 that layout costs
            # more than filtering 5,000 rows); the scrollbar asks for one if it comes or goes.
            self.set_reactive(PairingList.virtual_size, size)
            self._scroll_update(size)

    def refresh_rows(self) -> None:
        """Draw the rows again, after the objects they show have changed."""
        self._lines.clear()
        self.refresh()

    def set_marked(self, item: Any | None) -> None:
        self.marked = item
        self.refresh_rows()

    def index_of(self, item: Any) -> int | None:
        return next((i for i, row in enumerate(self._rows) if row is item), None)

    def row_at(self, screen_y: int) -> Any | None:
        """The row drawn at a screen line, or None (a border, or below the last row)."""
        content = self.content_region
        if not content.y <= screen_y < content.bottom:
            return None
        index = screen_y - content.y + self.scroll_offset.y
        return self._rows[index] if 0 <= index < len(self._rows) else None

    # --- cursor --------------------------------------------------------------------------------

    def _clamp(self, index: int) -> int:
        return max(0, min(index, len(self._rows) - 1))

    def move_cursor(self, index: int) -> None:
        if not self._rows:
            return
        index = self._clamp(index)
        if index != self.cursor:
            old, self.cursor = self.cursor, index
            self._refresh_row(old)
            self._refresh_row(index)
        self.scroll_to_cursor()
        self._announce()

    def move_to(self, item: Any) -> bool:
        """Put the cursor on `item` if it is shown; True if it is."""
        index = self.index_of(item)
        if index is not None:
            self.move_cursor(index)
        return index is not None

    def scroll_to_cursor(self) -> None:
        if self._rows and self.is_mounted and not self.size.height:
            # Not laid out yet: scrolled now, the cursor row would end up at the top and the
            # rows above it (a heading) off screen. Once it has a size, scroll for real.
            self.call_after_refresh(self.scroll_to_cursor)
            return
        if self._rows and self.is_mounted:
            self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, force=True,
                                  immediate=True)  # fmt: skip

    def _announce(self) -> None:
        item = self.highlighted_item
        if item is not self._announced:
            self._announced = item
            self.post_message(self.Highlighted(self, item))

    def _refresh_row(self, index: int) -> None:
        # Cached lines are keyed by how they are drawn, so a cursor move only repaints.
        self.refresh_line(index)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_select(self) -> None:
        item = self.highlighted_item
        if item is not None:
            self.post_message(self.Selected(self, item))

    # --- drawing -------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()

    def _on_resize(self, event: events.Resize) -> None:
        self._lines.clear()
        self._size_to_rows()

    def _on_focus(self, event: events.Focus) -> None:
        self._lines.clear()

    def _on_blur(self, event: events.Blur) -> None:
        self._lines.clear()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, self.get_visual_style("pairing-list--row").rich_style)
        item = self._rows[index]
        if item is self.marked:
            kind = "marked"
        elif index == self.cursor:
            kind = "cursor"
        else:
            kind = "row"
        key = (index, kind, width)
        if (strip := self._lines.get(key)) is None:
            strip = self._lines[key] = self._render_row(item, kind, width)
        return strip

    def _render_row(self, item: Any, kind: str, width: int) -> Strip:
        if kind == "row":
            style = self.get_visual_style("pairing-list--row")
        else:
            style = self.get_visual_style("pairing-list--row", f"pairing-list--{kind}")
        line = self.format_row(item, width)
        if isinstance(line, Strip):
            return line.crop_extend(0, width, style.rich_style)
        content = Content(line) if isinstance(line, str) else line
        content = content.truncate(width, ellipsis=True, pad=True)
        strips = Visual.to_strips(self, content, width, 1, style, pad=True)
        return strips[0].crop_extend(0, width, style.rich_style)

    # --- mouse ---------------------------------------------------------------------------------

    async def _on_mouse_down(self, event: events.MouseDown) -> None:
        if self._drag_item is not None:  # the last button release never came: let go
            self._drag_item = None
            self.release_mouse()
        item = self.row_at(event.screen_y)
        if (
            item is None
            or event.button != 1
            or not self.region.contains(event.screen_x, event.screen_y)
        ):
            return
        self.move_to(item)
        self._drag_item = item
        self.capture_mouse()

    async def _on_click(self, event: events.Click) -> None:
        if event.chain == 2 and self.row_at(event.screen_y) is not None:
            self.action_select()  # a double click is enter

    async def _on_mouse_up(self, event: events.MouseUp) -> None:
        item, self._drag_item = self._drag_item, None
        self.release_mouse()
        if item is None:
            return
        try:
            target, _ = self.screen.get_widget_at(event.screen_x, event.screen_y)
        except NoWidget:
            return
        if isinstance(target, PairingList) and target is not self:
            target_item = target.row_at(event.screen_y)
            if target_item is not None:
                target.move_to(target_item)
                self.post_message(self.Dropped(self, item, target, target_item))
