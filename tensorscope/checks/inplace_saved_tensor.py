"""`inplace-saved-tensor`: an in-place op changed a tensor that autograd saved for backward.

Live, at the in-place line: lines that change a tensor in place (`h *= 2`, `h.mul_(2)`, `h[0] = 0`) are
found by parsing the source; when the tensor's version moved during the line, the autograd graphs of
the tensors in scope are asked for their saved tensors, unless the tensor shares nothing a graph could
have saved (no other reference to its TensorImpl or its storage: `y[:3] = -1` on a fresh target), and a
node whose saved tensors were read at an earlier probe is read again only if they are the tensor's.
PyTorch itself answers: reading a saved tensor whose version changed raises its "modified by an inplace
operation" error, which names the node that saved it (a warning, before backward() fails). Then, if
backward() fails with that error, the failure is explained under the same code (error).

No saved-tensor hooks are installed: PyTorch keeps its own version check, so buggy scripts raise exactly
as they do without tensorscope, gradients are computed by PyTorch alone, `torch.func` transforms run
untouched, and a forward pass costs nothing extra (saved-tensor hooks cost about a quarter of a small
MLP's step). In-place changes made inside library code are explained when backward() fails.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from tensorscope import shapes
from tensorscope.checks.base import Check
from tensorscope.checks.support import inplace_calls
from tensorscope.checks.support.graph import walk_graph
from tensorscope.checks.support.line_info import AfterLine, line_info
from tensorscope.checks.support.names import Names, user_frames
from tensorscope.checks.support.resolve import lookup
from tensorscope.engine.collect import CONTAINER_ITEMS, iter_named_tensors, scope_of
from tensorscope.engine.values import is_a

if TYPE_CHECKING:
    from tensorscope.engine.context import RunContext

_MARK = "modified by an inplace operation"
_FREED = "have already been freed"
_MAX_FREED = 200_000
"""Nodes remembered as freed (a long loop keeps every pass's graph alive through a running sum)."""
_MAX_NODES = 5_000
_PYTORCH_TEXT = re.compile(
    r"\[(?P<type>[\w.]+) \[(?P<shape>[^\]]*)\]\](?:, which is output \d+ of (?P<op>[\w:]+),)? "
    r"is at version (?P<version>\d+); expected version (?P<saved>\d+)"
)
_saved_attrs: dict[type, tuple[str, ...]] = {}


def _storage_refs_alone() -> int:
    """References to the storage of a tensor that shares it with no other (its TensorImpl's, and the
    Python storage object's, which `untyped_storage()` creates once and the storage keeps: 2 on 2.13)."""
    t = torch.empty(1)
    t.untyped_storage()
    return int(torch._C._storage_Use_Count(t.untyped_storage()._cdata))


_STORAGE_ALONE = _storage_refs_alone()


def _op_name(node_name: str) -> str:
    """The forward op's name as PyTorch's version error prints it: `SigmoidBackward0` -> `Sigmoid`."""
    return re.sub(r"Backward\d*$", "", node_name)


def _attrs_of(node: Any) -> tuple[str, ...]:
    """The attributes through which a node hands out its saved tensors (cached per node type; those that
    turn out to hold numbers or sizes, such as AddBackward0's `_saved_alpha`, are dropped: reading one
    costs as much as unpacking a tensor, and a long chain of them made each probe slow)."""
    kind = type(node)
    attrs = _saved_attrs.get(kind)
    if attrs is None:
        listed = dir(node)
        names = [a for a in listed if a.startswith("_saved_")]
        if "saved_tensors" in listed:  # a custom autograd.Function
            names.append("saved_tensors")
        attrs = _saved_attrs[kind] = tuple(names)
    return attrs


def _storage_id(t: torch.Tensor) -> int | None:
    """The address of `t`'s storage (None for a tensor without one: sparse, nested, a subclass)."""
    if type(t) is not torch.Tensor:
        return None
    try:
        with torch._C.DisableTorchFunction():  # a mode of the script's (or ours) must not see this
            return int(t.untyped_storage()._cdata)
    except (RuntimeError, NotImplementedError, AttributeError, TypeError):
        return None


def _alone(t: torch.Tensor, storage: int | None) -> bool:
    """True when no saved tensor can share `t`'s version counter, so no graph needs probing: nothing but
    `t` holds its TensorImpl (a graph that saved `t` holds it too), no other TensorImpl holds its storage
    (views, `detach()` and a saved output share the storage), and the line kept that storage."""
    if storage is None:
        return False
    try:
        with torch._C.DisableTorchFunction():
            if t._use_count() != 1 or int(t.untyped_storage()._cdata) != storage:
                return False
            return bool(torch._C._storage_Use_Count(storage) <= _STORAGE_ALONE)
    except (RuntimeError, NotImplementedError, AttributeError, TypeError):
        return False


def _graph_roots(namespace: Mapping[str, Any]) -> Iterator[Any]:
    """The `grad_fn` of each tensor in a scope, named or in a list, tuple or dict (as the Tensors pane finds
    them). Modules are passed over: their parameters are leaves, and listing a large model's parameters
    cost more than the rest of a probe."""
    for name, value in list(namespace.items()):
        if name.startswith("__"):
            continue
        if is_a(value, torch.Tensor):
            if value.grad_fn is not None:
                yield value.grad_fn
            continue
        if type(value) in (list, tuple):
            items = value[:256]
        elif type(value) is dict:
            items = list(value.values())[:256]
        else:
            continue
        shown = 0
        for item in items:
            if is_a(item, torch.Tensor):
                if item.grad_fn is not None:
                    yield item.grad_fn
                shown += 1
                if shown >= CONTAINER_ITEMS:
                    break


def _impl_id(t: torch.Tensor) -> int:
    """The address of `t`'s TensorImpl (a saved tensor that is `t` itself unpacks to the same one)."""
    with torch._C.DisableTorchFunction():
        return int(t._cdata)


def _addresses(value: Any, into: list[int]) -> list[int] | None:
    """`into` with the TensorImpl and storage addresses of the saved tensor(s) `value` (None: a tensor
    without a plain storage, whose node is then read at every probe)."""
    with torch._C.DisableTorchFunction():
        for v in value if isinstance(value, list | tuple) else (value,):
            if v is None:
                continue
            if type(v) is not torch.Tensor:
                return None
            try:
                into += (int(v._cdata), int(v.untyped_storage()._cdata))
            except (RuntimeError, NotImplementedError):
                return None
    return into


def _may_hold_tensors(value: Any) -> bool:
    """Whether a saved attribute's value is (or holds) a tensor, or may (None: an optional tensor)."""
    if value is None or is_a(value, torch.Tensor):
        return True
    return isinstance(value, list | tuple) and any(v is None or is_a(v, torch.Tensor) for v in value)


def _not_tensors(kind: type, attr: str) -> None:
    """`attr` of `kind` nodes holds no tensor (its C++ type is fixed): never read it again."""
    attrs = _saved_attrs.get(kind)
    if attrs is not None and attr in attrs:
        _saved_attrs[kind] = tuple(a for a in attrs if a != attr)


class _Found:
    """A saved tensor changed in place, as PyTorch's own check reports it."""

    def __init__(self, saver: str, text: str) -> None:
        m = _PYTORCH_TEXT.search(text)
        self.saver = saver
        self.shape = m.group("shape") if m else ""
        self.saved_version = m.group("saved") if m else "?"
        self.version = m.group("version") if m else "?"


class InplaceSavedTensor(Check):
    """Flags in-place changes of tensors saved for backward, where they happen and when backward fails."""

    code: ClassVar[str] = "inplace-saved-tensor"
    explains = (RuntimeError,)
    wants_lines = True

    def __init__(self) -> None:
        self._after = AfterLine()
        self._flagged: set[tuple[str, int, str]] = set()
        self._seen: list[dict[str, str]] = []
        """The data of every warning raised, to explain a later backward() failure."""
        self._freed: set[tuple[int, int]] = set()
        """(id, sequence number) of nodes whose saved values a backward() freed (probing them raises)."""
        self._calls: dict[tuple[str, int], tuple[inplace_calls.Candidate, ...]] = {}
        """(file, line) -> the calls on that line that may change their first argument in place."""
        self._held: dict[tuple[int, int], frozenset[int]] = {}
        """(id, sequence number) of a node -> the addresses of its saved tensors and their storages, read at
        an earlier probe (a node's saved tensors never change): a later probe for another tensor skips it."""

    def on_line(self, ctx: RunContext, frame: types.FrameType, line: int) -> None:
        info = line_info(ctx, frame, line)
        if info.continuation:
            return
        if self._after.pending is not None:
            done = self._after.advance(frame, line)
            if done is not None:
                self._finished(ctx, *done)
        key = (frame.f_code.co_filename, line)
        calls = self._calls.get(key)
        if calls is None:
            calls = self._calls[key] = inplace_calls.candidates(info.code)
        changed = inplace_calls.changed_args(frame, calls) if calls else ()
        if info.inplace or changed:
            watched = []
            local = frame.f_locals
            for name in dict.fromkeys(info.inplace + changed):
                t = lookup(frame, name, local)
                if is_a(t, torch.Tensor) and not t.is_inference():
                    watched.append((name, t, t._version, _storage_id(t)))
            if watched:
                self._after.pending = (frame, line, watched)

    def on_finish(self, ctx: RunContext) -> None:
        done, self._after.pending = self._after.pending, None
        if done is not None:  # the script's last line changed a tensor in place
            self._finished(ctx, *done)
        self._seen.clear()
        self._freed.clear()
        self._held.clear()
        self._calls.clear()

    def _finished(self, ctx: RunContext, frame: types.FrameType, line: int,
                  watched: list[tuple[str, torch.Tensor, int, int | None]]) -> None:
        for name, t, version, storage in watched:
            if t._version == version or (t.is_leaf and t.requires_grad):
                continue  # unchanged, or a parameter updated in place (saved copies are PyTorch's business)
            if _alone(t, storage):
                continue  # shares nothing: no graph can have saved it (`y[:3] = -1` on a fresh target)
            key = (frame.f_code.co_filename, line, name)
            if key in self._flagged:
                continue
            now = _storage_id(t)
            same = now is not None and now == storage  # else: read every saved tensor (`set_` swapped it)
            found = self._probe(ctx, frame, t, frozenset((now, _impl_id(t))) if same else None)
            if found is None:
                continue
            self._flagged.add(key)
            data = {
                "name": name,
                "saver": found.saver,
                "code": line_info(ctx, frame, line).code,
                "inplace_line": str(line),
                "saved_version": found.saved_version,
                "version": found.version,
                "shape": shapes.shape_text(t.shape),
            }
            self._seen.append(data | {"op": _op_name(found.saver), "dims": found.shape})
            self.flag(ctx, "warning", data, tensors=(name,), line=line)

    def _probe(self, ctx: RunContext, frame: types.FrameType, t: torch.Tensor,
               targets: frozenset[int] | None = None) -> _Found | None:
        """Ask the graphs in scope whether one saved `t` before it changed (PyTorch's check answers).
        `targets`: the addresses of `t` and its storage; a node whose saved tensors were read before and
        hold neither cannot have saved `t` (nor a view or alias of it) and is not read again."""
        dims = ", ".join(str(d) for d in t.shape)
        stack: list[Any] = [t.grad_fn] if t.grad_fn is not None else []
        with torch._C.DisableTorchFunction():
            for f in user_frames(ctx, frame):
                stack.extend(_graph_roots(scope_of(f)))
        for node in walk_graph(stack, _MAX_NODES):
            attrs = _attrs_of(node)
            done = (id(node), node._sequence_nr()) if attrs else None
            if done is not None and done in self._freed:
                attrs = ()  # its saved values were freed by a backward(): they stay freed
            elif done is not None and targets is not None:
                held = self._held.get(done)
                if held is not None and targets.isdisjoint(held):
                    attrs = ()
            ids: list[int] | None = []
            for attr in attrs:
                try:
                    value = getattr(node, attr)
                except RuntimeError as exc:
                    text = str(exc)
                    if _MARK in text and f"[{dims}]]" in text:
                        return _Found(node.name(), text)
                    if _FREED in text and done is not None:
                        if len(self._freed) > _MAX_FREED:
                            self._freed.clear()
                        self._freed.add(done)
                    ids = None
                    continue
                except (AttributeError, TypeError):  # not a saved value after all
                    continue
                else:
                    if not _may_hold_tensors(value):
                        _not_tensors(type(node), attr)
                    elif ids is not None:
                        ids = _addresses(value, ids)
            if attrs and done is not None and ids is not None:
                if len(self._held) > _MAX_FREED:
                    self._held.clear()
                self._held[done] = frozenset(ids)
        return None

    def on_exception(self, ctx: RunContext, exc: BaseException, frame: types.FrameType | None,
                     line: int) -> bool:
        if _MARK not in str(exc):
            return False
        m = _PYTORCH_TEXT.search(str(exc))
        op = m.group("op") if m else None
        dims = m.group("shape") if m else None
        seen = next((d for d in reversed(self._seen)
                     if dims == d["dims"] and (op is None or op == d["op"])), None)
        if seen is not None:
            data = {k: v for k, v in seen.items() if k not in ("op", "dims")}
            if m:
                data["version"] = m.group("version")
                data["saved_version"] = m.group("saved")
            data["variant"] = "failed"
            tensors: tuple[str, ...] = (data["name"],)
        else:
            shape = f"({dims})" if m else "?"
            name = self._name_by_shape(ctx, frame, dims) if dims is not None else None
            data = {
                "name": name or f"a tensor of shape {shape}",
                "saver": f"{op}Backward" if op else "autograd",
                "saved_version": m.group("saved") if m else "?",
                "version": m.group("version") if m else "?",
                "shape": shape,
                "variant": "failed-unknown",
            }
            tensors = (name,) if name else ()
        self.flag(ctx, "error", data, tensors=tensors, line=line)
        return True

    def _name_by_shape(self, ctx: RunContext, frame: types.FrameType | None, dims: str) -> str | None:
        """The one tensor in scope with this shape whose version moved past 0, if there is exactly one."""
        names = Names(ctx, frame)
        found = []
        for f in user_frames(ctx, frame):
            for name, t, _kind in iter_named_tensors(scope_of(f)):
                if ", ".join(str(d) for d in t.shape) == dims and t._version > 0 and not t.is_leaf:
                    found.append(names.get(t) or name)
        unique = list(dict.fromkeys(found))
        return unique[0] if len(unique) == 1 else None
