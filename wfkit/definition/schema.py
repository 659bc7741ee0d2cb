"""The published JSON Schema of the definition language, and structural validation by it.

``schema.json`` beside this module is the one source of truth for the shape of a
definition: the loader validates every document with it (through the Rust-backed
``jsonschema-rs``) and only then checks what a schema cannot say (references, cycles,
expressions). Schema errors are turned into :class:`~wfkit.errors.Problem` objects with the
file position of the offending key or value and a hint (did-you-mean for misspellings).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from wfkit.common.suggest import did_you_mean
from wfkit.definition.document import Path, Positions
from wfkit.errors import Problem

__all__ = [
    "SCHEMA_FILE",
    "STEP_KINDS",
    "dotted",
    "load_schema",
    "schema_check",
    "schema_problems",
    "schema_text",
]

SCHEMA_FILE = "schema.json"
STEP_KINDS = ("call", "shell", "notebook", "workflow", "wait", "sleep")

#: What a value of each named shape must look like, for pattern and anyOf errors.
_SHAPES = {
    "identifier": (
        "is not a valid id",
        "use letters, digits and _, not starting with a digit (so that steps.<id> works)",
    ),
    "workflowName": (
        "is not a valid workflow name",
        "use lower-case letters, digits, - and _, starting with a letter or digit",
    ),
    "duration": (
        "is not a duration",
        "write 500ms, 30s, 10m, 2h, 1d (or combined, as 1h30m) or a number of seconds",
    ),
    "call": ("is not a 'module:function' target", "for example call: mypackage.etl:pull_month"),
    "notebook": ("is not a notebook path", "the path must end in .ipynb"),
    "wait": (
        "is not a wait",
        "write wait: {event: NAME} or wait: {event: NAME, timeout: 48h}",
    ),
    "needs": ("is not a list of step ids", "write needs: [a, b] or needs: a"),
    "eventName": (
        "is not an event name",
        "an event name has no control characters (no newline, tab...); write it on one line",
    ),
}


def schema_text() -> str:
    """The JSON Schema as published (the file shipped in the package)."""
    return resources.files("wfkit.definition").joinpath(SCHEMA_FILE).read_text("utf-8")


@cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema as a dictionary (cached; do not modify it)."""
    data: dict[str, Any] = json.loads(schema_text())
    return data


@cache
def _validator() -> Any:
    return jsonschema_rs.validator_for(load_schema())


def dotted(path: Path) -> str:
    """A path as people write it: ``steps.fetch.needs[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def _node_at(schema_path: list[str | int]) -> dict[str, Any]:
    node: Any = load_schema()
    for part in schema_path:
        node = node[part]
    return node if isinstance(node, dict) else {}


def _shape_of(schema_path: list[str | int]) -> str | None:
    """The name of the innermost named shape ($defs entry or step key) in a schema path."""
    parts = [str(p) for p in schema_path]
    for i in range(len(parts) - 1, 0, -1):
        if parts[i - 1] in ("$defs", "properties") and parts[i] in _SHAPES:
            return parts[i]
    return None


def schema_problems(data: Any, positions: Positions, file: str) -> list[Problem]:
    """Every way ``data`` breaks the language's JSON Schema, as positioned problems."""
    return schema_check(data, positions, file)[0]


def schema_check(
    data: Any, positions: Positions, file: str, ignore: Collection[Path] = ()
) -> tuple[list[Problem], set[Path]]:
    """The schema's problems with ``data``, and the paths of the values they reject.

    Errors about the values at ``ignore`` are dropped (numbers JSON cannot carry, which
    the validator sees as null and the loader reports itself). The rejected paths let the
    loader skip semantic checks of parts the schema already refused, so that one mistake
    is reported once.
    """
    problems: list[Problem] = []
    rejected: set[Path] = set()
    errors = [e for e in _validator().iter_errors(data) if tuple(e.instance_path) not in ignore]
    typo_kinds = _kind_typos(errors)
    for error in errors:
        for path, at_key, message, hint in _translate(error, typo_kinds, ignore):
            line, column = positions.of_key(path) if at_key else positions.of(path)
            step = _step_of(path)
            problems.append(Problem(file, line, column, message, hint, step))
            if error.kind.name != "required" and path:
                rejected.add(path)
    return _dedupe(problems), rejected


