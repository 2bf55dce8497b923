"""What the Tensors pane lists, as plain rows: one per tensor (aliases folded in), long lists folded into
"… N more", a big model's parameters grouped by module (collapsible), then the optimizers.

Pure functions of a Step and what the user opened, so they are tested without a screen. Row keys: a
tensor's name; `group:<module path>`; `more:<container>`; `optimizers:` (the heading); `optimizer:<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tensorscope.model import OptimizerView, Step, TensorView

LIST_ITEMS = 8
"""A container's tensors shown before the rest are folded into one "… N more" row."""
GROUP_AT = 24
"""More parameter and buffer rows than this: grouped by module, groups collapsed until opened."""

RowKind = Literal["tensor", "group", "more", "heading", "optimizer"]


@dataclass(frozen=True)
class Row:
    """One line of the Tensors pane."""

    key: str
    kind: RowKind
    label: str
    """The text of the name column (indented, with ▸/▾ for a group)."""
    tensor: TensorView | None = None
    members: tuple[str, ...] = ()
    """For a group: the names of the tensors inside it."""
    optimizer: OptimizerView | None = None


@dataclass
class Folds:
    """What the user opened, kept across steps (by name, so it survives new Steps)."""

    groups: set[str] = field(default_factory=set)
    """Module paths whose group is open."""
    lists: set[str] = field(default_factory=set)
    """Containers whose folded tensors are shown."""

    def toggle(self, row: Row) -> bool:
        """Open or close a group or a folded list; False for rows that do not fold."""
        kind, _, name = row.key.partition(":")
        target = self.groups if kind == "group" else self.lists if kind == "more" else None
        if target is None or row.kind not in ("group", "more"):
            return False
        target.symmetric_difference_update({name})
        return True


def container_of(name: str) -> str | None:
    """`batch` for `batch[3]` and `state['h']`; None for a name that is not an item of a list or dict."""
    cut = name.find("[")
    return name[:cut] if cut > 0 else None


def is_module_tensor(t: TensorView) -> bool:
    """A parameter or buffer reached through a module (`model.fc1.weight`)."""
    return t.kind in ("parameter", "buffer") and "." in t.name and "[" not in t.name


def unique(tensors: tuple[TensorView, ...]) -> list[TensorView]:
    """Each tensor once: a name that is another listed tensor's alias is not listed again."""
    covered: set[str] = set()
    out: list[TensorView] = []
    for t in tensors:
        if t.name in covered:
            continue
        covered.update(t.aliases)
        out.append(t)
    return out


def layout(step: Step | None, folds: Folds, *, words: dict[str, str], group_at: int = GROUP_AT) -> list[Row]:
    """The rows of the Tensors pane for `step`, in order."""
    if step is None:
        return []
    tensors = unique(step.tensors)
    grouped = sum(is_module_tensor(t) for t in tensors) > group_at
    listed: dict[str, int] = {}
    for t in tensors:
        c = container_of(t.name)
        if c is not None:
            listed[c] = listed.get(c, 0) + 1
    unlisted = dict(step.more)
    seen: dict[str, int] = {}
    roots: dict[str, _Node] = _module_tree(tensors) if grouped else {}
    rows: list[Row] = []
    for t in tensors:
        c = container_of(t.name)
        if grouped and is_module_tensor(t):
            root = t.name.split(".", 1)[0]
            node = roots.pop(root, None)
            if node is not None:  # the whole module, where its first tensor is
                _emit(node, root, root, 0, folds, rows)
            continue
        if c is None:
            rows.append(Row(t.name, "tensor", t.name, t))
            continue
        i = seen[c] = seen.get(c, 0) + 1
        opened = c in folds.lists
        if i <= LIST_ITEMS or opened:
            rows.append(Row(t.name, "tensor", t.name, t))
        last = listed[c] if opened or listed[c] <= LIST_ITEMS else LIST_ITEMS
        if i == last:
            more = _more_row(c, listed[c], unlisted.pop(c, 0), opened, words)
            if more is not None:
                rows.append(more)
    for c, n in unlisted.items():  # containers none of whose tensors were listed
        more = _more_row(c, listed.get(c, 0), n, False, words)
        if more is not None:
            rows.append(more)
    if step.optimizers:
        rows.append(Row("optimizers:", "heading", f"{words['optimizers']} ({len(step.optimizers)})"))
        rows.extend(Row(f"optimizer:{o.name}", "optimizer", f"  {o.name}", optimizer=o)
                    for o in step.optimizers)
    return rows


def _more_row(container: str, listed: int, unlisted: int, opened: bool, words: dict[str, str]) -> Row | None:
    hidden = 0 if opened else max(0, listed - LIST_ITEMS)
    if listed <= LIST_ITEMS:  # nothing to open: say how many the engine left out
        if not unlisted:
            return None
        return Row(f"more:{container}", "heading", words["not_listed"].format(n=unlisted))
    if opened:
        text = words["not_listed"].format(n=unlisted) if unlisted else words["fold_list"]
        return Row(f"more:{container}", "more", text)
    return Row(f"more:{container}", "more", words["n_more"].format(n=hidden + unlisted))


@dataclass
class _Node:
    items: list[tuple[str, TensorView | _Node]] = field(default_factory=list)
    """Tensors and submodules, in the order their first tensor came."""
    names: list[str] = field(default_factory=list)
    """Every tensor below, in order."""


def _module_tree(tensors: list[TensorView]) -> dict[str, _Node]:
    roots: dict[str, _Node] = {}
    for t in tensors:
        if not is_module_tensor(t):
            continue
        *path, leaf = t.name.split(".")
        node = roots.setdefault(path[0], _Node())
        node.names.append(t.name)
        for part in path[1:]:
            child = next((n for k, n in node.items if k == part and isinstance(n, _Node)), None)
            if child is None:
                child = _Node()
                node.items.append((part, child))
            child.names.append(t.name)
            node = child
        node.items.append((leaf, t))
    return roots


def _emit(node: _Node, path: str, label: str, depth: int, folds: Folds, rows: list[Row]) -> None:
    """A group row for `node` (its path shortened while it holds one submodule only), its contents if open."""
    while len(node.items) == 1 and isinstance(node.items[0][1], _Node):
        part, node = node.items[0][0], node.items[0][1]
        path, label = f"{path}.{part}", f"{label}.{part}"
    indent = "  " * depth
    opened = path in folds.groups
    rows.append(Row(f"group:{path}", "group", f"{indent}{'▾' if opened else '▸'} {label} ({len(node.names)})",
                    members=tuple(node.names)))
    if not opened:
        return
    inner = "  " * (depth + 1)
    for part, item in node.items:
        if isinstance(item, _Node):
            if len(item.names) == 1:  # a group of one: the tensor itself
                name = item.names[0]
                t = _find(item, name)
                rows.append(Row(name, "tensor", f"{inner}{name[len(path) + 1:]}", t))
            else:
                _emit(item, f"{path}.{part}", part, depth + 1, folds, rows)
        else:
            rows.append(Row(item.name, "tensor", f"{inner}{part}", item))


def _find(node: _Node, name: str) -> TensorView:
    for _, item in node.items:
        if isinstance(item, _Node):
            if name in item.names:
                return _find(item, name)
        elif item.name == name:
            return item
    raise KeyError(name)
