"""Name the user's variables involved in a line: parse it, resolve plain names, never run the user's code.

Checks use this to say "x is float64 but model.0.weight is float32" instead of PyTorch's `mat1`/`mat2`.
Only names, attribute chains (`model.fc.weight`) and constant indexing of lists, tuples, dicts and
`nn.Sequential` (`batch[0]`, `state["h"]`, `model[0]`) are evaluated, against the frame's locals and
globals: no call, no property, no `__getattr__` other than `nn.Module`'s own parameter/submodule tables.
"""

from __future__ import annotations

import ast
import inspect
import io
import linecache
import textwrap
import tokenize
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from tensorscope import shapes
from tensorscope.engine.collect import dtype_name, iter_named_tensors
from tensorscope.engine.simcuda import simulated_device
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.monitor import RunContext

__all__ = [
    "Line",
    "Ref",
    "TensorMeta",
    "Unresolved",
    "call_receiver",
    "calls_named",
    "describe",
    "device_of",
    "expr_text",
    "look",
    "module_name",
    "parse_statement",
    "peel",
    "resolve",
    "scope_body",
    "scope_name",
    "shape_text",
    "statement_path",
    "statement_source",
    "strip_comment",
]

_TENSOR_ATTRS = frozenset({"grad", "data", "T", "mT"})
_MAX_STATEMENT_LINES = 40


class Unresolved(Exception):
    """The expression is not a plain name/attribute/index chain, or its value is not reachable safely."""


@dataclass(frozen=True)
class TensorMeta:
    """What a message says about one tensor: shape, dtype, device."""

    shape: tuple[int, ...]
    dtype: str
    """Short dtype name: `float32`, `int64`."""
    device: str
    """`cpu`, `cuda:0` (the simulated device under --simulate-cuda)."""
    requires_grad: bool
    is_leaf: bool
    has_grad_fn: bool

    @property
    def shape_text(self) -> str:
        """`8×3`, or `()` for a scalar."""
        return shape_text(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


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


def shape_text(shape: Iterable[int]) -> str:
    """A shape as people write it: `8×3`, `()` for scalars (tensorscope/shapes.py)."""
    return shapes.shape_text(shape)


def device_of(t: torch.Tensor) -> str:
    """The tensor's device as the script sees it (a simulated `cuda:0` under --simulate-cuda)."""
    try:
        return str(simulated_device(t))
    except Exception:
        return "?"


def describe(t: Any) -> TensorMeta | None:
    """Metadata of a tensor (None for anything else); never raises, never reads values."""
    if not is_a(t, torch.Tensor):
        return None
    try:
        device = device_of(t)
        with torch._C.DisableTorchFunction():
            return TensorMeta(
                shape=tuple(int(d) for d in t.shape),
                dtype=dtype_name(t.dtype),
                device=device,
                requires_grad=bool(t.requires_grad),
                is_leaf=bool(t.is_leaf),
                has_grad_fn=t.grad_fn is not None,
            )
    except Exception:
        return None


# --- finding the statement ---------------------------------------------------------------------------

_trees: dict[str, tuple[tuple[str, ...], ast.Module | None]] = {}


def _file_tree(filename: str) -> ast.Module | None:
    """The parsed source of a user file (cached while the file's text is unchanged)."""
    lines = tuple(linecache.getlines(filename))
    cached = _trees.get(filename)
    if cached is not None and cached[0] == lines:
        return cached[1]
    try:
        tree: ast.Module | None = ast.parse("".join(lines)) if lines else None
    except (SyntaxError, ValueError):
        tree = None
    if len(_trees) > 64:
        _trees.clear()
    _trees[filename] = (lines, tree)
    return tree


def _header_parts(node: ast.stmt) -> list[ast.AST]:
    """The expressions in a compound statement's header (`for x in loader:` -> x, loader)."""
    if isinstance(node, ast.For | ast.AsyncFor):
        return [node.target, node.iter]
    if isinstance(node, ast.While | ast.If):
        return [node.test]
    if isinstance(node, ast.With | ast.AsyncWith):
        parts: list[ast.AST] = []
        for item in node.items:
            parts.append(item.context_expr)
            if item.optional_vars is not None:
                parts.append(item.optional_vars)
        return parts
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [*node.decorator_list, *node.args.defaults]
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases]
    if isinstance(node, ast.Match):
        return [node.subject]
    return []


def _bodies(node: ast.stmt) -> list[list[ast.stmt]]:
    out = []
    for name in ("body", "orelse", "finalbody"):
        body = getattr(node, name, None)
        if isinstance(body, list):
            out.append(body)
    for handler in getattr(node, "handlers", []) or []:
        out.append(handler.body)
    for case in getattr(node, "cases", []) or []:
        out.append(case.body)
    return out


