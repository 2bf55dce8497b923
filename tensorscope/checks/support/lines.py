"""One statement of the user's code as the checks see it (`look`): its AST and the variables it names.

Checks use this to say "x is float64 but model.0.weight is float32" instead of PyTorch's `mat1`/`mat2`.
Only names, attribute chains (`model.fc.weight`) and constant indexing of lists, tuples, dicts and
`nn.Sequential` (`batch[0]`, `state["h"]`, `model[0]`) are evaluated (`resolve.resolve_expr`), against the
frame's locals and globals: no call, no property, no `__getattr__` other than `nn.Module`'s own tables.
"""

from __future__ import annotations

import ast
import linecache
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from tensorscope.checks.support.names import member_name, scope_name
from tensorscope.checks.support.resolve import resolve_expr
from tensorscope.checks.support.source import statement_source, strip_comment
from tensorscope.checks.support.text import expr_text
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

__all__ = ["Line", "Ref", "call_receiver", "calls_named", "look", "module_name", "peel"]


@dataclass(frozen=True)
class Ref:
    """A plain name or attribute/index chain written in the statement, and what it refers to now."""

    text: str
    """As written (normalised by `ast.unparse`): `x`, `model.fc.weight`, `batch[0]`, `state['h']`."""
    value: Any = field(compare=False, repr=False)
    called: bool = False
    """Written as the function of a call: `model(x)`, `model.fc(x)`."""
    stored: bool = False
    """Only assigned to on this line (`y = ...`): its value is the one from before the line."""
    pos: tuple[int, int] = (0, 0)
    """(line, column) where it first appears."""

    @property
    def is_tensor(self) -> bool:
        return is_a(self.value, torch.Tensor)

    @property
    def is_module(self) -> bool:
        return is_a(self.value, torch.nn.Module)


def _is_chain(node: ast.AST) -> bool:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name)


def _interesting(value: Any) -> bool:
    if isinstance(value, torch.Tensor | torch.nn.Module | torch.optim.Optimizer):
        return True
    return type(value).__name__ == "ndarray"


def _refs(parts: list[ast.AST], local: Mapping[str, Any], global_: Mapping[str, Any]) -> list[Ref]:
    called: set[int] = set()
    aug_targets: set[int] = set()
    for part in parts:
        for node in ast.walk(part):
            if isinstance(node, ast.Call):
                called.add(id(node.func))
            elif isinstance(node, ast.AugAssign):
                aug_targets.add(id(node.target))
    found: dict[str, Ref] = {}
    for part in parts:
        for node in ast.walk(part):
            if not isinstance(node, ast.Name | ast.Attribute | ast.Subscript) or not _is_chain(node):
                continue
            ctx = getattr(node, "ctx", None)
            stored = isinstance(ctx, ast.Store | ast.Del) and id(node) not in aug_targets
            try:
                text = ast.unparse(node)
            except Exception:
                continue
            pos = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
            prev = found.get(text)
            if prev is not None:
                found[text] = Ref(text, prev.value, prev.called or id(node) in called,
                                  prev.stored and stored, min(prev.pos, pos))
                continue
            try:
                value = resolve_expr(node, local, global_)
            except Exception:  # Unresolved, or the script's own object refusing the read: not a name to give
                continue
            if not _interesting(value):
                continue
            found[text] = Ref(text, value, id(node) in called, stored, pos)
    return sorted(found.values(), key=lambda r: r.pos)


# --- the line, as checks see it ------------------------------------------------------------------------

