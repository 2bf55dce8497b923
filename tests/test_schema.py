"""The trace's JSON: read back from the records' type hints, and its published JSON Schemas.

docs/trace.schema.json and docs/check.schema.json are what tensorscope/schema.py makes now; after a change
to a record, regenerate them (and read the git diff):

    .venv/bin/python -m tensorscope schema trace > docs/trace.schema.json
    .venv/bin/python -m tensorscope schema check > docs/check.schema.json

A small validator below covers the JSON Schema keywords the generator emits (a test checks that it emits
no other), so a real trace and a real `check --json` are validated without a new dependency.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorscope.checks import default_checks
from tensorscope.cli import main
from tensorscope.engine import Session
from tensorscope.model import SCHEMA, Flag, GraphNode, Stats, Step, TensorView, Trace, TraceFormatError
from tensorscope.records_json import read_record
from tensorscope.schema import CHECK_SCHEMA, check_schema, dumps, trace_schema

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"

# --- a validator for the keywords the generator emits ----------------------------------------------

_ANNOTATIONS = {"$schema", "$id", "title", "description", "default", "$defs"}
_CHECKED = {"type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems",
            "enum", "anyOf", "$ref", "minimum", "maximum"}
_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[name])


def errors(value: Any, schema: Any, root: dict[str, Any], where: str = "$") -> list[str]:
    """Where `value` breaks `schema` (draft 2020-12, the keywords in _CHECKED); empty when it is valid."""
    if schema is True:
        return []
    if schema is False:
        return [f"{where}: no value allowed"]
    unknown = set(schema) - _CHECKED - _ANNOTATIONS
    assert not unknown, f"the test's validator does not know {unknown}"
    out: list[str] = []
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        out += errors(value, root["$defs"][name], root, where)
    if "type" in schema and not _is(value, schema["type"]):
        return [*out, f"{where}: not {schema['type']}: {value!r:.30}"]
    if "enum" in schema and not any(type(value) is type(e) and value == e for e in schema["enum"]):
        out.append(f"{where}: not one of {schema['enum']}")
    if "anyOf" in schema and all(errors(value, s, root, where) for s in schema["anyOf"]):
        out.append(f"{where}: fits none of anyOf")
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        out.append(f"{where}: below {schema['minimum']}")
    if "maximum" in schema and _is(value, "number") and value > schema["maximum"]:
        out.append(f"{where}: above {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{where}: no {k}" for k in schema.get("required", ()) if k not in value]
        for key, item in value.items():
            if key in props:
                out += errors(item, props[key], root, f"{where}.{key}")
            elif "additionalProperties" in schema:
                out += errors(item, schema["additionalProperties"], root, f"{where}[{key!r}]")
    if isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        if len(value) < schema.get("minItems", 0):
            out.append(f"{where}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", True)
            out += errors(item, sub, root, f"{where}[{i}]")
    return out


def keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in a schema (property names excepted)."""
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, sub in schema.items():
        if key in ("properties", "$defs"):
            for s in sub.values():
                found |= keywords(s)
        elif isinstance(sub, list):
            for s in sub:
                found |= keywords(s)
        elif isinstance(sub, dict):
            found |= keywords(sub)
    return found


# --- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def linreg() -> dict[str, Any]:
    """The JSON of a real recorded run (scenarios/linreg.py: tensors, grads, graphs, an optimizer)."""
    trace = Session(str(REPO / "scenarios" / "linreg.py"), monitors=default_checks()).record()
    return json.loads(trace.to_json())


def _first_step_with(data: dict[str, Any], key: str) -> int:
    return next(i for i, s in enumerate(data["steps"]) if s[key])


# --- the published schemas ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "make"), [("trace", trace_schema), ("check", check_schema)])
def test_published_schema_is_what_the_generator_makes(name, make):
    """docs/NAME.schema.json is up to date with the records (see this module's docstring to regenerate)."""
    path = DOCS / f"{name}.schema.json"
    assert path.read_text(encoding="utf-8") == dumps(make()), (
        f"{path.name} is out of date: .venv/bin/python -m tensorscope schema {name} > docs/{path.name}")


@pytest.mark.parametrize("make", [trace_schema, check_schema])
def test_schema_documents_itself(make):
    """Draft 2020-12, an absolute `$id` with the version, a title and a description naming the version."""
    schema = make()
    version = SCHEMA if make is trace_schema else CHECK_SCHEMA
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:tensorscope:") and schema["$id"].endswith(f":{version}")
    assert schema["title"] and f"version {version}" in schema["description"]
    assert schema["properties"]["schema"]["maximum"] == version
    assert keywords(schema) <= _CHECKED | _ANNOTATIONS


