"""The JSON Schemas (draft 2020-12) of a trace (`trace --json`) and of `check --json`.

Both are written from the records' type hints (tensorscope/model.py), the ones tensorscope/records_json.py
reads traces back with: a record is an object with `properties` and `required`, `Literal` an `enum`,
`tuple[X, ...]` an array, a fixed tuple `prefixItems`, `X | None` an `anyOf` with null, `dict[str, X]` an
object's `additionalProperties`. Descriptions are the records' docstrings. Objects allow other keys: a newer
minor version may add fields, and readers ignore them.

They are published as docs/trace.schema.json and docs/check.schema.json; after a change to a record,
regenerate them with `tensorscope schema trace > docs/trace.schema.json` (and `check`). Standard library
only.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import types
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, Union, get_args, get_origin

from tensorscope import model
from tensorscope.model import SCHEMA, Trace
from tensorscope.records_json import record_fields

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}

CHECK_SCHEMA = 1
"""Version of `check --json`'s output (its `schema` field): bumped when a field changes meaning."""
CHECK_FIELDS: dict[type, tuple[str, ...]] = {
    Trace: ("script", "completed", "end_reason", "exit_code", "simulated_cuda", "exception", "stdout",
            "flags"),
    model.ExceptionInfo: ("type", "message", "line"),
    model.Flag: ("code", "severity", "line", "function", "message", "hint", "tensors"),
}
"""What `check --json` keeps of a Trace, of its exception and of each Flag (all always present)."""


def check_payload(trace: Trace) -> dict[str, Any]:
    """The `check --json` object: `schema` (CHECK_SCHEMA), then the CHECK_FIELDS of the trace."""
    return {"schema": CHECK_SCHEMA, **_pick(trace)}


def _pick(obj: Any) -> Any:
    if is_dataclass(obj) and type(obj) in CHECK_FIELDS:
        return {name: _pick(getattr(obj, name)) for name in CHECK_FIELDS[type(obj)]}
    if isinstance(obj, tuple):
        return [_pick(v) for v in obj]
    return model._to_json(obj)


def trace_schema() -> dict[str, Any]:
    """The JSON Schema of `Trace.to_json()` output (`trace --json`, `trace -o x.json`)."""
    return _document("trace", SCHEMA, "tensorscope trace",
                     "A recorded run of a script (`tensorscope trace SCRIPT --json`), format version "
                     f"{SCHEMA} (its `schema` field; bumped when a field changes meaning, and readers accept "
                     "older versions). Read it back with `tensorscope.model.Trace.from_json`.", Trace, None)


def check_schema() -> dict[str, Any]:
    """The JSON Schema of `check --json` output."""
    return _document("check", CHECK_SCHEMA, "tensorscope check --json",
                     f"What `tensorscope check SCRIPT --json` prints, format version {CHECK_SCHEMA} (its "
                     "`schema` field; bumped when a field changes meaning): how the run ended, its output "
                     "and the flags raised.", Trace, CHECK_FIELDS)


def _document(name: str, version: int, title: str, description: str, root: type,
              only: dict[type, tuple[str, ...]] | None) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    body = _record(root, defs, only)
    body["properties"] = {"schema": {"type": "integer", "minimum": 1, "maximum": version,
                                     "description": "The format version.", "default": version},
                          **body["properties"]}
    if only is not None:
        body["required"] = ["schema", *body["required"]]
    body.pop("description", None)  # (the record's docstring: the document says more)
    doc = {"$schema": DRAFT, "$id": f"urn:tensorscope:{name}:{version}", "title": title,
           "description": description, **body}
    if defs:
        doc["$defs"] = dict(sorted(defs.items()))
    return doc


def _record(cls: type, defs: dict[str, Any], only: dict[type, tuple[str, ...]] | None) -> dict[str, Any]:
    """An object schema: one property per field (or per field kept, all required, for `check`)."""
    docs = _docstrings()
    defaults = {f.name: f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
                for f in fields(cls) if not (f.default is MISSING and f.default_factory is MISSING)}
    keep = only.get(cls) if only is not None else None
    props: dict[str, Any] = {}
    required = []
    for fname, tp, needed in record_fields(cls):
        if (keep is not None and fname not in keep) or (keep is None and fname == "schema" and cls is Trace):
            continue
        prop = _type(tp, defs, only)
        if (cls.__name__, fname) in docs:
            prop["description"] = docs[cls.__name__, fname]
        if keep is None and fname in defaults:
            prop["default"] = model._to_json(defaults[fname])
        props[fname] = prop
        if needed or keep is not None:
            required.append(fname)
    out: dict[str, Any] = {"type": "object"}
    if (cls.__name__, "") in docs:
        out["description"] = docs[cls.__name__, ""]
    out["properties"] = props
    out["required"] = required
    return out


def _type(tp: Any, defs: dict[str, Any], only: dict[type, tuple[str, ...]] | None) -> dict[str, Any]:
    """The schema of one type hint; records go to `$defs` and are referred to."""
    origin, args = get_origin(tp), get_args(tp)
    if tp in _TYPES:
        return {"type": _TYPES[tp]}
    if is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # (taken before the fields are walked)
            defs[name] = _record(tp, defs, only)  # type: ignore[arg-type]
        return {"$ref": f"#/$defs/{name}"}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_type(a, defs, only) for a in args]}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": _type(args[0], defs, only)}
    if origin is tuple:
        return {"type": "array", "prefixItems": [_type(a, defs, only) for a in args], "items": False,
                "minItems": len(args)}
    if origin is dict and args[0] is str:
        return {"type": "object", "additionalProperties": _type(args[1], defs, only)}
    raise NotImplementedError(f"a record field's type has no JSON Schema: {tp!r}")  # a bug: loud


@functools.cache
def _docstrings() -> dict[tuple[str, str], str]:
    """(record, field) -> the docstring under the field in model.py; (record, "") -> the record's own."""
    out: dict[tuple[str, str], str] = {}
    for node in ast.parse(inspect.getsource(model)).body:
        if not isinstance(node, ast.ClassDef):
            continue
        doc = ast.get_docstring(node)
        if doc:
            out[node.name, ""] = " ".join(doc.split())
        for prev, stmt in zip(node.body, node.body[1:], strict=False):
            if (isinstance(prev, ast.AnnAssign) and isinstance(prev.target, ast.Name)
                    and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)):
                out[node.name, prev.target.id] = " ".join(stmt.value.value.split())
    return out


def dumps(schema: dict[str, Any]) -> str:
    """A schema as the published file holds it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
