"""The Tensors pane's table on Textual's line API (#14, key press -> updated panes): it looks like the
DataTable it replaced, and a step or a cursor move redraws only the rows that changed."""

from __future__ import annotations

import dataclasses
import re

from rich.style import Style
from rich.text import Text
from test_tensor_pane import step, tv
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tensorscope.tui.line_table import Column, LineTable
from tensorscope.tui.tensors import TensorTable

COLUMNS = (("name", "name", 10), ("shape", "形状", 4), ("value", "value", 12))
CHANGED = Style(bgcolor="dark_orange", bold=True)


def cells(i: int) -> tuple[Text, ...]:
    """A row with a styled cell, a wide (CJK) one and one cut with …."""
    name = Text(f"t{i}", style=CHANGED if i == 2 else "", no_wrap=True, overflow="ellipsis")
    name.append(" (+1 alias)" if i == 1 else "", style="italic")
    return (name, Text("4×1" if i % 2 else "张量", no_wrap=True, overflow="ellipsis"),
            Text(f"[{i}.0000, 1.0000, 2.0000]", no_wrap=True, overflow="ellipsis"))


class Drawn(LineTable):
    """A LineTable that records which rows it draws (HEADER is -1)."""

    def __init__(self) -> None:
        super().__init__(id="table")
        self.drawn: list[int] = []

    def _draw(self, index: int, cells: tuple[Text, ...], base: Style, width: int) -> list:
        self.drawn.append(index)
        return super()._draw(index, cells, base, width)


class Host(App[None]):
    def __init__(self, old: bool) -> None:
        super().__init__()
        self.old = old
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        if self.old:
            table: DataTable[Text] = DataTable(id="table", cursor_type="row")
            for key, label, width in COLUMNS:
                table.add_column(label, width=width, key=key)
            for i in range(12):
                table.add_row(*cells(i), key=f"r{i}")
            yield table
        else:
            new = Drawn()
            new.set_columns([Column(key, Text(label), width) for key, label, width in COLUMNS])
            new.set_rows([(f"r{i}", cells(i)) for i in range(12)])
            yield new

    def on_line_table_row_selected(self, message: LineTable.RowSelected) -> None:
        self.selected.append(message.key)


async def screens(old: bool) -> list[str]:
    """The screen after each of a few things a user does, as SVG (the terminal's random id taken out)."""
    app = Host(old)
    shots: list[str] = []
    async with app.run_test(size=(24, 8)) as pilot:
        await pilot.pause()
        for act in ("", "focus", "down", "down", "pagedown", "right", "end", "home", "ctrl+end", "blur",
                    "hover"):
            if act == "focus":
                app.query_one("#table").focus()
            elif act == "blur":
                app.set_focus(None)
            elif act == "hover":
                await pilot.hover("#table", offset=(3, 2))
            elif act:
                await pilot.press(act)
            await pilot.pause()
            shots.append(re.sub(r"terminal-\d+", "terminal", app.export_screenshot()))
    return shots


async def test_it_looks_and_moves_like_a_datatable_with_a_row_cursor() -> None:
    """Header, padding, cut cells, CJK widths, cursor (focused and not), scrolling both ways, hover."""
    old, new = await screens(True), await screens(False)
    assert len(set(new)) > 5  # (the screen changes along the way)
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        assert a == b, f"screen {i} differs"


async def test_a_changed_row_or_a_cursor_move_redraws_only_those_rows() -> None:
    app = Host(False)
    async with app.run_test(size=(40, 16)) as pilot:
        table = app.query_one(Drawn)
        table.focus()
        await pilot.pause()
        assert set(table.drawn) >= {-1, 0, 1, 2}
        table.drawn.clear()
        rows = [(f"r{i}", cells(i)) for i in range(12)]
        rows[3] = ("r3", (Text("t3 changed"), *rows[3][1][1:]))
        table.set_rows(rows)
        await pilot.pause()
        assert table.drawn == [3]
        assert table.get_row("r3")[0].plain == "t3 changed"
        table.drawn.clear()
        table.set_rows([(key, tuple(c.copy() for c in cs)) for key, cs in rows])  # equal, new objects
        await pilot.pause()
        assert table.drawn == []
        await pilot.press("down")
        assert sorted(table.drawn) == [0, 1] and table.cursor_row == 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == ["r1"]


class CountingTensors(TensorTable):
    """The Tensors pane, recording which rows it draws."""

    def __init__(self) -> None:
        super().__init__(id="tensors")
        self.drawn: list[int] = []

    def _draw(self, index: int, cells: tuple[Text, ...], base: Style, width: int) -> list:
        self.drawn.append(index)
        return super()._draw(index, cells, base, width)


class TensorsHost(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingTensors()


async def test_a_step_redraws_the_rows_of_the_tensors_it_changed_and_no_other() -> None:
    """50 tensors, one changed by the step: its row is drawn again (highlighted), and no other row; the
    same title set again does not redraw the pane."""
    xs = tuple(tv(f"x{i}") for i in range(50))
    app = TensorsHost()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(CountingTensors)
        table.show(step(*xs), None)
        table.set_title("Tensors · 50")
        await pilot.pause()
        table.drawn.clear()
        later = tuple(dataclasses.replace(t, version=1, preview="[7, 7]") if t.name == "x5" else
                      dataclasses.replace(t) for t in xs)  # (new but equal views, as from the engine)
        table.show(step(*later, index=1), step(*xs))
        table.set_title("Tensors · 50")
        await pilot.pause()
        assert table.changed == ["x5"] and table.drawn == [5]
        assert "[7, 7]" in " ".join(c.plain for c in table.get_row("x5"))


async def test_a_row_changed_out_of_view_shows_its_new_cells_when_scrolled_to() -> None:
    app = Host(False)
    async with app.run_test(size=(40, 6)) as pilot:
        table = app.query_one(Drawn)
        table.focus()
        await pilot.pause()
        rows = [(f"r{i}", cells(i)) for i in range(12)]
        rows[10] = ("r10", (Text("far away"), *rows[10][1][1:]))
        table.drawn.clear()
        table.set_rows(rows)
        await pilot.pause()
        assert table.drawn == []  # (out of view: nothing drawn yet)
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert 10 in table.drawn and "far away" in app.export_screenshot().replace("&#160;", " ")


async def grown(old: bool) -> str:
    """4 rows, then 18 and the cursor put on row 9 at once: the screen once the table has grown."""
    app = Host(old)
    async with app.run_test(size=(40, 14)) as pilot:
        table = app.query_one("#table")
        rows = [(f"r{i}", cells(i)) for i in range(18)]
        if isinstance(table, LineTable):
            table.set_rows(rows[:4])
            await pilot.pause()
            table.set_rows(rows)
        else:
            table.clear()
            for key, row in rows[:4]:
                table.add_row(*row, key=key)
            await pilot.pause()
            for key, row in rows[4:]:
                table.add_row(*row, key=key)
        table.move_cursor(row=9)
        await pilot.pause()
        await pilot.pause()
        return re.sub(r"terminal-\d+", "terminal", app.export_screenshot())


async def test_the_cursor_is_scrolled_to_once_the_table_has_grown() -> None:
    """Rows added and the cursor moved at once: scrolled (or not) for the table's new height."""
    assert await grown(False) == await grown(True)