def test_schema_maps_each_kind_of_type():
    """Literal → enum, X | None → anyOf with null, tuple[X, ...] → array, tuple[str, int] → prefixItems,
    dict → additionalProperties, records → $ref, with their docstrings as descriptions."""
    schema = trace_schema()
    defs = schema["$defs"]
    assert defs["Flag"]["properties"]["severity"] == {"enum": ["error", "warning", "info"]}
    assert defs["Step"]["properties"]["event"]["enum"] == ["line", "return", "exception", "end"]
    assert defs["Step"]["properties"]["prev_line"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert defs["TensorView"]["properties"]["shape"] == {"type": "array", "items": {"type": "integer"}}
    assert defs["Step"]["properties"]["more"]["items"] == {
        "type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False,
        "minItems": 2}
    assert schema["properties"]["sources"]["additionalProperties"] == {"type": "array",
                                                                       "items": {"type": "string"}}
    assert defs["Step"]["properties"]["tensors"]["items"] == {"$ref": "#/$defs/TensorView"}
    assert defs["Stats"]["properties"]["min"] == {"type": "number"}
    assert "L2 norm" in defs["GradView"]["properties"]["norm"]["description"]
    assert set(defs["Step"]["required"]) == {"index", "file", "line", "function", "depth"}
    assert schema["required"] == ["script"]


def test_schema_command_prints_the_schemas():
    """`tensorscope schema` prints the trace's schema, `tensorscope schema check` the check output's."""
    runner = CliRunner()
    assert runner.invoke(main, ["schema"]).stdout == dumps(trace_schema())
    assert runner.invoke(main, ["schema", "check"]).stdout == dumps(check_schema())


# --- real output against the schemas -----------------------------------------------------------------

def test_a_real_trace_is_valid(linreg):
    """The JSON of a recorded run validates against the published schema."""
    schema = json.loads((DOCS / "trace.schema.json").read_text(encoding="utf-8"))
    assert linreg["steps"] and any(t["graph"] for s in linreg["steps"] for t in s["tensors"])
    assert errors(linreg, schema, schema) == []


@pytest.mark.parametrize(("damage", "found"), [
    (lambda d: d["steps"][0].update(line="two"), "$.steps[0].line: not integer"),
    (lambda d: d["steps"][0].update(event="paused"), "$.steps[0].event: not one of"),
    (lambda d: d["steps"][0].pop("depth"), "$.steps[0]: no depth"),
    (lambda d: d["steps"][-1]["tensors"][0].update(shape=[True]), ".tensors[0].shape[0]: not integer"),
    (lambda d: d["steps"][0].update(more=[["xs", 3, 4]]), "$.steps[0].more[0][2]: no value allowed"),
    (lambda d: d["sources"].update(extra=[1]), "$.sources['extra'][0]: not string"),
    (lambda d: d.update(schema=SCHEMA + 1), "$.schema: above"),
])
def test_a_broken_trace_is_invalid(linreg, damage, found):
    """A damaged trace fails the schema, at the place damaged; the reader refuses it too."""
    schema = trace_schema()
    data = copy.deepcopy(linreg)
    damage(data)
    problems = errors(data, schema, schema)
    assert any(found in p for p in problems), problems
    with pytest.raises(TraceFormatError):
        Trace.from_dict(data)


def test_check_json_has_its_schema_version_and_is_valid():
    """`check --json` starts with `"schema": CHECK_SCHEMA` and validates against docs/check.schema.json;
    without a flag's `line` it does not."""
    result = CliRunner().invoke(main, ["check", "--json", "backward_twice"], catch_exceptions=False)
    data = json.loads(result.stdout)
    assert next(iter(data)) == "schema" and data["schema"] == CHECK_SCHEMA
    assert data["flags"] and set(data["flags"][0]) == {"code", "severity", "line", "function", "message",
                                                         "hint", "tensors"}
    schema = json.loads((DOCS / "check.schema.json").read_text(encoding="utf-8"))
    assert errors(data, schema, schema) == []
    del data["flags"][0]["line"]
    assert errors(data, schema, schema) == ["$.flags[0]: no line"]


# --- reading back, driven by the type hints ----------------------------------------------------------

def _step(**extra: Any) -> dict[str, Any]:
    return {"index": 0, "file": "a.py", "line": 1, "function": "<module>", "depth": 0, **extra}


def _tensor(**extra: Any) -> dict[str, Any]:
    return {"name": "w", "shape": [2], "dtype": "float32", "device": "cpu", "requires_grad": True,
            "is_leaf": True, "grad_fn": None, "version": 0, "numel": 2, **extra}


def _fails(data: dict[str, Any], says: str) -> None:
    with pytest.raises(TraceFormatError) as info:
        Trace.from_dict({"script": "a.py", **data})
    assert says in str(info.value), str(info.value)


def test_optional_field_takes_null_or_its_type():
    """`int | None`: null and an int are read, a string is refused naming both."""
    assert read_record(Step, _step(prev_line=None)).prev_line is None
    assert read_record(Step, _step(prev_line=3)).prev_line == 3
    _fails({"steps": [_step(prev_line="3")]}, "trace.steps[0].prev_line should be int or null: '3'")


def test_literal_field_takes_only_its_words():
    """Severity and StepEvent (`Literal[...]`) accept their words only."""
    assert read_record(Step, _step(event="return")).event == "return"
    flag = {"code": "x", "severity": "fatal", "line": 1, "function": "f", "message": "m", "hint": "h"}
    _fails({"flags": [flag]}, 'trace.flags[0].severity should be one of "error", "warning", "info"')


def test_variable_tuple_reads_a_list_of_its_items():
    """`tuple[int, ...]`: a list becomes a tuple; an item of another type is named by its index."""
    assert read_record(TensorView, _tensor(shape=[4, 1])).shape == (4, 1)
    _fails({"steps": [_step(), _step(), _step(), _step(tensors=[_tensor(shape=[4, "1"])])]},
           "trace.steps[3].tensors[0].shape[1] should be int: '1'")
    _fails({"steps": [_step(tensors=[_tensor(shape=4)])]}, "trace.steps[0].tensors[0].shape should be a list")


def test_fixed_tuple_reads_exactly_its_items():
    """`tuple[str, int]` (Step.more): a two-item list of a string and an int, nothing else."""
    assert read_record(Step, _step(more=[["xs", 47]])).more == (("xs", 47),)
    _fails({"steps": [_step(more=[["xs"]])]}, "trace.steps[0].more[0] should be [str, int]")
    _fails({"steps": [_step(more=[["xs", "47"]])]}, "trace.steps[0].more[0][1] should be int")


def test_dict_field_reads_its_values():
    """`dict[str, tuple[str, ...]]` (Trace.sources) and `dict[str, str]` (Flag.data)."""
    trace = Trace.from_dict({"script": "a.py", "sources": {"a.py": ["x = 1"]}})
    assert trace.sources == {"a.py": ("x = 1",)}
    _fails({"sources": ["x"]}, "trace.sources should map str to a list of str")
    _fails({"sources": {"a.py": [1]}}, "trace.sources['a.py'][0] should be str: 1")


def test_nested_records_are_built_and_checked():
    """Records inside records (Step → TensorView → Stats, GraphNode) are built, errors named deep."""
    step = read_record(Step, _step(tensors=[_tensor(stats={"min": 0, "max": 1.5, "mean": 1, "std": 0},
                                                    graph=[{"depth": 0, "name": "MulBackward0"}])]))
    view = step.tensors[0]
    assert view.stats == Stats(0.0, 1.5, 1.0, 0.0) and view.graph == (GraphNode(0, "MulBackward0"),)
    _fails({"steps": [_step(tensors=[_tensor(stats={"min": 0})])]},
           "trace.steps[0].tensors[0].stats has no max, mean, std")
    _fails({"steps": [_step(tensors=["w"])]}, "trace.steps[0].tensors[0] is not a TensorView record")


def test_a_json_true_is_not_an_int_and_an_int_is_not_a_bool():
    """bool and int are told apart both ways."""
    _fails({"steps": [_step(line=True)]}, "trace.steps[0].line should be int: True")
    _fails({"completed": 1}, "trace.completed should be bool: 1")


def test_a_float_field_takes_an_int_as_a_float():
    """JSON may write 2.0 as 2: a float field reads it, as a float; a huge int is refused, not overflowed."""
    loss = read_record(Step, _step(loss=2)).loss
    assert loss == 2.0 and type(loss) is float
    _fails({"steps": [_step(loss=10 ** 400)]}, "trace.steps[0].loss should be float or null")


def test_unknown_keys_are_ignored():
    """Fields written by a newer minor version are skipped, at every depth."""
    trace = Trace.from_dict({"script": "a.py", "future": 1, "steps": [_step(future={"x": 1})]})
    assert trace.steps[0] == read_record(Step, _step())


def test_round_trip_of_a_real_trace_is_equal(linreg):
    """A recorded run reads back to records that write the same JSON."""
    trace = Trace.from_dict(linreg)
    assert json.loads(trace.to_json()) == linreg
    assert all(isinstance(f, Flag) for f in trace.flags) and isinstance(trace.steps[-1].tensors, tuple)
    assert isinstance(trace.steps[_first_step_with(linreg, "tensors")].tensors[0], TensorView)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 53, 2 ** 53) | st.floats(allow_nan=False)
    | st.text(max_size=3)
    | st.sampled_from(["line", "error", "cpu", ["xs", 3], [2, 3], {"min": 0, "max": 1, "mean": 0, "std": 1}]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)
_TRACE_SCHEMA = trace_schema()
_STEP_FIELDS = ["index", "line", "event", "prev_line", "more", "loss", "grad_enabled", "exception", "stack"]
_TENSOR_FIELDS = ["shape", "grad_fn", "stats", "graph", "aliases", "requires_grad", "kind"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(where=st.sampled_from([("step", f) for f in _STEP_FIELDS] + [("tensor", f) for f in _TENSOR_FIELDS]),
       value=_JSON)
def test_reader_and_schema_agree(where, value):
    """Any JSON value in a field: the reader accepts it exactly when the published schema does."""
    kind, name = where
    step = _step(**{name: value}) if kind == "step" else _step(tensors=[_tensor(**{name: value})])
    data = {"script": "a.py", "steps": [step]}
    schema = _TRACE_SCHEMA
    valid = not errors(data, schema, schema)
    try:
        Trace.from_dict(data)
        read = True
    except TraceFormatError:
        read = False
    assert read == valid, (where, value)
