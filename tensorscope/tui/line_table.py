"""A table drawn line by line on Textual's public line API (ScrollView + `render_line`).

It looks and behaves like a `DataTable` with a row cursor (the same component classes, keys, header,
padding and cursor styles), but each row's line is cached on that row's own cells: changing one row, or
moving the cursor, redraws that row's line and nothing else. (DataTable keys its caches on a table-wide
update count, so one changed cell re-renders every visible cell.)

Rows are keyed by strings; cells are rich `Text`. The owner sets the columns (`set_columns`) and the rows
(`set_rows`); rows whose cells are unchanged keep their drawn line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tensorscope.tui.keys import ROW_CURSOR_KEYS

HEADER = -1
"""The row index of the header (as DataTable numbers it)."""


class Column(NamedTuple):
    """One column: its key, its header and the width of its cells (without padding)."""

    key: str
    label: Text
    width: int


def same_cells(a: tuple[Text, ...], b: tuple[Text, ...]) -> bool:
    """Whether two rows of cells draw alike (same text, same styles)."""
    return a is b or (len(a) == len(b) and all(
        x is y or (x.plain == y.plain and x.style == y.style and x.spans == y.spans)
        for x, y in zip(a, b, strict=True)))


class LineTable(ScrollView, can_focus=True):
    """Rows of cells under a header that stays on top, with a row cursor (like a DataTable with
    `cursor_type="row"`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *ROW_CURSOR_KEYS,
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datatable--header", "datatable--cursor", "datatable--hover", "datatable--header-cursor",
        "datatable--header-hover",
    }
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .datatable--header {
                background-tint: $foreground 5%;
            }
        }
        & > .datatable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .datatable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .datatable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .datatable--header-cursor {
            background: $accent-darken-1;
            color: $foreground;
        }
        & > .datatable--header-hover {
            background: $accent 30%;
        }
        & > .datatable--hover {
            background: $block-hover-background;
        }
    }
    """
    cell_padding = 1
    """Blank cells either side of each cell."""

    @dataclass
    class RowSelected(Message):
        """Enter, or a click on the row under the cursor."""

        table: LineTable
        row: int
        key: str

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._columns: tuple[Column, ...] = ()
        self._keys: list[str] = []
        self._cells: list[tuple[Text, ...]] = []
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._hover: int | None = None
        self.virtual_size = Size(0, 1)
        self._frame: tuple[Style, object] | None = None
        self._settling = False
        """Rows or columns changed and the table's own size is not laid out yet (scroll after that)."""
        self._texts: dict[tuple[object, ...], list[Segment]] = {}
        """A cell's segments (without the row's metadata), by what they are drawn from."""
        self._lines: dict[int, tuple[tuple[object, ...], tuple[Text, ...], list[Segment]]] = {}
        """Row index -> (what its line was drawn for, its cells, the segments of the whole line)."""

    # --- what the table holds -------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns, in order."""
        return self._columns

    @property
    def row_keys(self) -> list[str]:
        """The rows' keys, in order."""
        return list(self._keys)

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def cursor_row(self) -> int:
        """The index of the row under the cursor."""
        return self._cursor

    def get_row(self, key: str) -> list[Text]:
        """The cells of the row `key`."""
        return list(self._cells[self._index[key]])

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of the row at `index`."""
        return list(self._cells[index])

    def render_width(self, column: Column) -> int:
        """A column's width on screen, its padding included."""
        return column.width + 2 * self.cell_padding

    @property
    def table_width(self) -> int:
        """The width of every column together."""
        return sum(self.render_width(c) for c in self._columns)

    def set_columns(self, columns: Sequence[Column]) -> None:
        """New columns (the rows are set again after this)."""
        self._columns = tuple(columns)
        self._lines.clear()
        self._resize()
        self.refresh()

    def set_rows(self, rows: Sequence[tuple[str, tuple[Text, ...]]]) -> None:
        """The rows to show, in order: a row whose key, place and cells are unchanged is not redrawn."""
        keys = [key for key, _ in rows]
        if keys != self._keys:
            self._keys = keys
            self._index = {key: i for i, key in enumerate(keys)}
            self._cells = [cells for _, cells in rows]
            self._lines.clear()
            self._resize()
            self.refresh()
            if self._cursor >= len(keys):
                self._cursor = max(0, len(keys) - 1)
            return
        for i, (_, cells) in enumerate(rows):
            old = self._cells[i]
            if old is cells:
                continue
            self._cells[i] = cells  # (kept, so that the next step's same cells are known by identity)
            if not same_cells(old, cells):
                self._refresh_row(i)
            elif (line := self._lines.get(i)) is not None:
                self._lines[i] = (line[0], cells, line[2])  # drawn alike: the line stays

    def reset_view(self) -> None:
        """Cursor and scroll back to the top (as a cleared DataTable)."""
        self._cursor = 0
        self._hover = None
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _resize(self) -> None:
        self.virtual_size = Size(self.table_width, len(self._keys) + 1)
        self._settling = True

    def _refresh_row(self, index: int) -> None:
        self._lines.pop(index, None)
        if 0 <= index < len(self._keys) and 0 < index + 1 - int(self.scroll_y) < self.size.height:
            self.refresh_line(index + 1)  # (a row out of view is drawn when scrolled to)

    # --- the cursor --------------------------------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on row `row` (clamped to the rows there are)."""
        row = max(0, min(row, len(self._keys) - 1))
        if row != self._cursor:
            old, self._cursor = self._cursor, row
            self._refresh_row(old)
            self._refresh_row(row)
        if scroll:
            if self._settling:  # (as DataTable: where the cursor is once the table has its new height)
                self.call_after_refresh(self._scroll_cursor_into_view, animate)
            else:
                self._scroll_cursor_into_view(animate)

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        if not self._keys:
            return
        width = max(self.size.width, self.table_width)
        region = Region(int(self.scroll_x), self._cursor + 1, width, 1)
        self.scroll_to_region(region, animate=animate, spacing=Spacing(1, 0, 0, 0), force=True)

    def _set_hover(self, row: int | None) -> None:
        if row != self._hover:
            old, self._hover = self._hover, row
            for index in (old, row):
                if index is not None:
                    if index == HEADER:
                        self._lines.pop(HEADER, None)
                        self.refresh(Region(0, 0, max(self.size.width, self.table_width), 1))
                    else:
                        self._refresh_row(index)

    def action_select_cursor(self) -> None:
        self._set_hover(None)
        if self._keys:
            self.post_message(self.RowSelected(self, self._cursor, self._keys[self._cursor]))

    def cursor_keyed(self) -> None:
        """Called after a key moved the cursor (up, down, page up/down, top, bottom); nothing here."""

    def _key_to(self, row: int, scroll: bool = True) -> None:
        self.move_cursor(row=row, scroll=scroll)
        self.cursor_keyed()

    def action_cursor(self, delta: int) -> None:
        """Move the cursor `delta` rows (up and down)."""
        self._set_hover(None)
        self._key_to(self._cursor + delta)

    def action_page(self, direction: int) -> None:
        """Scroll a screenful down (1) or up (-1), the cursor moving as many rows (page down, page up)."""
        self._set_hover(None)
        height = self.scrollable_content_region.height - 1
        if direction > 0:
            rows = min(height + 1, len(self._keys) - self._cursor)
            self.scroll_relative(y=height, animate=False, force=True)
            self._key_to(self._cursor + rows - 1, scroll=False)
        else:
            rows = min(height + 1, self._cursor + 1)
            self.scroll_relative(y=-height, animate=False)
            self._key_to(self._cursor - rows + 1, scroll=False)

    def action_scroll_top(self) -> None:
        self._set_hover(None)
        self._key_to(0)

    def action_scroll_bottom(self) -> None:
        self._set_hover(None)
        self._key_to(len(self._keys) - 1)

    def action_scroll_home(self) -> None:
        self._set_hover(None)
        self.scroll_x = 0

    def action_scroll_end(self) -> None:
        self._set_hover(None)
        self.scroll_x = self.max_scroll_x

    def _row_at(self, event: events.MouseEvent) -> int | None:
        """The row index under the mouse (HEADER for the header), from the cells' metadata."""
        row = event.style.meta.get("row")
        return row if isinstance(row, int) else None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def on_leave(self, event: events.Leave) -> None:
        self._set_hover(None)

    async def _on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        self._set_hover(row)
        if row is None or row == HEADER or row >= len(self._keys):
            return
        again = row == self._cursor
        self.move_cursor(row=row, animate=True)
        if again:
            self.post_message(self.RowSelected(self, row, self._keys[row]))
        event.stop()

    # --- drawing ----------------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        self._lines.clear()
        self._texts.clear()
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame = (self.rich_style, self.get_pseudo_class_state())  # (once for all the lines drawn)
        self._settling = False
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base, pseudo = self._frame or (self.rich_style, self.get_pseudo_class_state())
        index = HEADER if y == 0 else y - 1 + scroll_y
        if index >= len(self._keys):
            return Strip.blank(width, base)
        cells = tuple(c.label for c in self._columns) if index == HEADER else self._cells[index]
        state = (width, base, pseudo, self._columns, index == self._cursor, index == self._hover)
        hit = self._lines.get(index)
        if hit is None or hit[0] != state or hit[1] is not cells:
            hit = self._lines[index] = (state, cells, self._draw(index, cells, base, width))
        return Strip(hit[2]).crop(scroll_x, scroll_x + width).adjust_cell_length(width, base).simplify()

    def _cell_styles(self, header: bool, cursor: bool, hover: bool) -> tuple[Style, Style]:
        """The component style of a cell and the colour laid over its own (as DataTable's defaults)."""
        get = self.get_component_rich_style
        style = Style()
        if hover:
            style += get("datatable--hover")
            if header:
                style += get("datatable--header-hover")
        if cursor:
            style += get("datatable--cursor")
            if header:
                style += get("datatable--header-cursor")
        return style, Style.from_color(color=style.color)  # (the cursor's background: the cell's own first)

    def _draw(self, index: int, cells: tuple[Text, ...], base: Style, width: int) -> list[Segment]:
        """The segments of one whole line (every column, then blank to the widget's width)."""
        header = index == HEADER
        row_style = self.get_component_styles("datatable--header").rich_style if header else base
        cursor = index == self._cursor
        hover = index == self._hover
        component, post = self._cell_styles(header, cursor, hover)
        segments: list[Segment] = []
        for column_index, (column, cell) in enumerate(zip(self._columns, cells, strict=True)):
            meta = Style.from_meta({"row": index, "column": column_index})
            drawn = self._cell(cell, self.render_width(column), row_style + component, post)
            segments.extend(Segment(text, style + meta if style is not None else meta, control)
                            for text, style, control in drawn)
        extend, _ = self._cell_styles(header, cursor, hover)
        extend = row_style + extend + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, width - self.table_width), extend))
        return segments

    def _cell(self, cell: Text, width: int, pre: Style, post: Style) -> list[Segment]:
        """One cell, padded, as DataTable draws it (`Styled(Padding(cell))`), remembered: most cells of a
        changed row (and of every row after a rebuild) are drawn as before."""
        key = (cell.plain, cell.style, tuple(cell.spans), cell.overflow, cell.justify, width, pre, post)
        hit = self._texts.get(key)
        if hit is None:
            if len(self._texts) > 4096:
                self._texts.clear()
            options = self.app.console_options.update(no_wrap=True).update_dimensions(width, 1)
            hit = self._texts[key] = self.app.console.render_lines(
                Styled(Padding(cell, (0, self.cell_padding)), pre_style=pre, post_style=post), options)[0]
        return hit
