"""The Tensors pane for big models and small terminals (#14 items 3 and 8): folded lists, aliases, module
groups, optimizer rows, and columns that fit the room there is."""

from __future__ import annotations

import dataclasses

from pilot_support import wait_until
from textual.app import App, ComposeResult

from tensorscope.model import OptimizerView, Step, TensorView
from tensorscope.tui.tensor_rows import Folds, layout
from tensorscope.tui.tensors import COLUMNS, TensorTable, fit_columns
from tensorscope.tui.words import words

EN = words("en")
ESSENTIAL = ["name", "shape", "dtype", "device", "grad_fn"]


def tv(name: str, kind: str = "tensor", preview: str | None = "[1, 2]", **kw: object) -> TensorView:
    fields = {"shape": (2,), "dtype": "float32", "device": "cpu", "requires_grad": kind == "parameter",
              "is_leaf": True, "grad_fn": None, "version": 0, "numel": 2, "kind": kind, "preview": preview}
    fields.update(kw)
    return TensorView(name, **fields)  # type: ignore[arg-type]


def step(*tensors: TensorView, index: int = 0, **kw: object) -> Step:
    return Step(index, "s.py", 1, "<module>", 0, tensors=tensors, **kw)  # type: ignore[arg-type]


def mlp(layers: int) -> tuple[TensorView, ...]:
    """`model.0.weight`, `model.0.bias`, ...: a Sequential of `layers` Linear layers."""
    return tuple(tv(f"model.{i}.{p}", "parameter") for i in range(layers) for p in ("weight", "bias"))


def keys(rows: list) -> list[str]:
    return [r.key for r in rows]


class TestRows:
    def test_a_long_list_is_folded_after_8_with_the_count_of_the_rest(self):
        """50 tensors listed of 60 in `xs`: 8 rows, then "… 52 more" (42 folded + 10 the engine left out)."""
        s = step(tv("x"), *(tv(f"xs[{i}]") for i in range(50)), more=(("xs", 10),))
        rows = layout(s, Folds(), words=EN)
        assert keys(rows) == ["x", *(f"xs[{i}]" for i in range(8)), "more:xs"]
        assert rows[-1].label == "… 52 more"

    def test_an_opened_list_shows_every_listed_tensor_and_what_was_not_listed(self):
        s = step(*(tv(f"xs[{i}]") for i in range(50)), tv("y"), more=(("xs", 10),))
        folds = Folds()
        folds.toggle(layout(s, folds, words=EN)[8])
        rows = layout(s, folds, words=EN)
        assert keys(rows) == [*(f"xs[{i}]" for i in range(50)), "more:xs", "y"]
        assert rows[50].label == "… 10 more not listed"
        folds.toggle(rows[50])  # Enter again folds it back
        assert len(layout(s, folds, words=EN)) == 10

    def test_a_short_list_with_tensors_left_out_says_so_and_does_not_open(self):
        s = step(tv("d['a']"), more=(("d", 3),))
        rows = layout(s, Folds(), words=EN)
        assert keys(rows) == ["d['a']", "more:d"] and rows[1].label == "… 3 more not listed"
        assert not Folds().toggle(rows[1])

    def test_a_tensor_reached_under_two_names_is_listed_once(self):
        a = tv("model.fc1.weight", "parameter", aliases=("net.fc1.weight",))
        b = tv("net.fc1.weight", "parameter", aliases=("model.fc1.weight",))
        assert keys(layout(step(a, b, tv("x")), Folds(), words=EN)) == ["model.fc1.weight", "x"]

    def test_a_big_model_is_one_collapsed_group_that_opens_level_by_level(self):
        """200 parameters: `▸ model (200)`; opened, one group per layer, each opening to its tensors."""
        s = step(tv("x"), *mlp(100), tv("loss"))
        folds = Folds()
        rows = layout(s, folds, words=EN)
        assert keys(rows) == ["x", "group:model", "loss"] and rows[1].label == "▸ model (200)"
        folds.toggle(rows[1])
        rows = layout(s, folds, words=EN)
        assert rows[1].label == "▾ model (200)" and rows[2].label == "  ▸ 0 (2)" and len(rows) == 103
        folds.toggle(rows[2])
        rows = layout(s, folds, words=EN)
        assert keys(rows)[2:5] == ["group:model.0", "model.0.weight", "model.0.bias"]
        assert rows[3].label == "    weight" and rows[3].tensor is s.tensors[1]

    def test_a_chain_of_single_submodules_is_one_group(self):
        """`model.transformer.h.N...`: the group under `model` is `transformer.h`, not two levels."""
        names = [f"model.transformer.h.{i}.attn.{p}" for i in range(13) for p in ("weight", "bias")]
        s = step(*(tv(n, "parameter") for n in names), tv("model.lm_head.weight", "parameter"))
        folds = Folds(groups={"model"})
        rows = layout(s, folds, words=EN)
        assert [r.label for r in rows] == ["▾ model (27)", "  ▸ transformer.h (26)", "  lm_head.weight"]

    def test_a_small_model_is_listed_flat(self):
        s = step(*mlp(12))  # 24 rows: no groups
        assert keys(layout(s, Folds(), words=EN)) == [t.name for t in s.tensors]

    def test_optimizers_come_after_the_tensors(self):
        s = step(tv("w"), optimizers=(OptimizerView("opt", "SGD", 0.1, 1),))
        rows = layout(s, Folds(), words=words("zh"))
        assert keys(rows) == ["w", "optimizers:", "optimizer:opt"] and rows[1].label == "优化器 (1)"


