"""Reading the records of tensorscope/model.py back from JSON, driven by their type hints.

Each field's annotation (`typing.get_type_hints`, `get_origin`/`get_args`) becomes one reader, made once
per type, that checks what JSON gives and converts it (lists back to tuples, an int in a float field to a
float): `X | None`, `Literal[...]`, `tuple[X, ...]`, fixed tuples such as `tuple[str, int]`, `dict[str, X]`
and nested records. A JSON `true` is not an int. A value that does not fit raises TraceFormatError naming
its place (`trace.steps[3].tensors[0].shape should be a list of int: ...`); keys that are not fields
(written by a newer minor version) are ignored. tensorscope/schema.py writes the JSON Schema from the same
hints. Standard library only.
"""

from __future__ import annotations

import functools
import json
import types
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


class TraceFormatError(ValueError):
    """Text that is not a tensorscope trace, or a damaged one; the message says what is wrong where."""


_Reader = Callable[[Any], Any]
_PLAIN: dict[type, str] = {int: "int", float: "float", str: "str", bool: "bool"}
"""The scalar types a record field may have, as a reader's message names them."""


def read_record(cls: type, data: Any, where: str = "") -> Any:
    """Build record `cls` from what JSON gave, every field checked against its type hint; a
    TraceFormatError names the first field that does not fit (`trace.steps[3].tensors[0].shape`)."""
    try:
        return _reader(cls)(data)
    except _Misfit as misfit:
        place = (where or cls.__name__) + "".join(reversed(misfit.path))
        raise TraceFormatError(f"malformed trace: {place} {misfit.text}") from None


@functools.cache
def record_fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type hint, required) for each field of record `cls`, in order."""
    hints = get_type_hints(cls)
    return tuple((f.name, hints[f.name], f.default is MISSING and f.default_factory is MISSING)
                 for f in fields(cls))


def describe(tp: Any) -> str:
    """A field's type as a reader of the JSON says it: `int`, `int or null`, `a list of str`."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is type(None):
        return "null"
    if tp in _PLAIN:
        return _PLAIN[tp]
    if is_dataclass(tp):
        return f"a {tp.__name__} record"
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = args[0]
        return f"a list of {item.__name__} records" if is_dataclass(item) else f"a list of {describe(item)}"
    if origin is tuple:
        return "[" + ", ".join(describe(a) for a in args) + "]"
    if origin is dict:
        return f"an object mapping {describe(args[0])} to {describe(args[1])}"
    return str(tp)


