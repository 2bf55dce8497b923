"""Data breakpoints, live: whether the line that just ran changed a watched tensor, wrote its `.grad`, made a
tensor in scope NaN/Inf, or raised a chosen flag (`--stop-on`, `engine/stopon.py`).

`DataBreaks.check` runs at every line event of the user's code while a data breakpoint is set, so what it
does when nothing changed is kept to a few microseconds per watched name: a lookup without running the
script's code (`static.static_value`), a compare of the tensor's identity, data pointer, `_version` and
metadata, and a *probe* (the bytes of about 64 elements spread over a contiguous CPU tensor, or all of a
tensor up to 4 KiB, read in place). The values' CRC-32 (`fingerprint.py`) is computed only when something
says they may have changed: a new identity or data pointer, a version bump, a different probe, or the line
that just ran mentions `.data` or `numpy` (writes that change values without bumping `_version`). For an
unchanged 1000×1000 float32 tensor that is about 2-8 µs a line (`change:w`, on a loaded 2-core machine);
the CRC about 0.7 ms (tests/test_databreaks.py measures both). `nan` keeps, per tensor, the answer for its
address, version, metadata and probe, so an unchanged tensor is not read again.

What it cannot see: a write that bumps no version, changes none of the probed elements and is made by a
line that does not say `.data` (a library function writing a few elements of a large tensor's `.data`), and
the same on a GPU tensor (no probe there: reading its memory would copy it). An inference tensor has no
version, so `change:`/`grad:` compute its CRC at every line.

Nothing is attached to the script's objects: no weak reference, no attribute, no reference kept; what is
remembered is plain numbers and bytes, keyed by name (a tensor whose id is reused is compared by its values,
as any other). A name is followed where it is read (a function's locals, a module's globals): another
function's tensor of the same name is a new baseline, not a change, while the same tensor reached under
its name in a called function is the same tensor. `nan` remembers, per scope and name, whether it held a
NaN/Inf, and pauses when a name gets one its tensor was not already known to hold.
"""

from __future__ import annotations

import ctypes
import itertools
import linecache
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from tensorscope.engine.fingerprint import fingerprint
from tensorscope.engine.static import static_grad, static_value, stored_grad
from tensorscope.engine.stopon import StopOn
from tensorscope.engine.values import is_a
from tensorscope.model import Flag, PauseReason
from tensorscope.shapes import shape_text

DeviceName = Callable[[torch.Tensor], str]
"""How a device is written (the simulated device under --simulate-cuda); default `str(t.device)`."""

PROBE_SAMPLES = 64
"""About how many elements of a large contiguous CPU tensor the probe reads, evenly spaced."""
PROBE_WHOLE_BYTES = 4096
"""A contiguous CPU tensor up to this many bytes is probed whole."""
CONTAINER_ITEMS = 8
"""`nan` looks at this many tensors of one list, tuple or dict (as the Tensors pane's folded rows)."""
_WINDOW = 64
"""... found among its first this many items."""
_CHECKSUM_LIMIT = 1 << 62
_SUSPECT_WORDS = (".data", "numpy")
"""Words of a line that may change a tensor's values without bumping its `_version`."""
_SCAN_CACHE = 4096

_memory = ctypes.pythonapi.PyMemoryView_FromMemory
_memory.restype = ctypes.py_object
_memory.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int)
_PYBUF_READ = 0x100
_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}
_ABSENT = object()
_NO_GRAD = object()
"""What `grad:NAME` remembers when NAME's `.grad` was None."""


_Reader = tuple[memoryview, int]
"""Where a probe reads: the tensor's memory as cells, and every how many cells it reads one."""


@dataclass(frozen=True, slots=True, eq=False)
class _Seen:
    """What is remembered of one tensor: plain values, never the tensor."""

    sig: tuple[int, int, int, bool, bool]
    """id, data pointer, version, contiguous, on the CPU (where the probe may read)."""
    meta: tuple[Any, ...]
    """shape, dtype, device (or its simulated name), requires_grad."""
    probe: bytes | None
    checksum: int | None
    reader: _Reader | None = None
    """Where the probe reads (reused while the signature is the same)."""


def _version(t: torch.Tensor) -> int:
    """`t._version`; 0 for an inference tensor (it has no version counter)."""
    return 0 if t.is_inference() else t._version


def _data_ptr(t: torch.Tensor) -> int:
    try:
        return t.data_ptr()
    except (RuntimeError, NotImplementedError):  # sparse, nested or storage-less tensors
        return 0


def _contiguous(t: torch.Tensor) -> bool:
    return t.layout == torch.strided and t.is_contiguous()


