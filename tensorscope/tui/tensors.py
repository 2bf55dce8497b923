"""The Tensors pane: one row per tensor in scope (row key = its name), changed cells highlighted.

What the rows are (aliases, folded lists, module groups, optimizers) is `tensor_rows.layout`; this widget
draws them on `line_table.LineTable` (Textual's line API: a row whose cells did not change is not drawn
again, so a step redraws only the rows it changed), with column widths it sets itself: the name, shape,
dtype, device and grad_fn columns stay on screen at any width, `grad?`, `.grad` and the values go first
(the Inspector shows them), and columns shrink again when long texts go away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style as RichStyle
from rich.text import Text
from textual import events
from textual.message import Message

from tensorscope.diff import grad_text, value_text
from tensorscope.model import Step, TensorView
from tensorscope.tui.line_table import Column, LineTable
from tensorscope.tui.tensor_rows import Folds, Row, layout, unique
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
OPTIONAL = ("value", "grad", "requires_grad")
"""Columns left out, in this order, when the pane is too narrow for them."""
MIN_WIDTH = {"name": 8, "grad_fn": 7}
"""The columns that shrink (cut with …) when even the essential ones do not fit."""
SLACK = 2
"""A column stays up to this much wider than its cells need, so that a value one character shorter does
not redraw the whole table; more than that and the columns shrink again."""


def _cut(text: str, key: str) -> str:
    limit = CELL_WIDTH.get(key)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def device_text(device: str, simulated: bool) -> str:
    return f"{device} (sim)" if simulated and device.startswith("cuda") else device


def cells(t: TensorView, simulated: bool = False, lang: str = "en") -> dict[str, str]:
    """The text of each column for one tensor."""
    if t.grad is not None:
        grad = grad_text(t.grad, lang)
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
        "value": _cut(value_text(t, lang), "value"),
    }


def other_cells(row: Row, lang: str = "en") -> dict[str, str]:
    """The text of each column for a row that is not a tensor (a group, "… N more", an optimizer)."""
    out = dict.fromkeys((key for _, key in COLUMNS), "")
    out["name"] = _cut(row.label, "name")
    o = row.optimizer
    if o is not None:
        w = words(lang)
        out["shape"] = o.type
        out["dtype"] = f"lr={o.lr:g}" if o.lr is not None else ""
        step = getattr(o, "step", None)  # (the optimizer's own step count, when it keeps one)
        out["grad_fn"] = w["row_opt_step"].format(n=step) if step is not None else ""
        out["value"] = w["row_opt_tensors"].format(n=o.param_count)
    return out


def fit_columns(natural: dict[str, int], room: int, pad: int,
                content: dict[str, int] | None = None) -> tuple[tuple[str, int], ...]:
    """Which columns to show and how wide: every column if it fits, else without the optional ones (the
    values first), else grad_fn cut down, then the headers of device, shape and dtype cut to their cells'
    width (`content`: the widest cell of each column, headers left out), and last the names."""
    keys = [key for _, key in COLUMNS]
    for drop in range(len(OPTIONAL) + 1):
        shown = [k for k in keys if k not in OPTIONAL[:drop]]
        if sum(natural[k] + pad for k in shown) <= room:
            return tuple((k, natural[k]) for k in shown)
    widths = {k: natural[k] for k in shown}
    over = sum(w + pad for w in widths.values()) - room
    least = {key: max(3, (content or natural)[key]) for key in ("device", "shape", "dtype")} | MIN_WIDTH
    for key in ("grad_fn", "device", "shape", "dtype", "name"):  # the names are cut last
        cut = min(over, max(0, widths[key] - least[key]))
        widths[key] -= cut
        over -= cut
    return tuple(widths.items())


class TensorTable(LineTable):
    """Every tensor in scope at the Step on screen; cells that changed since the last pause stand out.

    Enter (or a click on the row under the cursor) opens or closes a module group or a folded list.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = LineTable.COMPONENT_CLASSES | {
        "tensors--changed",
        "tensors--new",
        "tensors--device-cpu",
        "tensors--device-other",
        "tensors--muted",
        "tensors--group",
    }
    DEFAULT_CSS = """
    TensorTable > .tensors--changed { background: $warning 30%; text-style: bold; }
    TensorTable > .tensors--new { color: $success; text-style: bold; }
    TensorTable > .tensors--device-cpu { color: $warning; text-style: bold; }
    TensorTable > .tensors--device-other { color: $error; text-style: bold; }
    TensorTable > .tensors--muted { color: $text-muted; }
    TensorTable > .tensors--group { color: $text-accent; text-style: bold; }
    """

    @dataclass
    class Picked(Message):
        """The user moved to a tensor or an optimizer (keys or mouse): inspect it (a tensor's name, or
        `optimizer:<name>`)."""

        name: str

    def __init__(self, *, id: str | None = None, classes: str | None = None, lang: str = "en") -> None:
        super().__init__(id=id, classes=classes)
        self.lang = lang
        self.folds = Folds()
        """The groups and lists the user opened; they stay open across steps."""
        self.rows_shown: list[Row] = []
        """The rows on screen, in order."""
        self._shown: dict[str, dict[str, Text]] = {}
        self._order: list[str] = []
        self._columns_now: tuple[tuple[str, int], ...] = ()
        self._texts: dict[tuple[TensorView, bool, str], dict[str, str]] = {}
        self._row_texts: dict[str, tuple[tuple[object, ...], dict[str, Text]]] = {}
        self._widths: dict[int, tuple[dict[str, Text], dict[str, int]]] = {}
        self._last: tuple[Step | None, Step | None, bool] = (None, None, False)
        self._drawn: dict[str, tuple[dict[str, Text], tuple[Text, ...]]] = {}
        """Each row's cells as drawn: the texts by column key, and in the order of the columns shown."""
        self._memo: dict[tuple[str, bool], RichStyle] = {}
        self.changed: list[str] = []
        """Names of the tensors that are new or changed since the baseline, in table order."""

    def set_lang(self, lang: str) -> None:
        """Relabel the columns and the rows' own words."""
        if lang != self.lang:
            self.lang = lang
            self._row_texts.clear()
            self._columns_now = ()
            self.redraw()

    def set_title(self, title: str) -> None:
        """The border's title. Setting `border_title` redraws the whole pane, even to the same words: a
        title that did not change is left alone, so a step redraws only the rows it changed."""
        if self.border_title != title:
            self.border_title = title

    def redraw(self) -> None:
        """Draw the last Step again (after `folds` changed)."""
        step, baseline, simulated = self._last
        self.show(step, baseline, simulated=simulated)

    def on_resize(self) -> None:
        self._fit()

    def _label(self, key: str) -> str:
        """Column headers in the chosen language (dtype, device, .grad and grad_fn are PyTorch's words)."""
        default = next(label for label, k in COLUMNS if k == key)
        return words(self.lang).get(f"col_{key}", default)

    def _layout(self) -> tuple[tuple[str, int], ...]:
        """The columns to show, with their widths, for the rows shown and the room there is."""
        content = dict.fromkeys((key for _, key in COLUMNS), 0)
        cache, self._widths = self._widths, {}
        for row in self._shown.values():
            hit = cache.get(id(row))
            if hit is None or hit[0] is not row:
                hit = (row, {key: text.cell_len for key, text in row.items()})
            self._widths[id(row)] = hit
            for key, w in hit[1].items():
                if w > content[key]:
                    content[key] = w
        natural = {key: max(w, cell_len(self._label(key))) for key, w in content.items()}
        room = self.scrollable_content_region.width if self.is_mounted else 0
        if room <= 0:
            room = 10_000
        return fit_columns(natural, room, 2 * self.cell_padding, content)

    def _keeps(self, wanted: tuple[tuple[str, int], ...]) -> bool:
        """Whether the columns on screen can stay for `wanted`: the same columns, none narrower than wanted,
        none more than SLACK wider, and all within the room (rebuilding the table costs a few ms)."""
        now = self._columns_now
        if [k for k, _ in wanted] != [k for k, _ in now]:
            return False
        room = self.scrollable_content_region.width or 10_000
        if sum(w + 2 * self.cell_padding for _, w in now) > room:
            return wanted == now
        return all(0 <= have - need <= SLACK for (_, need), (_, have) in zip(wanted, now, strict=True))

    def _fit(self) -> None:
        if self.is_mounted and self._layout() != self._columns_now:
            self._rebuild(self._order, self._shown)

    @property
    def columns_shown(self) -> list[str]:
        """The keys of the columns on screen, in order."""
        return [key for key, _ in self._columns_now]

    @property
    def selected_row(self) -> Row | None:
        """The row under the cursor."""
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    @property
    def selected_name(self) -> str | None:
        """The name of the tensor (or `optimizer:<name>`) under the cursor; None on a group or list row."""
        row = self.selected_row
        return row.key if row is not None and row.kind in ("tensor", "optimizer") else None

    def _picked(self) -> None:
        name = self.selected_name
        if name is not None:
            self.post_message(self.Picked(name))

    def cursor_keyed(self) -> None:
        self._picked()

    def on_click(self, event: events.Click) -> None:
        self.call_after_refresh(self._picked)

    def on_line_table_row_selected(self, event: LineTable.RowSelected) -> None:
        """Enter, or a click on the row under the cursor: open or close a group or a folded list."""
        row = self.selected_row
        if row is not None and self.folds.toggle(row):
            event.stop()
            self.redraw()
            self.select(row.key)

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
        if name in self._order and self.selected_row is not None and self.selected_row.key != name:
            self.move_cursor(row=self._order.index(name), animate=False)

    def _cells_of(self, t: TensorView, simulated: bool) -> dict[str, str]:
        """`cells(t)`, remembered per TensorView (by value: a Step that comes through the pipe brings new
        but equal views of the tensors that did not change), so most rows cost nothing from one step to
        the next."""
        key = (t, simulated, self.lang)
        now = self._texts.get(key)
        if now is None:
            if len(self._texts) > 4096:
                self._texts.clear()
            now = self._texts[key] = cells(t, simulated, self.lang)
        return now

    def notify_style_update(self) -> None:
        self._row_texts.clear()  # the theme changed: rows made earlier have the old colours
        super().notify_style_update()

    def _style(self, component: str, background: bool = False) -> RichStyle:
        """A component's colours blended on the table (theme colours may be translucent or `auto`), looked
        up once per `show` (a step that changes every parameter draws hundreds of rows)."""
        hit = self._memo.get((component, background))
        if hit is None:
            full = self.get_component_rich_style(component)
            hit = full if background else RichStyle(color=full.color, bold=full.bold, italic=full.italic,
                                                    reverse=full.reverse)
            self._memo[(component, background)] = hit
        return hit

    def show(self, step: Step | None, baseline: Step | None, *, simulated: bool = False) -> None:
        """Show the tensors of `step`; highlight what differs from `baseline` (the last pause here)."""
        self._last = (step, baseline, simulated)
        self._memo = {}
        w = words(self.lang)
        shown = layout(step, self.folds, words=w)
        base = {t.name: t for t in baseline.tensors} if baseline is not None else {}
        mixed = step is not None and len(step.devices) > 1
        changed = self._style("tensors--changed", background=True)
        styles = (changed, mixed, simulated, baseline is None)
        self.changed = []
        for t in unique(step.tensors) if step is not None else ():
            bt = base.get(t.name)
            if bt is None and baseline is not None:
                self.changed.append(t.name)
            elif bt is not None and bt is not t and bt != t and (  # (a Step from the pipe: new, equal views)
                    bt.version != t.version or self._cells_of(bt, simulated) != self._cells_of(t, simulated)):
                self.changed.append(t.name)
        is_changed = set(self.changed)
        rows: dict[str, dict[str, Text]] = {}
        cache, self._row_texts = self._row_texts, {}
        for row in shown:
            t = row.tensor
            bt = base.get(t.name) if t is not None else None
            group_changed = row.kind == "group" and not is_changed.isdisjoint(row.members)
            sig = (t, bt, row.label, row.kind, row.optimizer, styles, group_changed)  # (== is `is` first)
            hit = cache.get(row.key)
            if hit is not None and hit[0] == sig:
                texts = hit[1]
            else:
                texts = self._row(row, bt, baseline is not None, mixed, simulated, changed, group_changed, w)
            self._row_texts[row.key] = (sig, texts)
            rows[row.key] = texts
        self.rows_shown = shown
        order = list(rows)
        self._shown = rows
        if order == self._order and self._keeps(self._layout()):
            self._update_cells(rows)
        else:
            self._rebuild(order, rows)

    def _row(self, row: Row, bt: TensorView | None, has_baseline: bool, mixed: bool, simulated: bool,
             changed: RichStyle, group_changed: bool, w: dict[str, str]) -> dict[str, Text]:
        """The styled cells of one row."""
        t = row.tensor
        if t is None:
            style: RichStyle | str = ""
            if row.kind == "group":
                style = changed if group_changed else self._style("tensors--group")
            elif row.kind in ("more", "heading"):
                style = self._style("tensors--muted")
            return {key: Text(text, style=style if key == "name" else "", no_wrap=True, overflow="ellipsis")
                    for key, text in other_cells(row, self.lang).items()}
        now = self._cells_of(t, simulated)
        before = self._cells_of(bt, simulated) if bt is not None else None
        modified = before is not None and bt is not None and (before != now or bt.version != t.version)
        out: dict[str, Text] = {}
        for key, text in now.items():
            cell_style: RichStyle | str = ""
            if before is None and has_baseline and key == "name":
                cell_style = self._style("tensors--new")
            elif modified and key == "name":
                cell_style = changed
            elif before is not None and before[key] != text:
                cell_style = changed
            elif key == "device" and mixed:
                cpu = t.device == "cpu"
                cell_style = self._style("tensors--device-cpu" if cpu else "tensors--device-other")
            elif key == "grad_fn" and text == "leaf":
                cell_style = self._style("tensors--muted")
            if key == "name":
                text = row.label
            out[key] = Text(text, style=cell_style, no_wrap=True, overflow="ellipsis")
        if t.aliases:
            n = len(t.aliases)
            suffix = w["alias_one"] if n == 1 else w["aliases"].format(n=n)
            out["name"].append(f" ({suffix})", style=self._style("tensors--muted"))
        return out

    def _update_cells(self, rows: dict[str, dict[str, Text]]) -> None:
        """The same rows in the same columns: the table redraws the rows whose cells changed."""
        drawn = self._drawn
        self._drawn = {}
        keys = [key for key, _ in self._columns_now]
        for name, row in rows.items():
            hit = drawn.get(name)
            if hit is None or hit[0] is not row:
                hit = (row, tuple(row[key] for key in keys))
            self._drawn[name] = hit
        self.set_rows([(name, hit[1]) for name, hit in self._drawn.items()])

    def _rebuild(self, order: list[str], rows: dict[str, dict[str, Text]]) -> None:
        """New columns or other rows: everything is drawn again, the cursor stays on its row."""
        selected = self.selected_row.key if self.selected_row is not None else None
        self._columns_now = self._layout()
        self.set_columns([Column(key, Text.from_markup(self._label(key)), width)
                          for key, width in self._columns_now])
        self.reset_view()
        self._order = order
        self._drawn = {}
        self._update_cells(rows)
        if selected is not None and selected not in rows:  # folded away: the group that holds it
            selected = next((r.key for r in self.rows_shown if selected in r.members), None)
        if selected in rows:
            self.move_cursor(row=order.index(selected))
