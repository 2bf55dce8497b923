"""`dtype-mismatch`: an op fails on mixed dtypes (error), or silently promotes a result to float64 (info)."""

from __future__ import annotations

import ast
import re
import types
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.culprits import (
    Operand,
    failing_module,
    innermost_local,
    involved,
    loss_parts,
    torch_dtype,
)
from tensorscope.checks.support.lines import Line, look
from tensorscope.checks.support.resolve import Unresolved, resolve_expr
from tensorscope.checks.support.source import parse_statement, strip_comment
from tensorscope.checks.support.text import describe
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

_MIXED = [re.compile(p) for p in (
    r"must have the same dtype, but got (?P<d1>\w+) and (?P<d2>\w+)",
    r"expected m1 and m2 to have the same dtype, but got: (?P<d1>[\w: ]+?) != (?P<d2>[\w: ]+)$",
    r"input tensors must have the same dtype, but got (?P<d1>\w+), (?P<d2>\w+)",
    r"expected both vectors to have same dtype, but found (?P<d1>\w+) and (?P<d2>\w+)",
    r"expected scalar type (?P<d1>\w+) but found (?P<d2>\w+)",
    r"Input type \((?P<d1>[\w.]+)\) and (?:weight|bias) type \((?P<d2>[\w.]+)\) should be the same",
    r"Found dtype (?P<d1>\w+) but expected (?P<d2>\w+)",
    r"Expected object of scalar type (?P<d1>\w+) but got scalar type (?P<d2>\w+)",
    r"RNN input dtype \(torch\.(?P<d1>\w+)\) does not match weight dtype \(torch\.(?P<d2>\w+)\)",
    r"mixed dtype \(CPU\): all inputs must share same datatype",
    r"(?:must|should) (?:have|be) the same dtype",
)]
_TARGET = re.compile(r"expected target dtype to be Long")
_INDICES = re.compile(r"Expected tensor for argument #\d+ '(?:indices|input)' to have one of the following "
                      r"scalar types: [\w, ]+; but got (?:torch\.)?(?P<d1>\w+) instead")
_CAST = re.compile(r"result type (?P<d1>\w+) can't be cast to the desired output type (?P<d2>\w+)")
_METHOD = {"float32": "float", "float64": "double", "float16": "half", "bfloat16": "bfloat16",
           "int64": "long", "int32": "int", "bool": "bool"}
_LOW_FLOATS = frozenset({torch.float32, torch.float16, torch.bfloat16})
_LOSSES = ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits")


def convert_code(name: str, dtype: str) -> str:
    """`x = x.float()`: the line that gives `name` the dtype `dtype`."""
    method = _METHOD.get(dtype)
    call = f".{method}()" if method else f".to(torch.{dtype})"
    if re.fullmatch(r"[\w.]+(\[[\w'\"]+\])*", name):
        return f"{name} = {name}{call}"
    if re.fullmatch(r"[\w.]+\(.*\)", name):
        return f"{name}{call}"
    return f"({name}){call}"


def pick_pair(operands: list[Operand]) -> tuple[Operand, Operand] | None:
    """Two operands of different dtypes: the data first, a parameter second when there is one."""
    typed = [(op, meta.dtype) for op in operands if (meta := describe(op.tensor)) is not None]
    for i, (op_a, dt_a) in enumerate(typed):
        for op_b, dt_b in typed[i + 1:]:
            if dt_a != dt_b:
                return (op_b, op_a) if op_a.is_parameter and not op_b.is_parameter else (op_a, op_b)
    return None


def _inplace_target(line: Line) -> str | None:
    for node in line.walk():
        if isinstance(node, ast.AugAssign):
            return line.src(node.target)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr.endswith("_") and not node.func.attr.startswith("_"):
            return line.src(node.func.value)
    return None


