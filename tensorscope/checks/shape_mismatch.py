"""`shape-mismatch`: an op fails on shapes; names the user's variables, their shapes and the rule broken."""

from __future__ import annotations

import ast
import re
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import torch

from tensorscope.checks.base import Check
from tensorscope.checks.support.culprits import failing_module, input_name, loss_parts
from tensorscope.checks.support.lines import Line, call_receiver, calls_named, look
from tensorscope.checks.support.text import describe, shape_text
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

Data = dict[str, str]
Handler = Callable[["ShapeMismatch", "Line", BaseException, "types.FrameType | None", "re.Match[str]"],
                   "Data | None"]

_RULES: list[tuple[tuple[re.Pattern[str], ...], Handler]] = []
"""Each kind of shape error: the PyTorch messages that report it and the method that explains it, in the order
they are tried (the first method whose messages match the error answers)."""


def _explains(*messages: str) -> Callable[[Handler], Handler]:
    """Declare the PyTorch error messages (regexes) the decorated method explains; the match reaches it, with
    its named groups."""
    patterns = tuple(re.compile(m) for m in messages)

    def register(method: Handler) -> Handler:
        _RULES.append((patterns, method))
        return method

    return register


_ELEMENTWISE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_ELEMENTWISE_CALLS = frozenset({"add", "sub", "mul", "div", "subtract", "multiply", "divide", "pow",
                                "maximum", "minimum", "eq", "ne", "lt", "gt", "le", "ge", "where",
                                "add_", "sub_", "mul_", "div_", "copy_", "masked_fill", "atan2",
                                "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"})
_MATMUL_CALLS = frozenset({"mm", "matmul", "bmm", "mv", "dot", "inner"})
_JOIN_CALLS = ("cat", "concat", "concatenate", "stack", "hstack", "vstack", "column_stack")


_NAME = re.compile(r"[A-Za-z_][\w.]*(\[[\w'\"-]+\])*")
"""What can go in a flag's `tensors`: a name as the Tensors pane shows it (`x`, `model.0.weight`)."""


def _dims(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in re.findall(r"-?\d+", text))


def _shape_of(line: Line, node: ast.AST) -> tuple[int, ...] | None:
    meta = describe(line.value(node))
    return meta.shape if meta is not None else None


def _pairs(line: Line, binops: tuple[type, ...], calls: frozenset[str]) -> list[tuple[ast.AST, ast.AST]]:
    """(left, right) operands of the operators and two-tensor calls on the line, in source order."""
    found: list[tuple[tuple[int, int], ast.AST, ast.AST]] = []
    for node in line.walk():
        pos = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if isinstance(node, ast.BinOp) and isinstance(node.op, binops):
            found.append((pos, node.left, node.right))
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, binops):
            found.append((pos, node.target, node.value))
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name not in calls:
                continue
            receiver = call_receiver(node)
            args = list(node.args)
            if receiver is not None and args and receiver is args[0]:
                args = args[1:]
            if receiver is not None and args:
                found.append((pos, receiver, args[0]))
    found.sort(key=lambda item: item[0])
    return [(a, b) for _, a, b in found]


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        torch.broadcast_shapes(a, b)
    except RuntimeError:
        return False
    return True


def _inner(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int]:
    """The two sizes a matrix product contracts: a's last and b's second-to-last (or only) dimension."""
    k1 = a[-1] if a else 1
    k2 = b[-2] if len(b) >= 2 else (b[0] if b else 1)
    return k1, k2


def _transposed(text: str) -> str:
    return text.removesuffix(".T") if text.endswith(".T") else f"{text}.T"


def _matmul_data(a: str, b: str, a_shape: str, b_shape: str, k1: int, k2: int) -> Data:
    return {"variant": "matmul", "a": a, "b": b, "a_shape": a_shape, "b_shape": b_shape, "k1": str(k1),
            "k2": str(k2), "a_t": _transposed(a), "b_t": _transposed(b)}