def _innermost(stmts: list[ast.stmt], line: int) -> ast.stmt | None:
    for node in stmts:
        end = getattr(node, "end_lineno", node.lineno) or node.lineno
        if not (node.lineno <= line <= end):
            continue
        for body in _bodies(node):
            inner = _innermost(body, line)
            if inner is not None:
                return inner
        return node
    return None


def _statement_from_tree(tree: ast.Module, line: int) -> list[ast.AST] | None:
    node = _innermost(tree.body, line)
    if node is None:
        return None
    if _bodies(node):  # a compound statement: the line is in its header
        return _header_parts(node)
    return [node]


def _parse_fragment(text: str) -> tuple[list[ast.AST], str] | None:
    """Parse one line or a few lines on their own (headers ending with ':' get a body)."""
    src = textwrap.dedent(text).strip()
    if not src:
        return None
    candidates = [src]
    if src.endswith(":"):
        head = src
        for kw in ("elif ", "else", "except", "finally"):
            if head.startswith(kw):
                head = "if True" + head[len(kw.rstrip()):] if kw == "elif " else ""
        if head:
            candidates.append(head + "\n    pass")
    for cand in candidates:
        try:
            tree = ast.parse(cand)
        except (SyntaxError, ValueError):
            continue
        if len(tree.body) == 1 and _bodies(tree.body[0]):
            return _header_parts(tree.body[0]), cand
        return list(tree.body), cand
    return None


def parse_statement(source_of: Any, line: int) -> list[ast.AST] | None:
    """The AST of the statement (or compound header) at `line`.

    `source_of` is either a filename (whole file parsed, cached) or a callable `n -> text of line n`;
    multi-line statements and lines that do not parse alone are handled by widening the window.
    """
    found = statement_source(source_of, line)
    return found[0] if found is not None else None


def statement_source(source_of: Any, line: int) -> tuple[list[ast.AST], str] | None:
    """Like `parse_statement`, with the source text the nodes' positions refer to."""
    if isinstance(source_of, str):
        tree = _file_tree(source_of)
        if tree is not None:
            found = _statement_from_tree(tree, line)
            if found is not None:
                return found, "".join(linecache.getlines(source_of))
        text_of = lambda n: linecache.getline(source_of, n)  # noqa: E731
    else:
        text_of = source_of
    single = _parse_fragment(text_of(line))
    if single is not None:
        return single
    for up in range(0, 6):
        for down in range(0, 8):
            if up == 0 and down == 0:
                continue
            lines = [text_of(n) for n in range(max(1, line - up), line + down + 1)]
            if up + down + 1 > _MAX_STATEMENT_LINES:
                break
            found_lines = _parse_fragment("\n".join(s.rstrip("\n") for s in lines))
            if found_lines is not None:
                return found_lines
    return None


