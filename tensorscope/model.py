"""The data that flows from the engine to every consumer: plain, frozen records with a JSON round-trip.

Nothing else in the package is needed to read a trace: this module imports only the standard library.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

SCHEMA = 1
"""Version of the trace format; bumped when a field changes meaning. Readers accept older versions."""



class TraceFormatError(ValueError):
    """Text that is not a tensorscope trace, or a damaged one; the message says what is wrong where."""


Severity = Literal["error", "warning", "info"]
StepEvent = Literal["line", "return", "exception", "end"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Stats:
    """Summary statistics of a tensor's values (floating point and integer tensors only)."""

    min: float
    max: float
    mean: float
    std: float
    nan: int = 0
    """How many elements are NaN."""
    inf: int = 0
    """How many elements are +Inf or -Inf."""


@dataclass(frozen=True)
class GradView:
    """The `.grad` of a tensor at one step."""

    shape: tuple[int, ...]
    dtype: str
    device: str
    norm: float | None = None
    """L2 norm of the gradient (None when it could not be computed, e.g. integer dtype)."""
    preview: str | None = None
    """The values, formatted, for small gradients only."""


@dataclass(frozen=True)
class GraphNode:
    """One node of a tensor's autograd graph, in depth-first order (the tree the Inspector draws)."""

    depth: int
    """0 for the tensor's own `grad_fn`, 1 for its inputs, and so on down to the leaves."""
    name: str
    """The node's class: `MulBackward0`, `AccumulateGrad` (a leaf), or `…` where the tree was cut."""
    leaf: str | None = None
    """For a leaf: the user's name for it (`w`, `model.0.weight`) or its shape and dtype."""
    again: bool = False
    """True when this node was already drawn higher up (graphs share nodes); its inputs are not repeated."""
    more: int = 0
    """For a cut (`…`): how many nodes it hides, counted up to GRAPH_MORE_CAP (`100+`); 0: not counted."""


GRAPH_MORE_CAP = 100
"""A graph cut's count of the nodes it hides stops here."""


@dataclass(frozen=True)
class TensorView:
    """One tensor in scope at one step: metadata always, values only when small."""

    name: str
    """How the user reaches it: `w`, `model.0.weight`, `batch[0]`, `state["h"]`."""
    shape: tuple[int, ...]
    dtype: str
    """Short dtype name: `float32`, `int64`, `bool`."""
    device: str
    """`cpu`, `cuda:0`, ..."""
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None
    """Name of the autograd node that made it (`AddBackward0`), None for leaves."""
    version: int
    """The tensor's `_version`: bumped by every in-place change."""
    numel: int
    kind: str = "tensor"
    """`tensor`, `parameter` (of an nn.Module) or `buffer`."""
    preview: str | None = None
    """The values, formatted, for small tensors only."""
    stats: Stats | None = None
    """min/max/mean/std and NaN/Inf counts, for tensors small enough to summarise cheaply."""
    grad: GradView | None = None
    """Its `.grad` (read only for leaves and tensors that retain grad)."""
    graph: tuple[GraphNode, ...] = ()
    """Its autograd graph, `grad_fn` first, down to the leaves (empty for leaves and plain tensors)."""

    @property
    def shape_text(self) -> str:
        """Shape as people write it: `()` for scalars, `4×1` otherwise."""
        return "()" if not self.shape else "×".join(str(d) for d in self.shape)


@dataclass(frozen=True)
class OptimizerView:
    """An optimizer in scope, summarised."""

    name: str
    type: str
    """Class name: `SGD`, `Adam`."""
    lr: float | None
    param_count: int
    """How many tensors it updates."""


@dataclass(frozen=True)
class Flag:
    """A pitfall detected at one line. `code` is a public, stable identifier."""

    code: str
    severity: Severity
    line: int
    function: str
    message: str
    """One sentence naming the user's variables."""
    hint: str
    """How to fix it."""
    tensors: tuple[str, ...] = ()
    """Names of the tensors involved."""
    file: str = ""
    """Display path of the file the line is in (empty: the main script)."""
    data: dict[str, str] = field(default_factory=dict, hash=False)
    """Named values the explanation catalogue fills in (variable names, values, shapes)."""


