"""`inplace-leaf`: a leaf that requires grad changed in place while autograd records (`w -= lr * w.grad`)."""

from __future__ import annotations

import ast
import re
import types
from typing import TYPE_CHECKING, ClassVar

from tensorscope.checks.base import Check
from tensorscope.checks.support.lines import Line, look
from tensorscope.checks.support.text import describe

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

_TEXT = re.compile(
    r"a (?:view of a )?leaf Variable that requires grad is being used in an in-place operation"
)


def _is_grad_leaf(value: object) -> bool:
    meta = describe(value)
    return meta is not None and meta.is_leaf and meta.requires_grad


def _modified(line: Line) -> list[ast.AST]:
    """The expressions the statement changes in place, in the order they are written."""
    out: list[ast.AST] = []
    for node in line.walk():
        if isinstance(node, ast.AugAssign):
            out.append(node.target)
        elif isinstance(node, ast.Assign):
            out.extend(t.value for t in node.targets if isinstance(t, ast.Subscript))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr.endswith("_") and not attr.startswith("_"):
                out.append(node.func.value)
    return out


def leaf_name(line: Line) -> str | None:
    """The user's name of the leaf changed in place on this line (`w`, `model.fc.weight`, `p`)."""
    candidates = _modified(line)
    for node in candidates:
        target = node.value if isinstance(node, ast.Subscript) else node
        if _is_grad_leaf(line.value(target)):
            return line.src(target)
    if candidates:
        node = candidates[0]
        return line.src(node.value if isinstance(node, ast.Subscript) else node)
    for ref in line.tensors():
        if _is_grad_leaf(ref.value):
            return ref.text
    return None


class InplaceLeaf(Check):
    """Explains PyTorch's refusal to change a leaf that requires grad in place outside no_grad."""

    code: ClassVar[str] = "inplace-leaf"
    explains = (RuntimeError,)

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        if not _TEXT.search(str(exc)):
            return False
        view = look(ctx, frame, line)
        name = leaf_name(view) or "the parameter"
        data = {"name": name, "code": view.text}
        self.flag(ctx, "error", data, tensors=(name,) if name != "the parameter" else (), line=line)
        return True