def strip_comment(text: str) -> str:
    """A source line without its trailing `# comment`."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                return text[: tok.start[1]].rstrip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return text.rstrip()


# --- resolving names safely ----------------------------------------------------------------------------

def _index_value(node: ast.expr, scope: Mapping[str, Any]) -> int | str:
    if isinstance(node, ast.Constant) and type(node.value) in (int, str):
        return node.value  # type: ignore[no-any-return]
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
        return -node.operand.value
    if isinstance(node, ast.Name):
        value = scope.get(node.id, _MISSING)
        if type(value) in (int, str):
            return value  # type: ignore[no-any-return]
    raise Unresolved(ast.dump(node))


_MISSING = object()


def _module_attr(module: torch.nn.Module, attr: str) -> Any:
    d = object.__getattribute__(module, "__dict__")
    for table in ("_parameters", "_buffers", "_modules"):
        entries = d.get(table)
        if entries is not None and attr in entries:
            return entries[attr]
    if attr in d:
        return d[attr]
    return _static_attr(module, attr)


def _static_attr(obj: Any, attr: str) -> Any:
    try:
        value = inspect.getattr_static(obj, attr)
    except AttributeError:
        raise Unresolved(attr) from None
    if isinstance(value, types.MemberDescriptorType):  # __slots__ entry: a plain read
        try:
            return value.__get__(obj, type(obj))
        except AttributeError:
            raise Unresolved(attr) from None
    if isinstance(value, property | staticmethod | classmethod | types.FunctionType) or (
        hasattr(type(value), "__get__") and not isinstance(obj, types.ModuleType | type)
    ):
        raise Unresolved(attr)  # would run code
    return value


def _tensor_attr(t: torch.Tensor, attr: str) -> Any:
    if attr not in _TENSOR_ATTRS:
        raise Unresolved(attr)
    with torch._C.DisableTorchFunction():
        if attr == "grad":
            if not (t.is_leaf or t.retains_grad):
                raise Unresolved(attr)  # PyTorch would warn, and its .grad is None anyway
            g = t.grad
            if g is None:
                raise Unresolved(attr)
            return g
        if attr == "data":
            return t.data
        if attr == "T" and t.dim() == 2:
            return t.T
        if attr == "mT" and t.dim() >= 2:
            return t.mT
    raise Unresolved(attr)


def resolve(node: ast.AST, local: Mapping[str, Any], global_: Mapping[str, Any] | None = None) -> Any:
    """The value of a name/attribute/index chain, read without running any of the user's code.

    Raises `Unresolved` for anything else (calls, arithmetic, properties, tensor indexing).
    """
    if isinstance(node, ast.Name):
        for scope in (local, global_ or {}):
            if node.id in scope:
                return scope[node.id]
        raise Unresolved(node.id)
    if isinstance(node, ast.Attribute):
        base = resolve(node.value, local, global_)
        if is_a(base, torch.Tensor):
            return _tensor_attr(base, node.attr)
        if is_a(base, torch.nn.Module):
            return _module_attr(base, node.attr)
        return _static_attr(base, node.attr)
    if isinstance(node, ast.Subscript):
        base = resolve(node.value, local, global_)
        key = _index_value(node.slice, {**(global_ or {}), **local})
        try:
            if type(base) in (list, tuple) and type(key) is int:
                return base[key]
            if type(base) is dict:
                return base[key]
            if isinstance(base, torch.nn.Sequential | torch.nn.ModuleList) and type(key) is int:
                return list(object.__getattribute__(base, "_modules").values())[key]
            if isinstance(base, torch.nn.ModuleDict) and type(key) is str:
                return object.__getattribute__(base, "_modules")[key]
        except (IndexError, KeyError):
            raise Unresolved(ast.dump(node)) from None
        raise Unresolved(ast.dump(node))
    raise Unresolved(type(node).__name__)


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
                value = resolve(node, local, global_)
            except Unresolved:
                continue
            except Exception:
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
                found = _member_name(r.text, r.value, obj)
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
            return resolve(node, self.frame.f_locals, self.frame.f_globals)
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


def _member_name(prefix: str, module: torch.nn.Module, obj: Any) -> str | None:
    """`model.0.weight` for a parameter, buffer or submodule `obj` of `module` called `prefix`."""
    try:
        if is_a(obj, torch.Tensor):
            for name, p in module.named_parameters():
                if p is obj:
                    return f"{prefix}.{name}"
            for name, b in module.named_buffers():
                if b is obj:
                    return f"{prefix}.{name}"
        elif is_a(obj, torch.nn.Module):
            for name, m in module.named_modules():
                if m is obj:
                    return f"{prefix}.{name}" if name else prefix
    except Exception:
        return None
    return None


def scope_name(obj: Any, frame: types.FrameType) -> str | None:
    """How `obj` is reachable from the frame's locals and globals (`w`, `model.0.weight`, `batch[0]`)."""
    try:
        local = frame.f_locals
        scopes = [local] if frame.f_globals is local else [local, frame.f_globals]
        for scope in scopes:
            for name, value in scope.items():
                if value is obj and not name.startswith("__"):
                    return name
        if is_a(obj, torch.Tensor):
            for scope in scopes:
                for name, t, _kind in iter_named_tensors(scope):
                    if t is obj:
                        return name
        elif is_a(obj, torch.nn.Module):
            for scope in scopes:
                for name, value in scope.items():
                    if is_a(value, torch.nn.Module) and not name.startswith("__"):
                        found = _member_name(name, value, obj)
                        if found:
                            return found
    except Exception:
        return None
    return None


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


def expr_text(node: ast.AST | None) -> str:
    """Source text of an expression, parenthesised when it is more than a name, call or subscript."""
    if node is None:
        return "?"
    try:
        text = ast.unparse(node)
    except Exception:
        return "?"
    if isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Call | ast.Constant):
        return text
    return f"({text})"


def statement_path(filename: str, line: int) -> list[ast.stmt]:
    """The statements enclosing `line` in a user file, outermost first (empty when it cannot be parsed)."""
    tree = _file_tree(filename)
    path: list[ast.stmt] = []
    body: list[ast.stmt] = tree.body if tree is not None else []
    while True:
        for node in body:
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            if node.lineno <= line <= end:
                path.append(node)
                break
        else:
            return path
        inner = [stmt for b in _bodies(path[-1]) for stmt in b]
        if not inner:
            return path
        body = inner


def scope_body(filename: str, line: int) -> list[ast.stmt]:
    """The body of the function (or module) that contains `line`."""
    path = statement_path(filename, line)
    for node in reversed(path):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node.body
    tree = _file_tree(filename)
    return tree.body if tree is not None else []