@dataclass(frozen=True)
class FrameInfo:
    """One frame of a call stack or traceback, in user code."""

    file: str
    line: int
    function: str
    code: str = ""
    """The source line, stripped."""


@dataclass(frozen=True)
class ExceptionInfo:
    """An exception raised by the script, with the traceback cut to the user's frames."""

    type: str
    message: str
    line: int
    function: str = "<module>"
    file: str = ""
    traceback: tuple[FrameInfo, ...] = ()

    @property
    def text(self) -> str:
        """The traceback as Python prints it, user frames only."""
        out = ["Traceback (most recent call last):"]
        for fr in self.traceback:
            out.append(f'  File "{fr.file}", line {fr.line}, in {fr.function}')
            if fr.code:
                out.append(f"    {fr.code}")
        out.append(f"{self.type}: {self.message}" if self.message else self.type)
        return "\n".join(out)


@dataclass(frozen=True)
class RaisedInfo:
    """An exception raised in the user's code, caught or not: where, and where a handler caught it."""

    type: str
    message: str
    line: int
    function: str = "<module>"
    file: str = ""
    caught_line: int | None = None
    """The line of the handler that caught it (in the frame it reached); None while uncaught."""


@dataclass(frozen=True)
class Step:
    """The state at one pause: about to run `line`, having just run `prev_line`."""

    index: int
    file: str
    """Display path of the file being executed."""
    line: int
    """The next line to run (for `return`/`exception`/`end` steps: the line where that happened)."""
    function: str
    depth: int
    """How many of the user's frames are below this one (0 at module level)."""
    event: StepEvent = "line"
    prev_line: int | None = None
    """The line executed just before this pause (None at the first step)."""
    prev_file: str | None = None
    tensors: tuple[TensorView, ...] = ()
    optimizers: tuple[OptimizerView, ...] = ()
    flags: tuple[Flag, ...] = ()
    """Flags raised since the previous pause."""
    stdout: str = ""
    """What the script printed to stdout since the previous pause."""
    stderr: str = ""
    exception: ExceptionInfo | None = None
    raised: RaisedInfo | None = None
    """The last exception the user's code raised since the previous Step (even when it was caught)."""
    grad_enabled: bool = True
    """False inside `torch.no_grad()`."""
    stack: tuple[FrameInfo, ...] = ()
    """The user's frames, outermost first; the last is this step's frame."""

    def tensor(self, name: str) -> TensorView | None:
        """The tensor called `name` at this step, if in scope."""
        for t in self.tensors:
            if t.name == name:
                return t
        return None

    @property
    def devices(self) -> tuple[str, ...]:
        """Devices of the tensors in scope, in first-seen order."""
        seen: dict[str, None] = {}
        for t in self.tensors:
            seen.setdefault(t.device, None)
        return tuple(seen)


