"""The checks' shared toolkit (tensorscope/checks/support/): one AST cache, two differently named readers of
the user's values, one shape notation, one bounded graph walk."""

from __future__ import annotations

import ast
import linecache
import sys
from pathlib import Path

import pytest
import torch

from tensorscope import shapes
from tensorscope.checks.support.graph import walk_graph
from tensorscope.checks.support.resolve import Unresolved, lookup, resolve_expr
from tensorscope.checks.support.source import (
    file_tree,
    source_tree,
    statement_at,
    statement_path,
    statement_source,
)
from tensorscope.checks.support.text import TensorMeta, describe, shape_text

CHECKS = Path(__file__).resolve().parent.parent / "tensorscope" / "checks"


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "script.py"
    path.write_text(text, encoding="utf-8")
    linecache.checkcache(str(path))
    return str(path)


def test_one_tree_serves_every_lookup_of_a_file(tmp_path: Path) -> None:
    """A file is parsed once: the statement lookups all answer with nodes of the same cached tree."""
    filename = _write(tmp_path, "x = 1\nfor i in range(3):\n    y = (x +\n         i)\n")
    tree = file_tree(filename)
    assert tree is not None
    assert source_tree("".join(linecache.getlines(filename))) is tree
    loop = tree.body[1]
    assert isinstance(loop, ast.For)
    assert statement_at(filename, 3) is loop.body[0]
    assert statement_path(filename, 4) == [loop, loop.body[0]]
    found = statement_source(filename, 4)
    assert found is not None and found[0] == [loop.body[0]]


def test_tree_follows_the_file_text(tmp_path: Path) -> None:
    """A changed file gets a new tree; a file that does not parse has none (and no statements)."""
    filename = _write(tmp_path, "a = 1\n")
    first = file_tree(filename)
    filename = _write(tmp_path, "a = 1\nb = 2\n")
    second = file_tree(filename)
    assert first is not None and second is not None and second is not first
    assert isinstance(statement_at(filename, 2), ast.Assign)
    filename = _write(tmp_path, "def (:\n")
    assert file_tree(filename) is None
    assert statement_at(filename, 1) is None


class _Lazy:
    """An object whose attribute would run the script's code if read."""

    ran = False

    @property
    def value(self) -> int:
        _Lazy.ran = True
        return 1


def test_resolve_expr_evaluates_chains_and_refuses_code() -> None:
    """`resolve_expr` reads names, attributes and constant indexing from an AST node, else raises."""
    batch = [torch.zeros(2), torch.ones(3)]
    local = {"batch": batch, "obj": _Lazy(), "i": 1}
    assert resolve_expr(ast.parse("batch[i]", mode="eval").body, local) is batch[1]
    for text in ("obj.value", "len(batch)", "batch[0] + 1", "missing"):
        with pytest.raises(Unresolved):
            resolve_expr(ast.parse(text, mode="eval").body, local)
    assert not _Lazy.ran


def test_lookup_reads_a_dotted_name_and_answers_none() -> None:
    """`lookup` reads a dotted name from a frame as the instrumentation does: None, never an exception."""
    model = torch.nn.Linear(2, 1)
    obj = _Lazy()

    frame = sys._getframe()
    local = {"model": model, "obj": obj}
    assert lookup(frame, "model.weight", local) is model.weight
    assert lookup(frame, "obj.value", local) is None
    assert lookup(frame, "nowhere.at_all", local) is None
    assert not _Lazy.ran


@pytest.mark.parametrize(("value", "expected"), [
    (torch.zeros(8, 1), "8×1"), ((8, 1), "8×1"), (torch.zeros(()), "()"), ((), "()"), (torch.Size([3]), "3"),
])
def test_shape_text_is_the_one_notation(value: object, expected: str) -> None:
    """A tensor and its shape are written alike, and exactly as tensorscope/shapes.py writes them."""
    assert shape_text(value) == expected  # type: ignore[arg-type]
    shape = value.shape if isinstance(value, torch.Tensor) else value
    assert shapes.shape_text(shape) == expected  # type: ignore[arg-type]
    meta = describe(value)
    assert meta is None or (isinstance(meta, TensorMeta) and meta.shape_text == expected)


def test_walk_graph_visits_each_node_once_within_its_bound() -> None:
    """A node reached twice (a diamond) is given once; the walk stops at its bound."""
    a = torch.ones(3, requires_grad=True)
    y = (a * 2 + a.exp()).sum()
    nodes = list(walk_graph([y.grad_fn], 1000))
    names = [n.name() for n in nodes]
    assert len({id(n) for n in nodes}) == len(nodes)
    assert names.count("torch::autograd::AccumulateGrad") == 1
    assert {"SumBackward0", "AddBackward0", "MulBackward0", "ExpBackward0"} <= set(names)
    assert len(list(walk_graph([y.grad_fn], 2))) == 2
    assert list(walk_graph([None], 10)) == []


def test_no_check_module_over_500_lines() -> None:
    """Every module of the checks and their toolkit stays under 500 lines."""
    long = {p.relative_to(CHECKS).as_posix(): n for p in CHECKS.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}