class TestColumns:
    def test_the_values_go_first_then_grad_then_grad_question(self):
        natural = {key: 6 for _, key in COLUMNS}
        every = [key for _, key in COLUMNS]
        assert [k for k, _ in fit_columns(natural, 200, 2)] == every
        assert [k for k, _ in fit_columns(natural, 8 * 7, 2)] == [k for k in every if k != "value"]
        assert [k for k, _ in fit_columns(natural, 5 * 8, 2)] == ESSENTIAL

    def test_name_and_grad_fn_are_cut_to_fit_the_rest_stay_whole(self):
        natural = {"name": 24, "shape": 5, "dtype": 7, "device": 3, "requires_grad": 5, "grad": 5,
                   "grad_fn": 16, "value": 5}
        shown = dict(fit_columns(natural, 40, 2))
        assert list(shown) == ESSENTIAL and sum(w + 2 for w in shown.values()) <= 40
        assert (shown["shape"], shown["dtype"], shown["device"]) == (5, 7, 3) and shown["name"] >= 8


class Host(App[None]):
    """The pane alone, as wide as the app's right column at 80x24."""

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.lang = lang
        self.picked: list[str] = []

    def compose(self) -> ComposeResult:
        yield TensorTable(id="tensors", lang=self.lang)

    def on_tensor_table_picked(self, message: TensorTable.Picked) -> None:
        self.picked.append(message.name)