@dataclass(frozen=True)
class Trace:
    """A whole run of a script: its source, every recorded step and how it ended."""

    script: str
    """Display path of the script."""
    argv: tuple[str, ...] = ()
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """Source lines of every traced file, keyed by display path."""
    steps: tuple[Step, ...] = ()
    completed: bool = False
    """True when the script ran to its end (or exited with status 0)."""
    end_reason: str = "finished"
    """`finished`, `exception`, `exit` (SystemExit), `max-steps`, `stopped` or `timeout`."""
    exception: ExceptionInfo | None = None
    exit_code: int | None = None
    """The status of a SystemExit, None when the script did not call exit."""
    stdout: str = ""
    stderr: str = ""
    flags: tuple[Flag, ...] = ()
    """Every flag raised during the run, in order."""
    simulated_cuda: bool = False
    internal_errors: tuple[str, ...] = ()
    """Errors inside tensorscope during the run (a check's or the engine's), with their tracebacks."""
    schema: int = SCHEMA

    @property
    def source(self) -> tuple[str, ...]:
        """The main script's source lines."""
        return self.sources.get(self.script, ())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return _to_json(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        """Rebuild a Trace from `to_dict` output; raises TraceFormatError (a ValueError) if it is not one."""
        if not isinstance(data, dict) or "script" not in data:
            raise TraceFormatError("not a tensorscope trace (no 'script' field)")
        schema = data.get("schema", SCHEMA)
        if not isinstance(schema, int) or isinstance(schema, bool) or schema > SCHEMA:
            raise TraceFormatError(f"trace schema {schema!r} is newer than this tensorscope ({SCHEMA})")
        try:
            return _from_json(cls, data, "trace")
        except TraceFormatError:
            raise
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            raise TraceFormatError(f"malformed trace: {exc}") from exc

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        """Read a trace written by `to_json`; raises TraceFormatError (a ValueError) saying what is wrong."""
        if isinstance(text, bytes) and text[:1] == b"\x80":
            raise TraceFormatError("not a tensorscope trace: this looks like a pickle; traces are JSON, "
                                   "and tensorscope never unpickles files")
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:  # JSONDecodeError, or bytes that are not text
            raise TraceFormatError(f"not a tensorscope trace: not JSON ({exc})") from exc
        return cls.from_dict(data)


# --- JSON round-trip -----------------------------------------------------------------------------

def _to_json(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _to_json(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple | list):
        return [_to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_json(v) for k, v in obj.items()}
    return obj


def _from_json(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Build dataclass `cls` from a dict, converting nested records and lists back to tuples."""
    if not isinstance(data, dict):
        raise TraceFormatError(f"malformed trace: {where} is not a {cls.__name__} record: {data!r:.40}")
    kwargs: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(cls)}
    for key, value in data.items():
        if key not in types:
            continue  # a field from a newer minor version: ignore
        value = kwargs[key] = _convert(cls, key, value, f"{where}.{key}")
        if not _fits(str(types[key]), value):
            raise TraceFormatError(f"malformed trace: {where}.{key} should be {types[key]}: {value!r:.40}")
    missing = [f.name for f in fields(cls) if f.name not in kwargs and f.default is MISSING
               and f.default_factory is MISSING]
    if missing:
        raise TraceFormatError(f"malformed trace: {where} has no {', '.join(missing)}")
    return cls(**kwargs)


_PLAIN: dict[str, tuple[type, ...]] = {"int": (int,), "str": (str,), "bool": (bool,), "float": (int, float)}
_WORDS = {"Severity": SEVERITIES, "StepEvent": ("line", "return", "exception", "end")}


def _fits(hint: str, value: Any) -> bool:
    """Whether a value read from JSON has the type its field's annotation names (records: when built)."""
    for option in (o.strip() for o in hint.split(" | ")):
        base, _, inner = option.partition("[")
        if option == "None":
            if value is None:
                return True
        elif base in _PLAIN:
            if isinstance(value, _PLAIN[base]) and (base == "bool" or not isinstance(value, bool)):
                return True
        elif base in _WORDS:
            if value in _WORDS[base]:
                return True
        elif base == "tuple":
            item = inner.split(",")[0].strip()
            if isinstance(value, tuple) and (item not in _PLAIN or all(_fits(item, v) for v in value)):
                return True
        elif base == "dict":
            if isinstance(value, dict):
                return True
        else:  # a record type or something this check does not know: built (and checked) elsewhere
            return True
    return False


# field name -> record type of its items (or of itself)
_RECORD_FIELDS: dict[tuple[type, str], type] = {}


def _convert(cls: type, key: str, value: Any, where: str = "") -> Any:
    target = _RECORD_FIELDS.get((cls, key))
    if value is None:
        return None
    if target is not None:
        if isinstance(value, list):
            return tuple(_from_json(target, v, f"{where}[{i}]") for i, v in enumerate(value))
        return _from_json(target, value, where)
    if key == "sources":
        if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
            raise TraceFormatError(f"malformed trace: {where} should map file names to lists of lines")
        return {k: tuple(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(value)
    return value


_RECORD_FIELDS.update(
    {
        (TensorView, "stats"): Stats,
        (TensorView, "grad"): GradView,
        (TensorView, "graph"): GraphNode,
        (ExceptionInfo, "traceback"): FrameInfo,
        (Step, "tensors"): TensorView,
        (Step, "optimizers"): OptimizerView,
        (Step, "flags"): Flag,
        (Step, "exception"): ExceptionInfo,
        (Step, "raised"): RaisedInfo,
        (Step, "stack"): FrameInfo,
        (Trace, "steps"): Step,
        (Trace, "flags"): Flag,
        (Trace, "exception"): ExceptionInfo,
    }
)