class DtypeMismatch(Check):
    """Names the variables whose dtypes clash; also notes results silently promoted to float64."""

    code: ClassVar[str] = "dtype-mismatch"
    explains = (RuntimeError, ValueError)
    wants_lines = True

    def __init__(self) -> None:
        self._plans: dict[tuple[str, int], tuple[list[ast.expr], Operands, list[str]] | None] = {}
        self._pending: dict[types.FrameType, _Pending] = {}
        self._flagged: set[str] = set()
        self._results: dict[int, weakref.ref[torch.Tensor]] = {}
        """Tensors already flagged where they were made, by id (a WeakSet would compare tensors with ==)."""
        self._arrays: set[str] = set()
        """Operands seen as NumPy float64 arrays (their fix is `.astype`)."""

    # --- errors PyTorch raises ---------------------------------------------------------------------

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        message = str(exc)
        view = look(ctx, frame, line)
        data: dict[str, str] = {"code": view.text}
        tensors: tuple[str, ...] = ()
        if _TARGET.search(message):
            loss, _, (name, target) = loss_parts(view, exc, frame)
            meta = describe(target)
            data.update(variant="target", target=name, target_dtype=meta.dtype if meta else "?",
                        loss=loss, convert=convert_code(name, "int64"))
            tensors = (name,)
        elif m := _INDICES.search(message):
            failing = failing_module(exc, frame)
            value = failing[1][0] if failing and failing[1] else innermost_local(exc, frame, "input")
            name = view.name_of(value) or "input"
            module = (view.name_of(failing[0]) if failing else None) or "embedding"
            data.update(variant="indices", name=name, dtype=torch_dtype(m["d1"]), module=module,
                        convert=convert_code(name, "int64"))
            tensors = (name,)
        elif m := _CAST.search(message):
            target = innermost_local(exc, frame, "target", _LOSSES)
            meta = describe(target)
            if meta is not None and not meta.dtype.startswith(("float", "bfloat")):
                loss, (_, value), (name, _) = loss_parts(view, exc, frame)
                in_meta = describe(value)
                in_dtype = in_meta.dtype if in_meta else "float32"
                data.update(variant="float-target", target=name, target_dtype=meta.dtype,
                            loss=loss, input_dtype=in_dtype, convert=convert_code(name, in_dtype))
                tensors = (name,)
            else:
                name = _inplace_target(view) or "?"
                data.update(variant="inplace-cast", name=name, dtype=torch_dtype(m["d2"]),
                            result_dtype=torch_dtype(m["d1"]))
                tensors = (name,) if name != "?" else ()
        else:
            m = next((p.search(message) for p in _MIXED if p.search(message)), None)
            if m is None or (m.groupdict().get("d1") and m.groupdict().get("d2")
                             and ("cuda" in m["d1"]) != ("cuda" in m["d2"])):
                return False  # `Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor)`
            groups = m.groupdict()
            pair = pick_pair(involved(view, exc, frame))
            if pair is not None:
                a, b = pair
                ma, mb = describe(a.tensor), describe(b.tensor)
                dt_a, dt_b = (ma.dtype if ma else "?"), (mb.dtype if mb else "?")
                if not b.is_parameter and dt_b == "float64" and dt_a != "float64":
                    convert = convert_code(b.name, dt_a)
                else:
                    convert = convert_code(a.name, dt_b)
                data.update(a=a.name, a_dtype=dt_a, b=b.name, b_dtype=dt_b, convert=convert)
                tensors = (a.name, b.name)
            else:
                data.update(variant="unnamed", a_dtype=torch_dtype(groups.get("d1") or "?"),
                            b_dtype=torch_dtype(groups.get("d2") or "?"))
        self.flag(ctx, "error", data, tensors=tensors, line=line)
        return True

    # --- silent promotion to float64 ---------------------------------------------------------------

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        pending = self._pending
        if pending:
            done = pending.pop(frame, None)
            if done is not None:
                self._check_promotion(ctx, frame, *done)
            if pending:
                self._prune(ctx, frame)
        key = (frame.f_code.co_filename, line)
        plan = self._plans.get(key, _UNKNOWN)
        if plan is _UNKNOWN:
            plan = self._plans[key] = _plan(frame.f_code.co_filename, line)
        if plan is None:
            return
        snapshot = _snapshot(frame, plan[1], bool(plan[2]))
        if snapshot is not None:
            snapshot += [(text, "source") for text in plan[2]]
            old = tuple(id(_value(frame, t)) for t in plan[0])
            pending[frame] = (line, plan[0], snapshot, old)

    def on_finish(self, ctx: RunContext) -> None:
        pending, self._pending = self._pending, {}
        for frame, done in pending.items():
            if frame.f_code.co_name == "<module>":  # the script's last line was an assignment
                self._check_promotion(ctx, frame, *done)

    def _prune(self, ctx: RunContext, frame: types.FrameType) -> None:
        """Finish the lines of frames that have returned (keeps only the current frame's callers)."""
        alive: set[types.FrameType] = set()
        f: types.FrameType | None = frame
        while f is not None:
            alive.add(f)
            f = f.f_back
        for stale in [f for f in self._pending if f not in alive]:
            done = self._pending.pop(stale)
            self._check_promotion(ctx, stale, *done)  # the frame returned right after that line

    def _check_promotion(self, ctx: RunContext, frame: types.FrameType, line: int,
                         targets: list[ast.expr], before: list[tuple[str, str]], old: tuple[int, ...]
                         ) -> None:
        for target, old_id in zip(targets, old, strict=True):
            name = ast.unparse(target)
            if name in self._flagged:
                continue
            value = _value(frame, target)
            if id(value) == old_id:
                continue  # not assigned (the line raised) or changed in place (keeps its dtype)
            meta = describe(value)
            if meta is None or meta.dtype != "float64":
                continue
            self._flagged.add(name)
            seen = self._results.get(id(value))
            if seen is not None and seen() is value:
                continue  # the same tensor, flagged where it was made (inside a function it returned from)
            self._results[id(value)] = weakref.ref(value)
            self._arrays.update(n for n, dt in before if dt == "ndarray")
            before = [(n, "float64" if dt == "ndarray" else dt) for n, dt in before]
            wide = [n for n, dt in before if dt == "float64"] + [n for n, dt in before if dt == "source"]
            narrow = [(n, dt) for n, dt in before if dt not in ("float64", "source")]
            if any(n in self._flagged and n != name for n in wide):
                continue  # a consequence of a promotion already reported
            a = next((n for n in wide if n != name), wide[0])
            b, b_dtype = narrow[0]
            convert = convert_code(a, b_dtype) if a not in self._arrays else \
                f"{a} = {a}.astype(np.{b_dtype})"
            data = {"variant": "promotion", "name": name, "a": a, "b": b, "b_dtype": b_dtype,
                    "convert": convert, "code": strip_comment(ctx.source_line(frame, line)).strip()}
            names = tuple(n for n in (name, a, b) if re.fullmatch(r"[\w.\[\]'\"]+", n))
            self.flag(ctx, "info", data, tensors=names, line=line)


