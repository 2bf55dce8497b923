"""The Tensors pane: one row per tensor in scope (row key = its name), changed cells highlighted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.style import Style as RichStyle
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tensorscope.diff import grad_text, value_text
from tensorscope.model import Step, TensorView
from tensorscope.tui.words import words

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("shape", "shape"),
    ("dtype", "dtype"),
    ("device", "device"),
    ("grad?", "requires_grad"),
    (".grad", "grad"),
    ("grad_fn", "grad_fn"),
    ("value", "value"),
)
CELL_WIDTH = {"grad": 18, "grad_fn": 16, "value": 26, "name": 24}
"""Longest text shown per column; the Inspector shows everything."""


def _cut(text: str, key: str) -> str:
    limit = CELL_WIDTH.get(key)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def device_text(device: str, simulated: bool) -> str:
    return f"{device} (sim)" if simulated and device.startswith("cuda") else device


def cells(t: TensorView, simulated: bool = False) -> dict[str, str]:
    """The text of each column for one tensor."""
    if t.grad is not None:
        grad = grad_text(t.grad)
    else:
        grad = "—" if t.requires_grad and t.is_leaf else ""
    return {
        "name": t.name,
        "shape": t.shape_text,
        "dtype": t.dtype,
        "device": device_text(t.device, simulated),
        "requires_grad": "✓" if t.requires_grad else "",
        "grad": _cut(grad, "grad"),
        "grad_fn": _cut(t.grad_fn or ("leaf" if t.requires_grad else ""), "grad_fn"),
        "value": _cut(value_text(t), "value"),
    }


class TensorTable(DataTable[Text]):
    """Every tensor in scope at the Step on screen; cells that changed since the last pause stand out."""

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "tensors--changed",
        "tensors--new",
        "tensors--device-cpu",
        "tensors--device-other",
        "tensors--muted",
    }
    DEFAULT_CSS = """
    TensorTable > .tensors--changed { background: $warning 30%; text-style: bold; }
    TensorTable > .tensors--new { color: $success; text-style: bold; }
    TensorTable > .tensors--device-cpu { color: $warning; text-style: bold; }
    TensorTable > .tensors--device-other { color: $error; text-style: bold; }
    TensorTable > .tensors--muted { color: $text-muted; }
    """

    @dataclass
    class Picked(Message):
        """The user moved to a tensor (keys or mouse): inspect it."""

        name: str

    def __init__(self, *, id: str | None = None, classes: str | None = None, lang: str = "en") -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.lang = lang
        self._shown: dict[str, dict[str, Text]] = {}
        self._order: list[str] = []
        self._with_values = False
        self._cells: dict[tuple[Any, ...], Any] = {}
        self._rows: dict[tuple[Any, ...], Any] = {}
        self._texts: dict[int, tuple[TensorView, bool, dict[str, str]]] = {}
        self._row_texts: dict[str, tuple[Any, ...]] = {}
        self._widths: dict[int, tuple[dict[str, Text], dict[str, int]]] = {}
        self.changed: list[str] = []
        """Names of the tensors that are new or changed since the baseline, in table order."""

    def on_mount(self) -> None:
        self._add_columns()

    def _columns(self) -> list[tuple[str, str]]:
        return [c for c in COLUMNS if self._with_values or c[1] != "value"]

    def _label(self, label: str, key: str) -> str:
        """Column headers in the chosen language (dtype, device, .grad and grad_fn are PyTorch's words)."""
        return words(self.lang).get(f"col_{key}", label)

    def _add_columns(self) -> None:
        for label, key in self._columns():
            self.add_column(self._label(label, key), key=key)

    def set_lang(self, lang: str) -> None:
        """Relabel the columns."""
        if lang != self.lang:
            self.lang = lang
            if self.is_mounted:
                self._relabel()

    def _relabel(self) -> None:
        self.clear(columns=True)
        self._add_columns()
        order, self._order = self._order, []
        self._rebuild(order, self._shown)

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Show the `value` column only when it fits whole (the Inspector always has the values)."""
        if not self.is_mounted:
            return
        room = self.scrollable_content_region.width
        pad = 2 * self.cell_padding
        widths = {key: cell_len(self._label(label, key)) for label, key in COLUMNS}
        cache, self._widths = self._widths, {}
        for row in self._shown.values():
            hit = cache.get(id(row))
            if hit is None or hit[0] is not row:
                hit = (row, {key: text.cell_len for key, text in row.items()})
            self._widths[id(row)] = hit
            for key, w in hit[1].items():
                if w > widths[key]:
                    widths[key] = w
        width = sum(w + pad for key, w in widths.items() if key != "value")
        fits = width + widths["value"] + pad <= room
        if fits != self._with_values:
            self._with_values = fits
            self._relabel()

    @property
    def selected_name(self) -> str | None:
        """The name of the tensor under the cursor."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def _picked(self) -> None:
        name = self.selected_name
        if name is not None:
            self.post_message(self.Picked(name))

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self._picked()

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self._picked()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._picked()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._picked()

    def action_scroll_top(self) -> None:
        super().action_scroll_top()
        self._picked()

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self._picked()

    def on_click(self, event: events.Click) -> None:
        self.call_after_refresh(self._picked)

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        """Textual moves a scrollbar with the scroll only while it is shown: one that appears after the
        cursor scrolled the table (rows just added) starts at the scroll, not at the top."""
        if shown:
            self.vertical_scrollbar.position = self.scroll_y

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        """As for the vertical scrollbar."""
        if shown:
            self.horizontal_scrollbar.position = self.scroll_x

    def select(self, name: str) -> None:
        """Put the cursor on `name` (without announcing it as the user's pick)."""
        if name in self._order and self.selected_name != name:
            self.move_cursor(row=self._order.index(name), animate=False)

    def _render_cell(self, row_index: int, column_index: int, *args: Any, **kwargs: Any) -> Any:
        """DataTable re-renders every visible cell after any update; reuse the cells whose text,
        style and place did not change (most of them from one step to the next)."""
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, *args, **kwargs)
        try:
            cell = self.get_cell(self.ordered_rows[row_index].key, self.ordered_columns[column_index].key)
            key = (row_index, column_index, cell.plain, cell.style, args, tuple(sorted(kwargs.items())),
                   getattr(self, "_show_hover_cursor", None), getattr(self, "_pseudo_class_state", None))
        except Exception:  # a shape of the table this cache does not know: render as usual
            return super()._render_cell(row_index, column_index, *args, **kwargs)
        lines = self._cells.get(key)
        if lines is None:
            if len(self._cells) > 4096:
                self._cells.clear()
            lines = self._cells[key] = super()._render_cell(row_index, column_index, *args, **kwargs)
        return lines

    def _cells_of(self, t: TensorView, simulated: bool) -> dict[str, str]:
        """`cells(t)`, remembered per TensorView: the engine hands back the same view while a tensor is
        unchanged, so most rows cost nothing from one step to the next."""
        hit = self._texts.get(id(t))
        if hit is not None and hit[0] is t and hit[1] == simulated:
            return hit[2]
        if len(self._texts) > 4096:
            self._texts.clear()
        now = cells(t, simulated)
        self._texts[id(t)] = (t, simulated, now)
        return now

    def _render_line_in_row(self, row_key: Any, line_no: int, base_style: Any, cursor_location: Any,
                            hover_location: Any) -> Any:
        """DataTable renders every visible row again after any cell update; reuse the rows whose
        cells, place, widths and highlight did not change (all but the few that changed this step)."""
        try:
            row = self._data[row_key]
            content = tuple((c.plain, c.style) if isinstance(c, Text) else c for c in row.values())
            widths = tuple((c.width, c.content_width, c.auto_width) for c in self.columns.values())
            key = (row_key, line_no, base_style, cursor_location, hover_location, self.cursor_type,
                   self.show_cursor, getattr(self, "_show_hover_cursor", None),
                   getattr(self, "_pseudo_class_state", None), self._row_locations.get(row_key), content,
                   widths, self.cell_padding, self.fixed_columns, self.zebra_stripes, self.show_row_labels)
        except Exception:  # a shape of the table this cache does not know: render as usual
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
        lines = self._rows.get(key)
        if lines is None:
            if len(self._rows) > 2048:
                self._rows.clear()
            lines = super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
            self._rows[key] = lines
        return lines

    def notify_style_update(self) -> None:
        self._cells.clear()  # the theme changed: cached cells have the old colours
        self._rows.clear()
        self._row_texts.clear()
        super().notify_style_update()

    def _style(self, component: str, background: bool = False) -> RichStyle:
        """A component's colours blended on the table (theme colours may be translucent or `auto`)."""
        full = self.get_component_rich_style(component)
        if background:
            return full
        return RichStyle(color=full.color, bold=full.bold, italic=full.italic, reverse=full.reverse)

    def show(self, step: Step | None, baseline: Step | None, *, simulated: bool = False) -> None:
        """Show the tensors of `step`; highlight what differs from `baseline` (the last pause here)."""
        tensors = step.tensors if step is not None else ()
        base = {t.name: t for t in baseline.tensors} if baseline is not None else {}
        old = {name: self._cells_of(t, simulated) for name, t in base.items()}
        mixed = step is not None and len(step.devices) > 1
        changed = self._style("tensors--changed", background=True)
        rows: dict[str, dict[str, Text]] = {}
        self.changed = []
        styles = (changed, mixed, simulated, baseline is None)
        cache, self._row_texts = self._row_texts, {}
        for t in tensors:
            bt = base.get(t.name)
            hit = cache.get(t.name)
            if hit is not None and hit[0] is t and hit[1] is bt and hit[2] == styles:
                row, is_changed = hit[3], hit[4]  # same views as last time: same row
            else:
                row, is_changed = self._row(t, bt, old.get(t.name), baseline is not None, mixed, simulated,
                                            changed)
            self._row_texts[t.name] = (t, bt, styles, row, is_changed)
            if is_changed:
                self.changed.append(t.name)
            rows[t.name] = row
        order = list(rows)
        if order == self._order:
            self._update_cells(rows)
        else:
            self._rebuild(order, rows)
        self._shown = rows
        self._fit_columns()

    def _row(self, t: TensorView, bt: TensorView | None, before: dict[str, str] | None, has_baseline: bool,
             mixed: bool, simulated: bool, changed: RichStyle) -> tuple[dict[str, Text], bool]:
        """The styled cells of one tensor's row, and whether it is new or changed since the baseline."""
        now = self._cells_of(t, simulated)
        modified = before is not None and bt is not None and (before != now or bt.version != t.version)
        row: dict[str, Text] = {}
        for key, text in now.items():
            style: RichStyle | str = ""
            if before is None and has_baseline and key == "name":
                style = self._style("tensors--new")
            elif modified and key == "name":
                style = changed
            elif before is not None and before[key] != text:
                style = changed
            elif key == "device" and mixed:
                cpu = t.device == "cpu"
                style = self._style("tensors--device-cpu" if cpu else "tensors--device-other")
            elif key in ("grad_fn",) and text == "leaf":
                style = self._style("tensors--muted")
            row[key] = Text(text, style=style, no_wrap=True, overflow="ellipsis")
        return row, modified or (before is None and has_baseline)

    def _update_cells(self, rows: dict[str, dict[str, Text]]) -> None:
        for name, row in rows.items():
            shown = self._shown.get(name, {})
            for key, text in row.items():
                if key == "value" and not self._with_values:
                    continue
                old = shown.get(key)
                if old is None or old.plain != text.plain or old.style != text.style:
                    column = self.columns.get(ColumnKey(key))
                    wider = column is None or text.cell_len > column.content_width
                    self.update_cell(name, key, text, update_width=wider)  # re-measuring is slow

    def _rebuild(self, order: list[str], rows: dict[str, dict[str, Text]]) -> None:
        selected = self.selected_name
        self.clear()
        keys = [key for _, key in self._columns()]
        for name in order:
            self.add_row(*(rows[name][k] for k in keys), key=name)
        self._order = order
        if selected in rows:
            self.move_cursor(row=order.index(selected), animate=False)