def _reader(t: torch.Tensor, ptr: int) -> _Reader | None:
    """How to probe a contiguous CPU tensor in place (None for any other: its probe is None)."""
    if not ptr or not t.is_cpu or not _contiguous(t):
        return None
    size = t.element_size()
    nbytes = t.numel() * size
    view = _memory(ptr, nbytes, _PYBUF_READ)
    if nbytes <= PROBE_WHOLE_BYTES:
        return view, 1
    cells = view.cast(_FORMATS.get(size, "B"))
    return cells, max(1, len(cells) // PROBE_SAMPLES)


def _read(reader: _Reader | None) -> bytes | None:
    """The probe: the bytes of every `step`-th cell (all of a small tensor)."""
    return None if reader is None else reader[0][::reader[1]].tobytes()


def _meta(t: torch.Tensor, device_name: DeviceName | None) -> tuple[Any, ...]:
    device = device_name(t) if device_name is not None else t.device
    return (t.shape, t.dtype, device, t.requires_grad)


def _dtype(d: torch.dtype) -> str:
    return str(d).removeprefix("torch.")


def _meta_change(old: tuple[Any, ...], new: tuple[Any, ...]) -> str:
    """`shape 3 → 4`, `device cpu → cuda:0`, ... (several joined by commas); empty when the same."""
    parts = []
    if old[0] != new[0]:
        parts.append(f"shape {shape_text(old[0])} → {shape_text(new[0])}")
    if old[1] != new[1]:
        parts.append(f"dtype {_dtype(old[1])} → {_dtype(new[1])}")
    if old[2] != new[2]:
        parts.append(f"device {old[2]} → {new[2]}")
    if old[3] != new[3]:
        parts.append(f"requires_grad {old[3]} → {new[3]}")
    return ", ".join(parts)


def _observe(t: torch.Tensor, old: _Seen | None, suspect: bool, device_name: DeviceName | None,
             identity: bool) -> tuple[_Seen, str | None]:
    """What to remember of `t` now, and what changed since `old` (None: nothing, or `old` is None).

    `identity`: a new identity or version counts as a change by itself (a `.grad`); otherwise only the
    values and metadata count (a rebinding to an equal tensor is no change).
    """
    ptr = _data_ptr(t)
    sig = (id(t), ptr, _version(t), _contiguous(t), t.is_cpu)
    meta = _meta(t, device_name)
    if old is not None and sig == old.sig and meta == old.meta:
        # (the same address, size and layout as when `old.reader` was made: its memory is `t`'s)
        probe = _read(old.reader)
        if probe == old.probe and not suspect and not t.is_inference():
            return old, None
        checksum = fingerprint(t, _CHECKSUM_LIMIT)
        if checksum is None and probe == old.probe:
            return old, None  # values that cannot be read: nothing says they changed
        seen = _Seen(sig, meta, probe, checksum, old.reader)
        return seen, (None if checksum is not None and checksum == old.checksum else "values")
    reader = _reader(t, ptr)
    seen = _Seen(sig, meta, _read(reader), fingerprint(t, _CHECKSUM_LIMIT), reader)
    if old is None:
        return seen, None
    moved = _meta_change(old.meta, meta)
    if moved:
        return seen, moved
    if identity or seen.checksum is None or seen.checksum != old.checksum:
        return seen, "values"
    return seen, None


def _lookup(name: str, local: Any, global_: dict[str, Any]) -> Any:
    """The tensor a dotted name reaches (a trailing `.grad`: the tensor's grad), or `_ABSENT`; no script
    code runs."""
    try:
        value = static_value(name, local, global_)
    except LookupError:
        base, _, attr = name.rpartition(".")
        if attr != "grad" or not base:
            return _ABSENT
        try:
            value = static_grad(base, local, global_)
        except LookupError:
            return _ABSENT
    return value if is_a(value, torch.Tensor) and not value.is_nested else _ABSENT  # (nested: no shape)


def _module_tensors(name: str, module: torch.nn.Module, done: set[int]) -> list[tuple[str, torch.Tensor]]:
    """A module's parameters and buffers, then its children's, read from its tables (no script code runs)."""
    found: list[tuple[str, torch.Tensor]] = []
    todo = [(name, module)]
    while todo:
        prefix, m = todo.pop()
        if id(m) in done:
            continue
        done.add(id(m))
        d = object.__getattribute__(m, "__dict__")
        for table in ("_parameters", "_buffers"):
            entries = d.get(table)
            if entries:
                found.extend((prefix + "." + key, v) for key, v in entries.items() if is_a(v, torch.Tensor))
        children = d.get("_modules")
        if children:
            todo.extend(reversed([(prefix + "." + key, c) for key, c in children.items()
                                  if is_a(c, torch.nn.Module)]))
    return found


def _scope_tensors(scope: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) for the tensors a frame's locals reach: by name, module, list, tuple or dict."""
    modules: set[int] = set()
    for name, value in list(scope.items()):
        kind = type(value)
        if type(name) is not str or name.startswith("__"):
            continue
        if issubclass(kind, torch.Tensor):
            yield name, value
        elif issubclass(kind, torch.nn.Module):
            yield from _module_tensors(name, value, modules)
        elif kind is list or kind is tuple or kind is dict:
            items = enumerate(value) if kind is not dict else value.items()
            found = 0
            for key, item in itertools.islice(items, _WINDOW):
                if found >= CONTAINER_ITEMS:
                    break
                if is_a(item, torch.Tensor) and type(key) in (str, int):  # (a repr that runs no script code)
                    found += 1
                    yield f"{name}[{key!r}]", item


def _nonfinite(t: torch.Tensor) -> tuple[bool, bool]:
    """(holds a NaN, holds an infinity); a finite sum answers for the common case in one pass."""
    if not (t.is_floating_point() or t.is_complex()) or t.numel() == 0 or t.layout != torch.strided:
        return False, False
    if t.is_meta:
        return False, False
    with torch.no_grad():
        x = t.detach()
        if bool(torch.isfinite(x.sum())):
            return False, False
        return bool(torch.isnan(x).any()), bool(torch.isinf(x).any())


Scope = tuple[str, str, int]
"""Where a name lives: a function's locals (file, function, first line) or a module's globals."""


def _scope(frame: types.FrameType, local: Any) -> Scope:
    """The scope of `frame`'s locals (a module's globals at module level)."""
    if local is frame.f_globals:
        return ("<globals>", "", id(frame.f_globals))
    code = frame.f_code
    return (code.co_filename, code.co_name, code.co_firstlineno)


def _scope_of_name(name: str, frame: types.FrameType, local: Any) -> Scope:
    """The scope NAME was read from: the frame's locals, else its module's globals."""
    if name.partition(".")[0] in local:
        return _scope(frame, local)
    return ("<globals>", "", id(frame.f_globals))


class DataBreaks:
    """The data breakpoints of one run, and what they remember between line events."""

    def __init__(self, specs: tuple[StopOn, ...], device_name: DeviceName | None = None) -> None:
        self._specs = specs
        self._device_name = device_name
        self._watch_values = any(s.kind in ("change", "grad", "nan") for s in specs)
        self._changes: dict[str, tuple[Scope, _Seen]] = {}
        """change: NAME -> where it was last seen, what it was."""
        self._grads: dict[str, tuple[Scope, int, Any]] = {}
        """grad: NAME -> where it was last seen, the tensor's id, its `.grad`'s `_Seen` (or `_NO_GRAD`)."""
        self._held: dict[tuple[Scope, str], tuple[bool, bool]] = {}
        """nan: (scope, name) -> (held a NaN, held an infinity) when last seen."""
        self._scanned: dict[int, tuple[tuple[Any, ...], tuple[bool, bool], _Reader | None, bytes | None]] = {}
        """nan: id -> (what identifies the tensor's values, its answer): unchanged tensors are not re-read."""
        self._flags_seen: dict[int, Flag] = {}
        self._suspects: dict[tuple[str, int], bool] = {}
        self._last: tuple[str, int] | None = None

    @property
    def specs(self) -> tuple[StopOn, ...]:
        """The data breakpoints, as given."""
        return self._specs

    @property
    def active(self) -> bool:
        """Whether any data breakpoint is set (with none, the engine need not call `check`)."""
        return bool(self._specs)

    def check(self, frame: types.FrameType, flags: list[Flag]) -> PauseReason | None:
        """Called at every line event of the user's code (before the pause decision: the previous line
        has just run), with the flags raised since the last pause (a list the engine clears at each
        Step; consider each Flag object once). Returns why to pause (the first trigger), updating what it
        remembers."""
        if not self._specs:
            return None
        new_flags = self._new_flags(flags) if len(flags) or self._flags_seen else ()
        suspect = False
        if self._watch_values:
            suspect = self._suspect()
            self._last = (frame.f_code.co_filename, frame.f_lineno)
        local = frame.f_locals if self._watch_values else {}
        first: PauseReason | None = None
        with torch._C.DisableTorchFunction():
            for spec in self._specs:
                if spec.kind == "change":
                    reason = self._change(spec.subject, frame, local, suspect)
                elif spec.kind == "grad":
                    reason = self._grad(spec.subject, frame, local, suspect)
                elif spec.kind == "nan":
                    reason = self._nan(_scope(frame, local), local, suspect)
                else:
                    reason = next((PauseReason("flag", f.code, f.message) for f in new_flags
                                   if f.code == spec.subject), None)
                if first is None:
                    first = reason
        return first

    def _new_flags(self, flags: list[Flag]) -> list[Flag]:
        """The flags of `flags` not seen at an earlier call (each Flag object is considered once)."""
        seen = self._flags_seen
        new = [f for f in flags if seen.get(id(f)) is not f]
        self._flags_seen = {id(f): f for f in flags}  # (held, so an id is not reused meanwhile)
        return new

    def _suspect(self) -> bool:
        """Whether the line that just ran may have changed values without a version bump (`.data`)."""
        if self._last is None:
            return False
        hit = self._suspects.get(self._last)
        if hit is None:
            text = linecache.getline(*self._last)
            hit = self._suspects[self._last] = any(w in text for w in _SUSPECT_WORDS)
        return hit

    def _change(self, name: str, frame: types.FrameType, local: Any, suspect: bool) -> PauseReason | None:
        t = _lookup(name, local, frame.f_globals)
        if t is _ABSENT:
            return None
        scope = _scope_of_name(name, frame, local)
        last = self._changes.get(name)
        old = last[1] if last is not None and (last[0] == scope or last[1].sig[0] == id(t)) else None
        seen, detail = _observe(t, old, suspect, self._device_name, identity=False)
        self._changes[name] = (scope, seen)
        return PauseReason("changed", name, detail) if detail else None

    def _grad(self, name: str, frame: types.FrameType, local: Any, suspect: bool) -> PauseReason | None:
        t = _lookup(name, local, frame.f_globals)
        if t is _ABSENT:
            return None
        scope = _scope_of_name(name, frame, local)
        g = stored_grad(t)
        last = self._grads.get(name)
        old = last[2] if last is not None and (last[0] == scope or last[1] == id(t)) else None
        if g is None:
            self._grads[name] = (scope, id(t), _NO_GRAD)
            return PauseReason("grad", name, "set to None") if isinstance(old, _Seen) else None
        seen, detail = _observe(g, old if isinstance(old, _Seen) else None, suspect, self._device_name,
                                identity=True)
        self._grads[name] = (scope, id(t), seen)
        if old is _NO_GRAD:
            return PauseReason("grad", name, "written")
        if detail is None:
            return None
        with torch.no_grad():
            zero = (g.layout == torch.strided and not g.is_meta and g.numel() > 0
                    and not bool(g.detach().any()))
        return PauseReason("grad", name, "zeroed" if zero else "written")

    def _nan(self, scope: Scope, local: Any, suspect: bool) -> PauseReason | None:
        """A name of this scope that now holds a NaN (or an infinity) that neither it, when last seen, nor
        its tensor, when last read unchanged (a NaN tensor passed to a function is not news), held."""
        first: PauseReason | None = None
        done: set[int] = set()
        for name, t in _scope_tensors(local):
            if id(t) in done or t.is_nested:
                continue
            done.add(id(t))
            now, known = self._scan(t, suspect)
            before = self._held.get((scope, name), (False, False))
            self._held[(scope, name)] = now
            if known or first is not None:
                continue
            if now[0] and not before[0] or now[1] and not before[1]:
                first = PauseReason("nan", name, "NaN" if now[0] and not before[0] else "Inf")
        return first

    def _scan(self, t: torch.Tensor, suspect: bool) -> tuple[tuple[bool, bool], bool]:
        """Whether `t` holds a NaN, an infinity, and whether that was known (`t` read before, unchanged
        since): read again only when its values may have changed."""
        if not (t.is_floating_point() or t.is_complex()):
            return (False, False), True
        ptr = _data_ptr(t)
        key = (ptr, _version(t), t.shape, t.dtype, t.device, _contiguous(t))
        hit = self._scanned.get(id(t))
        if hit is not None and hit[0] == key and not suspect:
            # (the same address, size and layout as when the reader was made: its memory is this tensor's)
            if hit[2] is None or _read(hit[2]) == hit[3]:
                return hit[1], True
        reader = _reader(t, ptr)
        answer = _nonfinite(t)
        if len(self._scanned) >= _SCAN_CACHE:
            self._scanned.clear()
        self._scanned[id(t)] = (key, answer, reader, _read(reader))
        return answer, hit is not None and hit[0] == key and hit[1] == answer