@dataclass
class Line:
    """One statement of the user's code at a moment of the run, with the variables it names."""

    text: str
    """The source line, stripped."""
    line: int
    parts: list[ast.AST]
    """The statement's AST (or the expressions of a compound statement's header); may be empty."""
    refs: list[Ref]
    """Tensors, modules, optimizers and arrays the statement names, in source order."""
    frame: types.FrameType | None = field(default=None, repr=False)
    origin: str | None = field(default=None, repr=False)
    """The source text the AST positions refer to (the whole file, or the parsed fragment)."""

    def src(self, node: ast.AST | None) -> str:
        """An expression as the user wrote it (parenthesised when it is more than a name or a call)."""
        if node is None:
            return "?"
        text = None
        if self.origin is not None:
            try:
                text = ast.get_source_segment(self.origin, node)
            except Exception:
                text = None
        if not text or "\n" in text:
            return expr_text(node)
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call | ast.Constant):
            return text
        return f"({text})"

    def tensors(self, include_stored: bool = False) -> list[Ref]:
        """The tensors named on the line (not the ones only assigned to, unless asked)."""
        return [r for r in self.refs if r.is_tensor and (include_stored or not r.stored)]

    def modules(self, called: bool = True) -> list[Ref]:
        """The nn.Modules named on the line (by default only those called: `model(x)`)."""
        return [r for r in self.refs if r.is_module and (r.called or not called)]

    def ref(self, text: str) -> Ref | None:
        for r in self.refs:
            if r.text == text:
                return r
        return None

    def name_of(self, obj: Any) -> str | None:
        """How the user names `obj` (by identity): a ref on the line, a module's parameter, or scope."""
        if obj is None:
            return None
        for r in self.refs:
            if r.value is obj and not r.stored:
                return r.text
        for r in self.refs:
            if r.is_module:
                found = member_name(r.text, r.value, obj)
                if found:
                    return found
        for r in self.refs:
            if r.value is obj:
                return r.text
        if self.frame is not None:
            return scope_name(obj, self.frame)
        return None

    def walk(self) -> Iterator[ast.AST]:
        for part in self.parts:
            yield from ast.walk(part)

    def source(self, node: ast.AST) -> str:
        """The text of a node, as `ast.unparse` writes it."""
        try:
            return ast.unparse(node)
        except Exception:
            return "?"

    def value(self, node: ast.AST) -> Any:
        """The value of a node when it is a plain chain; `None` otherwise."""
        if self.frame is None:
            return None
        try:
            return resolve_expr(node, self.frame.f_locals, self.frame.f_globals)
        except Exception:
            return None


def look(ctx: RunContext, frame: types.FrameType | None, line: int | None = None) -> Line:
    """The statement at `line` of `frame` (default: its current line) and the variables it names."""
    if frame is None:
        return Line("", line or 0, [], [], None)
    n = line if line is not None else (frame.f_lineno or 0)
    text = ""
    try:
        text = ctx.source_line(frame, n)
    except Exception:
        text = ""
    filename = frame.f_code.co_filename
    found: tuple[list[ast.AST], str] | None = None
    try:
        if linecache.getlines(filename):
            found = statement_source(filename, n)
        if found is None:
            found = statement_source(lambda k: ctx.source_line(frame, k), n)
    except Exception:
        found = None
    parts, origin = found if found is not None else ([], None)
    try:
        local = frame.f_locals
        refs = _refs(parts, local, frame.f_globals if frame.f_globals is not local else {})
    except Exception:
        refs = []
    return Line(strip_comment(text).strip(), n, parts, refs, frame, origin)


def module_name(module: torch.nn.Module, line: Line) -> str | None:
    """The user's name for a module or submodule: `model`, `model.0`, `self.fc`."""
    return line.name_of(module)


# --- calls on the line ----------------------------------------------------------------------------------

def calls_named(line: Line, names: Iterable[str]) -> list[ast.Call]:
    """Calls on the line whose function's last name is one of `names` (`x.view(...)`, `torch.cat(...)`)."""
    wanted = set(names)
    out = []
    for node in line.walk():
        if isinstance(node, ast.Call):
            f = node.func
            last = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if last in wanted:
                out.append(node)
    return sorted(out, key=lambda c: (c.lineno, c.col_offset))


def call_receiver(call: ast.Call) -> ast.expr | None:
    """`x` in `x.view(4, 5)`; the first argument in `torch.view(x, ...)`-style module functions."""
    f = call.func
    if isinstance(f, ast.Attribute):
        if isinstance(f.value, ast.Name) and f.value.id in ("torch", "F", "functional", "nn", "autograd"):
            return call.args[0] if call.args else None
        if isinstance(f.value, ast.Attribute) and f.value.attr in ("functional", "autograd"):
            return call.args[0] if call.args else None
        return f.value
    return call.args[0] if call.args else None


_PASS_THROUGH = frozenset({"detach", "cpu", "cuda", "clone", "contiguous", "float", "double", "to",
                           "squeeze", "flatten", "numpy", "item"})


def peel(node: ast.AST) -> ast.AST:
    """The chain under method calls that keep a tensor's identity or meaning: `x.detach().cpu()` -> `x`."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in _PASS_THROUGH:
        node = node.func.value
    return node