class _Misfit(Exception):
    """A value that does not fit, on its way up: each container adds its step to the path (so that paths
    are spelled only when something is wrong)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
        self.path: list[str] = []  # innermost first


def _bad(tp: Any, value: Any) -> _Misfit:
    return _Misfit(f"should be {describe(tp)}: {value!r:.40}")


@functools.cache
def _reader(tp: Any) -> _Reader:
    """The function that checks and converts a JSON value for type hint `tp` (raises _Misfit)."""
    origin, args = get_origin(tp), get_args(tp)
    if is_dataclass(tp):
        return _record_reader(tp)  # type: ignore[arg-type]
    if tp is type(None) or tp in _PLAIN:
        return _plain_reader(tp)
    if origin is Literal:
        def read_word(value: Any) -> Any:
            if any(type(value) is type(a) and value == a for a in args):
                return value
            raise _bad(tp, value)
        return read_word
    if origin in (Union, types.UnionType):
        return _union_reader(tp, args)
    if origin is tuple:
        return _tuple_reader(tp, args)
    if origin is dict and args[0] is str:
        return _dict_reader(args[1])
    raise NotImplementedError(f"a record field's type has no JSON reader: {tp!r}")  # a bug: loud


def _plain_reader(tp: Any) -> _Reader:
    if tp is type(None) or tp is bool:
        def read_exact(value: Any) -> Any:
            if value is None if tp is type(None) else isinstance(value, bool):
                return value
            raise _bad(tp, value)
        return read_exact
    if tp is float:  # a float field takes an int (JSON writes 2.0 as 2 at times), as a float
        def read_float(value: Any) -> Any:
            if type(value) is float:
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                try:
                    return float(value)
                except OverflowError:
                    pass
            raise _bad(tp, value)
        return read_float

    def read_plain(value: Any) -> Any:  # int or str; a JSON `true` is not an int
        if isinstance(value, tp) and not isinstance(value, bool):
            return value
        raise _bad(tp, value)
    return read_plain


def _union_reader(tp: Any, args: tuple[Any, ...]) -> _Reader:
    options = [a for a in args if a is not type(None)]
    nullable = len(options) < len(args)
    if len(options) == 1:  # X | None: a record's or a list's own fields are named at their depth
        only, scalar = _reader(options[0]), options[0] in _PLAIN or get_origin(options[0]) is Literal

        def read_optional(value: Any) -> Any:
            if value is None and nullable:
                return None
            if not scalar:
                return only(value)
            try:
                return only(value)
            except _Misfit:
                raise _bad(tp, value) from None
        return read_optional
    readers = [_reader(a) for a in args]

    def read_union(value: Any) -> Any:
        for read in readers:
            try:
                return read(value)
            except _Misfit:
                continue
        raise _bad(tp, value)
    return read_union


def _tuple_reader(tp: Any, args: tuple[Any, ...]) -> _Reader:
    if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]: a JSON list of any length
        item = _reader(args[0])

        def read_list(value: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise _bad(tp, value)
            try:
                return tuple(map(item, value))
            except _Misfit as misfit:
                misfit.path.append(f"[{_failed_at(item, value)}]")
                raise
        return read_list
    items = [_reader(a) for a in args]

    def read_fixed(value: Any) -> Any:  # tuple[str, int]: a JSON list of exactly these
        if not isinstance(value, list | tuple) or len(value) != len(items):
            raise _bad(tp, value)
        for i, (read, v) in enumerate(zip(items, value, strict=True)):
            try:
                read(v)
            except _Misfit as misfit:
                misfit.path.append(f"[{i}]")
                raise
        return tuple(read(v) for read, v in zip(items, value, strict=True))
    return read_fixed


def _failed_at(read: _Reader, values: Any) -> int:
    """The index of the first of `values` that `read` refuses (looked for once one was refused)."""
    for i, v in enumerate(values):
        try:
            read(v)
        except _Misfit:
            return i
    return -1


def _dict_reader(item_type: Any) -> _Reader:
    read = _reader(item_type)

    def read_map(value: Any) -> Any:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _Misfit(f"should map str to {describe(item_type)}: {value!r:.40}")
        out = {}
        for k, v in value.items():
            try:
                out[k] = read(v)
            except _Misfit as misfit:
                misfit.path.append(f"[{k!r}]")
                raise
        return out
    return read_map


def _record_reader(cls: type) -> _Reader:
    def read_fields(data: Any) -> Any:
        if not isinstance(data, dict):
            raise _Misfit(f"is not a {cls.__name__} record: {data!r:.40}")
        spec = _field_readers(cls)
        kwargs = {}
        for name, read, required in spec:  # keys that are not fields (a newer minor version's) are ignored
            if name in data:
                try:
                    kwargs[name] = read(data[name])
                except _Misfit as misfit:
                    misfit.path.append(f".{name}")
                    raise
            elif required:
                missing = [n for n, _, needed in spec if needed and n not in data]
                raise _Misfit(f"has no {', '.join(missing)}")
        return cls(**kwargs)
    return read_fields


@functools.cache
def _field_readers(cls: type) -> tuple[tuple[str, _Reader, bool], ...]:
    """Made on first use, so that records may refer to each other in any order."""
    return tuple((name, _reader(tp), required) for name, tp, required in record_fields(cls))