class ShapeMismatch(Check):
    """Explains shape errors with the user's names and shapes, the dimension that must agree, and a fix."""

    code: ClassVar[str] = "shape-mismatch"
    explains = (RuntimeError, ValueError, IndexError)

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        message = str(exc)
        for patterns, explain in _RULES:
            m = next((found for p in patterns if (found := p.search(message)) is not None), None)
            if m is None:
                continue
            view = look(ctx, frame, line)
            data = explain(self, view, exc, frame, m)
            if data is None:
                data = self._generic(view, exc, frame, m)
            data.setdefault("code", view.text)
            names = tuple(data[k] for k in ("a", "b", "input", "weight", "target", "tensor")
                          if k in data and _NAME.fullmatch(data[k]) and data[k] not in ("input", "target"))
            self.flag(ctx, "error", data, tensors=names, line=line)
            return True
        return False

    # --- each kind of shape error, in the order they are tried ---------------------------------------

    @_explains(
        r"mat1 and mat2 shapes cannot be multiplied \((?P<r1>\d+)x(?P<k1>\d+) and (?P<k2>\d+)x(?P<c2>\d+)\)",
        r"size mismatch, got input \(\d+\), mat \((?P<r1>\d+)x(?P<k1>\d+)\), vec \((?P<k2>\d+)\)",
        r"inconsistent tensor size, expected tensor \[(?P<k1>\d+)\] and src \[(?P<k2>\d+)\]",
        r"Expected size for first two dimensions of batch2 tensor to be: \[\d+, (?P<k1>\d+)\] "
        r"but got: \[\d+, (?P<k2>\d+)\]")
    def _matmul(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
                ) -> Data | None:
        """Matrix products and nn.Linear: the inner dimensions must agree."""
        failing = failing_module(exc, frame)
        if failing is not None and isinstance(failing[0], torch.nn.Linear) and failing[1]:
            module, inputs = failing
            meta = describe(inputs[0])
            name = input_name(line, module, inputs[0])
            module_name = line.name_of(module) or "nn.Linear"
            return {"variant": "linear", "input": name, "input_shape": meta.shape_text if meta else "?",
                    "module": module_name, "weight": f"{module_name}.weight",
                    "in_features": str(module.in_features),
                    "got": str(meta.shape[-1]) if meta and meta.shape else "?"}
        for call in calls_named(line, ("linear",)):  # F.linear(x, W) computes x @ W.T
            if len(call.args) >= 2:
                sx, sw = _shape_of(line, call.args[0]), _shape_of(line, call.args[1])
                if sx and sw and len(sw) == 2 and sx[-1] != sw[-1]:
                    return _matmul_data(line.src(call.args[0]), f"{line.src(call.args[1])}.T",
                                        shape_text(sx), shape_text(sw[::-1]), sx[-1], sw[-1])
        pairs = _pairs(line, (ast.MatMult,), _MATMUL_CALLS)
        k1, k2 = int(m["k1"]), int(m["k2"])
        chosen: tuple[ast.AST, ast.AST, tuple[int, ...] | None, tuple[int, ...] | None] | None = None
        for a, b in pairs:
            sa, sb = _shape_of(line, a), _shape_of(line, b)
            if sa is not None and sb is not None:
                if sa and sb and _inner(sa, sb)[0] != _inner(sa, sb)[1]:
                    chosen = (a, b, sa, sb)
                    break
            elif chosen is None:
                chosen = (a, b, sa, sb)
        if chosen is None:
            return None
        a, b, sa, sb = chosen
        if sa and sb:
            k1, k2 = _inner(sa, sb)
        groups = m.groupdict()
        a_shape = shape_text(sa) if sa is not None else f"{groups['r1']}×{k1}" if groups.get("r1") else "?"
        b_shape = shape_text(sb) if sb is not None else f"{k2}×{groups['c2']}" if groups.get("c2") else "?"
        return _matmul_data(line.src(a), line.src(b), a_shape, b_shape, k1, k2)

    @_explains(
        r"shape '\[(?P<target>[-\d, ]*)\]' is invalid for input of size (?P<numel>\d+)",
        r"unflatten: Provided sizes \[(?P<target>[-\d, ]*)\] don't multiply up to the size of dim \d+ "
        r"\((?P<numel>\d+)\)",
        r"view size is not compatible with input tensor's size and stride")
    def _view(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
              ) -> Data | None:
        """view/reshape to a shape with another number of elements, or view of a non-contiguous tensor."""
        calls = calls_named(line, ("view", "reshape", "unflatten", "view_as", "reshape_as"))
        receiver = call_receiver(calls[0]) if calls else None
        sized = m if "numel" in m.re.groupindex else None  # None: a view of a non-contiguous tensor
        if sized is not None:
            numel = int(sized["numel"])
            for call in calls:  # the call whose tensor has that many elements
                meta = describe(line.value(call_receiver(call) or call))
                if meta is not None and meta.numel == numel:
                    receiver = call_receiver(call)
                    break
        meta = describe(line.value(receiver)) if receiver is not None else None
        name = line.src(receiver) if receiver is not None else "?"
        shape = meta.shape_text if meta else "?"
        if sized is None:
            return {"variant": "view-stride", "tensor": name, "shape": shape}
        target = "(" + ", ".join(str(d) for d in _dims(sized["target"])) + ")"
        first = str(meta.shape[0]) if meta and meta.shape else "-1"
        return {"variant": "view", "tensor": name, "shape": shape, "numel": sized["numel"], "target": target,
                "first": first}

    @_explains(
        r"The size of tensor a \((?P<n1>\d+)\) must match the size of tensor b \((?P<n2>\d+)\) at "
        r"non-singleton dimension (?P<dim>\d+)",
        r"output with shape \[(?P<out>[\d, ]*)\] doesn't match the broadcast shape \[(?P<result>[\d, ]*)\]")
    def _broadcast(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
                   ) -> Data | None:
        """Elementwise ops: sizes must be equal or 1 in each dimension, counted from the right."""
        inplace = m if "result" in m.re.groupindex else None  # the result would not fit into the left side
        for a, b in _pairs(line, _ELEMENTWISE_OPS, _ELEMENTWISE_CALLS):
            sa, sb = _shape_of(line, a), _shape_of(line, b)
            if sa is None or sb is None or _broadcasts(sa, sb):
                continue
            if inplace is not None:
                return {"variant": "inplace-broadcast", "a": line.src(a), "a_shape": shape_text(sa),
                        "b": line.src(b), "b_shape": shape_text(sb),
                        "result": shape_text(_dims(inplace["result"]))}
            return {"variant": "broadcast", "a": line.src(a), "a_shape": shape_text(sa), "b": line.src(b),
                    "b_shape": shape_text(sb), "dim": m["dim"], "n1": m["n1"], "n2": m["n2"]}
        loss = self._loss(line, exc, frame, m)
        if loss is not None and "?" not in (loss["input_shape"], loss["target_shape"]):
            return loss
        if inplace is not None:
            return None
        return {"variant": "broadcast-unnamed", "dim": m["dim"], "n1": m["n1"], "n2": m["n2"]}

    @_explains(
        r"Sizes of tensors must match except in dimension (?P<dim>\d+)\. Expected size \d+ but got size \d+ "
        r"for tensor number (?P<k>\d+) in the list",
        r"stack expects each tensor to be equal size, but got \[(?P<s1>[\d, ]*)\] at entry (?P<i>\d+) and "
        r"\[(?P<s2>[\d, ]*)\] at entry (?P<k>\d+)")
    def _cat(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
             ) -> Data | None:
        """cat/stack: the tensors must agree in every dimension (but the one joined, for cat)."""
        stack = m if "s1" in m.re.groupindex else None
        k = int(m["k"])
        first = int(stack["i"]) if stack else 0
        names = ["?", "?"]
        shapes: list[str] = [shape_text(_dims(stack["s1"])), shape_text(_dims(stack["s2"]))] if stack \
            else ["?", "?"]
        calls = calls_named(line, _JOIN_CALLS)
        func = line.src(calls[0].func) if calls else ("torch.stack" if stack else "torch.cat")
        if calls and calls[0].args:
            seq = calls[0].args[0]
            for slot, index in enumerate((first, k)):
                if isinstance(seq, ast.List | ast.Tuple) and index < len(seq.elts):
                    node = seq.elts[index]
                    names[slot] = line.src(node)
                    meta = describe(line.value(node))
                else:
                    names[slot] = f"{line.src(seq)}[{index}]"
                    items = line.value(seq)
                    meta = describe(items[index]) if isinstance(items, list | tuple) and index < len(items) \
                        else None
                if meta is not None:
                    shapes[slot] = meta.shape_text
        data = {"func": func, "a": names[0], "a_shape": shapes[0], "b": names[1], "b_shape": shapes[1]}
        if stack:
            data["variant"] = "stack"
        else:
            data.update(variant="cat", dim=m["dim"])
        return data

    @_explains(
        r"Expected input batch_size \(\d+\) to match target batch_size \(\d+\)",
        r"0D or 1D target tensor expected, multi-target not supported",
        r"Target size \(torch\.Size\(\[[\d, ]*\]\)\) must be the same as input size",
        r"Expected target size")
    def _loss(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
              ) -> Data | None:
        """Losses: input and target shapes must fit the loss's convention."""
        loss, (input_name_, value), (target_name, target) = loss_parts(line, exc, frame)
        if not is_a(value, torch.Tensor) or not is_a(target, torch.Tensor):
            return None
        mi, mt = describe(value), describe(target)
        return {"variant": "loss", "loss": loss, "input": input_name_,
                "input_shape": mi.shape_text if mi else "?", "target": target_name,
                "target_shape": mt.shape_text if mt else "?"}

    @_explains(
        r"Given groups=\d+, weight of size \[[\d, ]*\], expected input\[[\d, ]*\] to have \d+ channels",
        r"Expected \d+D \(unbatched\) or \d+D \(batched\) input to \w+",
        r"Given normalized_shape=\[[\d, ]*\], expected input with shape",
        r"running_mean should contain \d+ elements not \d+",
        r"input\.size\(-1\) must be equal to input_size",
        r"Expected hidden size",
        r"Expected (?:input|hidden)\[?\d?\]?\.size\(",
        r"Output size is too small",
        r"Expected \d+-dimensional input for \d+-dimensional weight",
        r"expected input with shape \[\*,")
    def _layer(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
               ) -> Data | None:
        """A layer (conv, norm, recurrent) given an input of the wrong layout."""
        failing = failing_module(exc, frame)
        if failing is None or not failing[1]:
            return None
        module, inputs = failing
        meta = describe(inputs[0])
        return {"variant": "layer", "input": input_name(line, module, inputs[0]),
                "input_shape": meta.shape_text if meta else "?",
                "module": line.name_of(module) or type(module).__name__,
                "layer": type(module).__name__, "detail": m.string.splitlines()[0].strip()}

    @_explains(
        r"a Tensor with (?P<numel>\d+) elements cannot be converted to Scalar",
        r"only one element tensors can be converted to Python scalars")
    def _item(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
              ) -> Data | None:
        """.item() / float() of a tensor with more than one element."""
        node: ast.AST | None = None
        for call in calls_named(line, ("item",)):
            node = call_receiver(call)
            break
        if node is None:
            for call in calls_named(line, ("float", "int", "bool")):
                if isinstance(call.func, ast.Name) and call.args:
                    node = call.args[0]
                    break
        if node is None:
            return None
        meta = describe(line.value(node))
        numel = str(meta.numel) if meta is not None else m.groupdict().get("numel") or "?"
        return {"variant": "item", "tensor": line.src(node), "shape": meta.shape_text if meta else "?",
                "numel": numel}

    @_explains(
        r"Dimension out of range \(expected to be in range of \[(?P<lo>-?\d+), (?P<hi>-?\d+)\], but got "
        r"(?P<dim>-?\d+)\)")
    def _dim(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
             ) -> Data | None:
        """A dimension index the tensor does not have."""
        ndim = max(int(m["hi"]) + 1, 0)
        candidates: list[tuple[str, torch.Tensor]] = []
        for node in line.walk():
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                value = line.value(node.func.value)
                if is_a(value, torch.Tensor):
                    candidates.append((line.src(node.func.value), value))
        candidates += [(r.text, r.value) for r in line.tensors()]
        for name, t in candidates:
            meta = describe(t)
            if meta is not None and len(meta.shape) == ndim:
                return {"variant": "dim", "tensor": name, "shape": meta.shape_text, "ndim": str(ndim),
                        "dim": m["dim"]}
        return None

    @_explains(
        r"The expanded size of the tensor \(\d+\) must match the existing size",
        r"number of dimensions in the tensor input does not match the length of the desired ordering",
        r"must match the size of tensor b",
        r"shapes cannot be multiplied")
    def _generic(self, line: Line, exc: BaseException, frame: types.FrameType | None, m: re.Match[str]
                 ) -> Data:
        """Any other shape error PyTorch reports: quote it, with the shapes of the tensors on the line."""
        shapes = ", ".join(f"{r.text}: {meta.shape_text}" for r in line.tensors()[:4]
                           if (meta := describe(r.value)) is not None)
        return {"detail": m.string.splitlines()[0].strip(), "shapes": shapes or "?"}