def _step_of(path: Path) -> str | None:
    if len(path) >= 2 and path[0] in ("steps", "finally"):
        return str(path[1])
    return None


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[int, int, str]] = set()
    out = []
    for p in problems:
        key = (p.line, p.column, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _kind_typos(errors: list[Any]) -> set[Path]:
    """Steps whose unknown key looks like a misspelt kind (reported once, as the typo)."""
    found: set[Path] = set()
    for error in errors:
        if error.kind.name == "additionalProperties" and any(
            did_you_mean(k, STEP_KINDS) for k in error.kind.unexpected
        ):
            found.add(tuple(error.instance_path))
    return found


_Translation = tuple[Path, bool, str, str]


def _translate(
    error: Any, typo_kinds: set[Path], ignore: Collection[Path] = ()
) -> Iterator[_Translation]:
    kind = error.kind
    path: Path = tuple(error.instance_path)
    where = dotted(path)
    name = kind.name
    if name == "additionalProperties":
        allowed = _node_at([*error.schema_path[:-1], "properties"])
        for key in kind.unexpected:
            hint = did_you_mean(key, allowed) or f"allowed here: {', '.join(sorted(allowed))}"
            place = "at the top level" if not path else f"in {where}"
            yield (*path, key), True, f"unknown key {key!r} {place}", hint
    elif name == "required":
        yield from _required(error, path, where)
    elif name in ("oneOf", "oneOfNotValid", "oneOfMultipleValid") or "OneOf" in type(kind).__name__:
        yield from _one_of(error, path, typo_kinds)
    elif name == "anyOf" and (inner := _inner_errors(error)):
        for sub in inner:
            if tuple(sub.instance_path) not in ignore:
                yield from _translate(sub, typo_kinds, ignore)
    elif name == "propertyNames":
        bad = error.kind.error.instance
        shape = "identifier" if path and path[-1] in ("steps", "finally", "inputs") else None
        message, hint = _SHAPES[shape] if shape else ("is not a valid name", "")
        yield (*path, bad), True, f"{bad!r} {message}", hint
    else:
        yield path, False, *_value_message(error, where)


def _inner_errors(error: Any) -> list[Any]:
    """For an anyOf whose value has the type of exactly one branch, the errors of that
    branch when they are all about named shapes deeper inside: ``wait: {event: x,
    timeout: two days}`` is a bad duration at the timeout, not a bad wait."""
    path = list(error.instance_path)
    branches = [
        branch
        for branch in getattr(error.kind, "context", None) or []
        if not (len(branch) == 1 and branch[0].kind.name == "type")
        or list(branch[0].instance_path) != path
    ]
    if len(branches) != 1 or not branches[0]:
        return []
    (branch,) = branches
    own = _shape_of(list(error.schema_path))
    deeper = all(
        len(sub.instance_path) >= len(path) and _shape_of(list(sub.schema_path)) not in (None, own)
        for sub in branch
    )
    return list(branch) if deeper else []


def _required(error: Any, path: Path, where: str) -> Iterator[_Translation]:
    missing = error.kind.property
    if path == ():
        hints = {
            "wfkit": "start the file with 'wfkit: 1' (the language version)",
            "name": "add 'name: my-workflow' (lower-case, unique in the folder)",
            "steps": "add a 'steps:' mapping of step id to step",
        }
        yield path, False, f"missing required key {missing!r}", hints.get(str(missing), "")
    else:
        yield path, True, f"{where} is missing required key {missing!r}", ""


def _one_of(error: Any, path: Path, typo_kinds: set[Path]) -> Iterator[_Translation]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    kinds = [k for k in STEP_KINDS if k in instance]
    step = path[-1] if path else "?"
    if len(kinds) > 1:
        yield (
            path,
            True,
            f"step {step!r} has {len(kinds)} kinds ({', '.join(kinds)})",
            "a step does one thing; split it into several steps linked by needs",
        )
    elif path not in typo_kinds:
        yield (
            path,
            True,
            f"step {step!r} has no kind",
            f"give it exactly one of: {', '.join(STEP_KINDS)}",
        )


def _value_message(error: Any, where: str) -> tuple[str, str]:
    kind = error.kind
    name = kind.name
    value = json.dumps(error.instance, default=str, ensure_ascii=False)
    if len(value) > 60:
        value = value[:57] + "..."
    shape = _shape_of(list(error.schema_path))
    if name in ("pattern", "anyOf") and shape:
        message, hint = _SHAPES[shape]
        return f"{where}: {value} {message}", hint
    if name == "type":
        wanted = _type_words(kind.types)
        return f"{where} must be {wanted}, not {_type_words([_json_type(error.instance)])}", ""
    if name == "enum":
        options = [str(o) for o in kind.options]
        hint = did_you_mean(error.instance, options) or f"choose one of: {', '.join(options)}"
        return f"{where}: {value} is not allowed", hint
    if name == "const":
        if where == "wfkit":
            return (
                f"unsupported language version {value}",
                "this wfkit reads language version 1: write 'wfkit: 1'",
            )
        return f"{where} must be {json.dumps(kind.expected_value, ensure_ascii=False)}", ""
    if name in ("minimum", "maximum"):
        side = "at least" if name == "minimum" else "at most"
        return f"{where} must be {side} {kind.limit}, not {value}", ""
    if name == "minProperties":
        return f"{where} must not be empty", "add at least one step"
    if name in ("minItems", "minLength"):
        return f"{where} must not be empty", ""
    if name == "maxLength":
        size = len(error.instance)
        return f"{where} is too long ({size} characters; at most {kind.limit})", "shorten it"
    return f"{where}: {error.message}", ""


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_words(types: Any) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "text",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "null": "empty",
    }
    names = [
        words.get(str(t).lower(), str(t)) for t in (types if isinstance(types, list) else [types])
    ]
    return " or ".join(names)
