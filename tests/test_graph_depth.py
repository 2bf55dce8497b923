"""The autograd graph view: each branch is cut on its own below the depth limit, with a `… N more` marker,
and the walk's work stays bounded however large the graph."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tensorscope.engine import graph
from tensorscope.engine.session import Session
from tensorscope.model import GRAPH_MORE_CAP, GraphNode, Trace
from tensorscope.tui.app import TensorScopeApp
from tensorscope.tui.inspector import graph_parts

Write = Callable[..., Path]

LONG_CHAIN = """
import torch
a = torch.ones(2, requires_grad=True)
b = torch.ones(2, requires_grad=True)
h = a
for _ in range(15):
    h = h * 1.01
y = h + b
end = 1
"""


def text_of(nodes: tuple[GraphNode, ...], lang: str = "en") -> str:
    return "".join(p if isinstance(p, str) else p[0] for p in graph_parts(nodes, lang))


class FakeNode:
    """A stand-in autograd node that counts how often the walk reads its inputs."""

    reads = 0

    def __init__(self, name: str = "MulBackward0") -> None:
        self._name = name
        self.inputs: list[FakeNode] = []
        self.metadata: dict[str, Any] = {}

    def name(self) -> str:
        return self._name

    @property
    def next_functions(self) -> tuple[tuple[FakeNode, int], ...]:
        FakeNode.reads += 1
        return tuple((n, 0) for n in self.inputs)


def chain(length: int) -> FakeNode:
    """`length` nodes, each the only input of the one before; the first is returned."""
    nodes = [FakeNode() for _ in range(length)]
    for upper, lower in zip(nodes, nodes[1:], strict=False):
        upper.inputs.append(lower)
    return nodes[0]


class TestPerBranchDepth:
    def test_a_long_chain_is_cut_and_its_sibling_leaf_still_shown(self, write_script: Write) -> None:
        """`y = h + b`, h 15 ops from a: the chain stops at the depth limit with `… 4 more`, b is listed."""
        trace = Session(str(write_script(LONG_CHAIN))).record()
        nodes = trace.steps[-1].tensor("y").graph
        assert nodes[0] == GraphNode(0, "AddBackward0")
        cuts = [n for n in nodes if n.name == "…"]
        # drawn: MulBackward0 at depths 1-12; hidden: 3 more MulBackward0 and a's AccumulateGrad
        assert cuts == [GraphNode(graph.MAX_DEPTH + 1, "…", more=4)]
        assert [n.depth for n in nodes if n.name == "MulBackward0"] == list(range(1, graph.MAX_DEPTH + 1))
        assert nodes[-1] == GraphNode(1, "AccumulateGrad", leaf="b")
        assert "a" not in [n.leaf for n in nodes]
        assert Trace.from_json(trace.to_json()).steps[-1].tensor("y").graph == nodes

    def test_the_inspector_tree_shows_the_marker_and_the_sibling(self, write_script: Write) -> None:
        nodes = Session(str(write_script(LONG_CHAIN))).record().steps[-1].tensor("y").graph
        lines = text_of(nodes).splitlines()
        assert lines[-2].endswith("└─ … 4 more (not drawn)")
        assert lines[-1].strip().startswith("└─ ● b")
        assert text_of(nodes, "zh").splitlines()[-2].endswith("└─ … 还有 4 个节点（未画出）")

    def test_a_shallow_graph_has_no_cut(self, write_script: Write) -> None:
        path = write_script(LONG_CHAIN.replace("range(15)", "range(3)"))
        nodes = Session(str(path)).record().steps[-1].tensor("y").graph
        assert [n for n in nodes if n.name == "…"] == []
        assert sorted(n.leaf for n in nodes if n.leaf is not None) == ["a", "b"]

    def test_every_deep_branch_gets_its_own_marker(self) -> None:
        root = FakeNode("AddBackward0")
        root.inputs = [chain(20), chain(14), FakeNode("AccumulateGrad")]
        nodes = graph.graph_of(root, {})
        cuts = [n for n in nodes if n.name == "…"]
        assert cuts == [GraphNode(graph.MAX_DEPTH + 1, "…", more=20 - graph.MAX_DEPTH),
                        GraphNode(graph.MAX_DEPTH + 1, "…", more=14 - graph.MAX_DEPTH)]
        assert nodes[-1] == GraphNode(1, "AccumulateGrad")

    def test_a_node_drawn_above_is_marked_again_not_cut(self) -> None:
        """A deep path into a node already drawn shows it as `again`: nothing there is hidden."""
        shared = FakeNode("AccumulateGrad")
        deep = chain(graph.MAX_DEPTH)
        tail = deep
        while tail.inputs:
            tail = tail.inputs[0]
        tail.inputs.append(shared)
        root = FakeNode("AddBackward0")
        root.inputs = [shared, deep]
        rows = graph._walk(root)
        assert rows[-1] == (graph.MAX_DEPTH + 1, "AccumulateGrad", None, True, 0)
        assert not any(name is None for _, name, _, _, _ in rows)


class TestBoundedWork:
    def test_a_count_stops_at_the_cap(self) -> None:
        root = FakeNode("AddBackward0")
        root.inputs = [chain(graph.MAX_DEPTH + 500)]
        cuts = [row for row in graph._walk(root) if row[1] is None]
        assert [row[4] for row in cuts] == [GRAPH_MORE_CAP]
        nodes = (GraphNode(0, "AddBackward0"), GraphNode(1, "…", more=GRAPH_MORE_CAP))
        assert text_of(nodes).endswith(f"└─ … {GRAPH_MORE_CAP}+ more (not drawn)")

    def test_a_huge_graph_is_walked_within_the_budget(self) -> None:
        """Dozens of long branches below the depth limit: the walk reads at most MAX_NODES + COUNT_BUDGET
        nodes' inputs, and the cuts past the counting budget say only that the graph goes on."""
        root = FakeNode("AddBackward0")
        spine = chain(graph.MAX_DEPTH)  # depths 1-12; its last node has 30 long branches
        root.inputs = [spine]
        while spine.inputs:
            spine = spine.inputs[0]
        spine.inputs = [chain(300) for _ in range(30)]
        FakeNode.reads = 0
        rows = graph._walk(root)
        assert FakeNode.reads <= graph.MAX_NODES + graph.COUNT_BUDGET
        assert len(rows) == graph.MAX_NODES + 1
        counts = [row[4] for row in rows if row[1] is None]
        budgeted = graph.COUNT_BUDGET // GRAPH_MORE_CAP
        assert counts[:budgeted] == [GRAPH_MORE_CAP] * budgeted
        assert set(counts[budgeted:]) == {0}
        assert text_of((GraphNode(0, "AddBackward0"), GraphNode(1, "…"))).endswith(
            "└─ … the graph goes on (not drawn)")

    def test_the_last_cut_counts_every_pending_branch(self) -> None:
        """Once MAX_NODES lines are drawn, one cut stands for the node it stopped at and every branch still
        waiting, each hidden node counted once."""
        root = FakeNode("AddBackward0")
        leaves = [FakeNode("AccumulateGrad") for _ in range(graph.MAX_NODES + 10)]
        root.inputs = leaves
        rows = graph._walk(root)
        assert len(rows) == graph.MAX_NODES + 1
        assert rows[-1] == (1, None, None, False, len(leaves) - (graph.MAX_NODES - 1))

    def test_the_walk_is_cached_on_the_node(self) -> None:
        root = FakeNode("AddBackward0")
        root.inputs = [chain(30)]
        first = graph._shape(root)
        FakeNode.reads = 0
        assert graph._shape(root) is first and FakeNode.reads == 0


async def test_the_tui_inspector_draws_the_marker(write_script: Write) -> None:
    """In the app, picking `y` shows the cut chain's `… 4 more` and, below it, the leaf b."""
    app = TensorScopeApp(str(write_script(LONG_CHAIN)), breakpoints=(LONG_CHAIN.strip().splitlines().index(
        "end = 1") + 1,))
    async with app.run_test(size=(140, 60)) as pilot:
        for _ in range(300):
            if app.current_step is not None and app.state == "paused":
                break
            await pilot.pause(0.05)
        await pilot.press("c")
        for _ in range(300):
            step = app.current_step
            if app.state == "paused" and step is not None and any(t.name == "y" for t in step.tensors):
                break
            await pilot.pause(0.05)
        app.tensors.focus()
        await pilot.press("home")
        for _ in range(len(app.current_step.tensors)):
            if app.tensors.selected_name == "y":
                break
            await pilot.press("down")
        await pilot.pause()
        assert app.inspector.showing == "tensor:y"
        text = str(app.inspector.body.render())
        assert "└─ … 4 more (not drawn)" in text
        assert "└─ ● b" in text