_UNKNOWN: Any = object()
_Pending = tuple[int, list[ast.expr], list[tuple[str, str]], tuple[int, ...]]
"""(line, assignment targets, (operand, dtype) before the line, ids of the targets' old values)."""


def _value(frame: types.FrameType, node: ast.expr) -> Any:
    try:
        return resolve_expr(node, frame.f_locals, frame.f_globals)
    except Unresolved:
        return None


def _chains(node: ast.AST) -> list[ast.expr]:
    """Plain names and attribute chains read in an expression (not functions being called)."""
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    out: list[ast.expr] = []
    seen: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name | ast.Attribute) and id(n) not in called \
                and isinstance(getattr(n, "ctx", None), ast.Load):
            inner: ast.AST = n
            while isinstance(inner, ast.Attribute):
                inner = inner.value
            if not isinstance(inner, ast.Name) or inner.id in ("torch", "np", "numpy", "F", "nn", "math"):
                continue
            text = ast.unparse(n)
            if text not in seen:
                seen.add(text)
                out.append(n)
    return out


Operands = list[tuple[str, ast.expr, str | None]]
"""(text, node, plain name or None) of each operand of a planned line."""


_SOURCES = frozenset({"from_numpy", "as_tensor", "tensor"})


def _sources(value: ast.expr) -> list[str]:
    """Calls that may bring float64 in from NumPy: `torch.from_numpy(a)`, `torch.as_tensor(a)`, `np.*`."""
    out = []
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            f = node.func
            root = f
            while isinstance(root, ast.Attribute):
                root = root.value
            if (isinstance(f, ast.Attribute) and f.attr in _SOURCES) or (
                    isinstance(root, ast.Name) and root.id in ("np", "numpy")):
                out.append(ast.unparse(node))
    return out


def _plan(filename: str, line: int) -> tuple[list[ast.expr], Operands, list[str]] | None:
    """(targets, operands, NumPy sources) of an assignment that computes from tensors; None otherwise."""
    try:
        parts = parse_statement(filename, line)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not parts or len(parts) != 1 or not isinstance(parts[0], ast.Assign | ast.AnnAssign):
        return None  # `x += y` keeps x's dtype: no promotion there
    stmt = parts[0]
    if stmt.lineno != line or stmt.value is None:
        return None
    if not any(isinstance(n, ast.BinOp | ast.Call) for n in ast.walk(stmt.value)):
        return None
    text = ast.unparse(stmt.value)
    if "double" in text or "float64" in text:
        return None  # an explicit conversion is deliberate
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    plain = [t for t in targets if isinstance(t, ast.Name | ast.Attribute)]
    operands: Operands = [(ast.unparse(n), n, n.id if isinstance(n, ast.Name) else None)
                          for n in _chains(stmt.value)]
    sources = _sources(stmt.value)
    if not plain or len(operands) + len(sources) < 2:
        return None
    return plain, operands, sources


def _snapshot(frame: types.FrameType, operands: Operands, sources: bool = False
              ) -> list[tuple[str, str]] | None:
    """The floating dtypes of the operands before the line runs, when float64 meets a narrower float."""
    local = frame.f_locals
    global_ = frame.f_globals
    found: list[tuple[str, str]] = []
    wide = narrow = False
    with torch._C.DisableTorchFunction():
        values = []
        for _text, node, name in operands:
            if name is not None:
                value = local.get(name, _UNKNOWN)
                if value is _UNKNOWN:
                    value = global_.get(name)
            else:
                try:
                    value = resolve_expr(node, local, global_)
                except Unresolved:
                    value = _UNKNOWN
            values.append(value)
        if not sources and not any(v.dtype == torch.float64 if is_a(v, torch.Tensor) else
                                   type(v).__name__ == "ndarray" for v in values):
            return None  # the usual case: no float64 operand, so nothing can be promoted
        for (text, _node, _name), value in zip(operands, values, strict=True):
            if value is _UNKNOWN:
                continue
            if is_a(value, torch.Tensor):
                dtype = value.dtype
                if dtype == torch.float64:
                    if value.dim():
                        wide = True
                        found.append((text, "float64"))
                elif dtype in _LOW_FLOATS and value.dim():
                    narrow = True
                    found.append((text, str(dtype).removeprefix("torch.")))
            elif type(value).__name__ == "ndarray" and getattr(value, "ndim", 0) > 0 \
                    and str(getattr(value, "dtype", "")) == "float64":
                wide = True
                found.append((text, "ndarray"))
    return found if (wide or sources) and narrow else None
