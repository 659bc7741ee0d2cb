"""Instance ids and start inputs: checked before anything is stored."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from wfkit.common import jsontext
from wfkit.common.suggest import did_you_mean
from wfkit.definition.model import Definition
from wfkit.errors import InvalidInput, InvalidInstanceId

__all__ = [
    "MAX_ID_LENGTH",
    "as_declared",
    "check_instance_id",
    "new_instance_id",
    "prepare_input",
]

MAX_ID_LENGTH = 64
_ID = re.compile(r"[A-Za-z0-9_-]+")


def new_instance_id() -> str:
    """A fresh random instance id (a uuid4)."""
    return str(uuid.uuid4())


def check_instance_id(instance_id: str) -> str:
    """``instance_id`` when it follows the rules, a new uuid4 when it is empty."""
    if not instance_id:
        return new_instance_id()
    if len(instance_id) > MAX_ID_LENGTH:
        raise InvalidInstanceId(instance_id, f"it has {len(instance_id)} characters")
    if not _ID.fullmatch(instance_id):
        bad = sorted({c for c in instance_id if not re.fullmatch(r"[A-Za-z0-9_-]", c)})
        raise InvalidInstanceId(instance_id, f"it contains {''.join(bad)!r}")
    return instance_id


def prepare_input(definition: Definition, raw: Any, instance_id: str = "") -> dict[str, Any]:
    """The start input with defaults applied, checked against the definition's ``inputs``.

    ``raw`` is a mapping, JSON text or bytes of a JSON object, or None (no input).
    Raises :class:`InvalidInput` listing every problem.
    """
    data = _as_mapping(raw, definition.name, instance_id)
    problems = []
    for name in data:
        if name not in definition.inputs:
            hint = did_you_mean(name, definition.inputs)
            known = ", ".join(definition.inputs) or "none"
            problems.append(f"unknown input {name!r} ({hint or f'declared inputs: {known}'})")
    values: dict[str, Any] = {}
    for name, spec in definition.inputs.items():
        if name in data:
            value = data[name]
        elif "default" in spec.schema:
            value = spec.schema["default"]
        else:
            problems.append(f"input {name!r} is required ({_describe(spec.schema)})")
            continue
        text, problem = jsontext.json_problem(value, f"inputs.{name}")
        if text is None:  # NaN would be stored as null
            problems.append(f"input {name!r} is not JSON: {problem}")
            continue
        for error in jsonschema_rs.validator_for(dict(spec.schema)).iter_errors(value):
            problems.append(f"input {name!r}: {error.message}")
            break
        values[name] = as_declared(value, spec.schema)
    if problems:
        raise InvalidInput(instance_id, definition.name, problems)
    return values


def as_declared(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` (valid against ``schema``) with the numbers that the schema declares
    integers made ``int``: JSON Schema counts 5.0 as an integer, but a step given 5.0
    for ``range(n)`` fails. Looks into ``items`` too (inputs declare no ``properties``)."""
    kind = schema.get("type")
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [as_declared(item, schema["items"]) for item in value]
    return value


def _as_mapping(raw: Any, name: str, instance_id: str) -> Mapping[str, Any]:
    if raw is None or raw in (b"", ""):
        return {}
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(instance_id, name, [f"the input is not JSON: {exc}"]) from None
        except RecursionError:
            problem = jsontext.too_deep()
            raise InvalidInput(
                instance_id, name, [f"the input is not accepted: {problem}"]
            ) from None
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            instance_id, name, [f"the input must be a JSON object of named inputs, not {raw!r}"]
        )
    return raw


def _describe(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type", "any value")
    text = schema.get("description")
    return f"{kind}: {text}" if text else str(kind)