def shown_text(table: TensorTable) -> list[str]:
    return [" | ".join(c.plain for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_narrow_pane_keeps_the_essential_columns_and_drops_grad() -> None:
    grad_tensor = tv("weight_of_layer", "parameter", grad_fn=None, preview="[0.1234, 0.5678, 0.9]")
    loss = tv("loss", shape=(), grad_fn="MeanBackward0", requires_grad=True, is_leaf=False)
    for lang in ("en", "zh"):
        app = Host(lang)
        async with app.run_test(size=(44, 12)) as pilot:
            table = app.query_one(TensorTable)
            table.show(step(grad_tensor, loss), None)
            await pilot.pause()
            assert table.columns_shown == ESSENTIAL
            assert table.table_width <= table.size.width
            assert "MeanBackward0" in shown_text(table)[1]
            await pilot.resize_terminal(120, 12)
            await wait_until(pilot, lambda t=table: "grad" in t.columns_shown, "the wide columns")
            assert "value" in table.columns_shown
            assert table.columns[0].label.plain == words(lang)["col_name"]


async def test_columns_shrink_again_when_long_previews_go_away() -> None:
    app = Host()
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(TensorTable)
        table.show(step(tv("a", preview="[1.0000, 2.0000, 3.0000, 4.0000, 5.0000]")), None)
        await pilot.pause()
        wide = dict(table._columns_now)["value"]
        table.show(step(tv("a", preview="7")), None)
        await pilot.pause()
        assert dict(table._columns_now)["value"] < wide == 26
        assert next(c.width for c in table.columns if c.key == "value") < 26


async def test_enter_opens_the_rest_of_a_list_and_it_stays_open_across_steps() -> None:
    app = Host()
    xs = tuple(tv(f"xs[{i}]") for i in range(20))
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(TensorTable)
        table.show(step(*xs), None)
        table.focus()
        await pilot.pause()
        assert table.row_count == 9 and "… 12 more" in shown_text(table)[8]
        table.move_cursor(row=8)
        await pilot.press("enter")
        await wait_until(pilot, lambda: table.row_count == 21, "the list opened")
        table.move_cursor(row=15)
        await pilot.press("down")
        assert app.picked[-1] == "xs[16]"
        changed = tuple(dataclasses.replace(t, version=1, preview="[3, 4]") if i == 3 else t
                        for i, t in enumerate(xs))
        table.show(step(*changed, index=1), step(*xs))
        await pilot.pause()
        assert table.row_count == 21 and table.selected_name == "xs[16]"  # open, cursor on the same name
        assert table.changed == ["xs[3]"]


async def test_groups_toggle_with_enter_and_changed_members_mark_their_group() -> None:
    app = Host()
    params = mlp(100)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(TensorTable)
        table.show(step(*params), None)
        table.focus()
        await pilot.pause()
        assert shown_text(table)[0].startswith("▸ model (200)")
        await pilot.press("enter")
        await wait_until(pilot, lambda: table.row_count == 101, "the model's layers")
        later = tuple(dataclasses.replace(p, version=1) if p.name == "model.7.bias" else p for p in params)
        table.show(step(*later, index=1), step(*params))
        await pilot.pause()
        assert table.changed == ["model.7.bias"]
        style = table.get_row("group:model.7")[0].style
        assert style == table.get_component_rich_style("tensors--changed")
        assert table.selected_row is not None and table.selected_row.key == "group:model"
        await pilot.press("enter")
        await wait_until(pilot, lambda: table.row_count == 1, "the group closed")


async def test_aliases_show_in_the_row_and_optimizers_are_picked_by_key() -> None:
    app = Host()
    w = tv("model.fc.weight", "parameter", aliases=("net.fc.weight",))
    opt = OptimizerView("opt", "SGD", 0.01, 1)
    async with app.run_test(size=(140, 20)) as pilot:
        table = app.query_one(TensorTable)
        table.show(step(w, tv("net.fc.weight", "parameter"), optimizers=(opt,)), None)
        table.focus()
        await pilot.pause()
        rows = shown_text(table)
        assert rows[0].startswith("model.fc.weight (+1 alias)") and len(rows) == 3
        assert "SGD" in rows[2] and "lr=0.01" in rows[2]
        await pilot.press("down", "down")
        assert app.picked[-1] == "optimizer:opt" and table.selected_name == "optimizer:opt"


async def _steps_to_backward(pilot, app) -> None:
    """Run linreg until `loss` (with its grad_fn) and w.grad are in scope."""
    from pilot_support import paused

    await paused(pilot, app, "the first pause")
    for _ in range(40):
        step = app.current_step
        if step.tensor("loss") is not None and (w := step.tensor("w")) is not None and w.grad is not None:
            return
        before = len(app.history)
        await pilot.press("n")
        await wait_until(pilot, lambda n=before: len(app.history) > n and app.state == "paused", "a pause")
    raise AssertionError("linreg never reached its backward()")


async def test_the_app_at_80x24_and_120x40_in_both_languages() -> None:
    """At 80x24 the table shows name, shape, dtype, device and grad_fn without scrolling sideways (no
    `.grad`); at 120x40 `.grad` is back."""
    from tensorscope.tui.app import TensorScopeApp

    for lang in ("en", "zh"):
        app = TensorScopeApp("linreg", lang=lang)
        async with app.run_test(size=(80, 24)) as pilot:
            await _steps_to_backward(pilot, app)
            await pilot.pause()
            table = app.tensors
            assert set(ESSENTIAL) <= set(table.columns_shown)
            assert "grad" not in table.columns_shown
            assert table.table_width <= table.scrollable_content_region.width
            assert any("MeanBackward0" in row for row in shown_text(table))
            await pilot.resize_terminal(120, 40)
            await wait_until(pilot, lambda t=app.tensors: "grad" in t.columns_shown, "the .grad column")
            assert set(ESSENTIAL) <= set(app.tensors.columns_shown)
