"""The published JSON Schema documents itself: editors show its descriptions on hover and
offer its defaults and examples on completion, and ``docs/reference/language.md`` is
generated from it. So every property and every definition has a description, and what
the schema says by way of example (``default``, ``examples``, and the ``key: value``
examples written in descriptions) is valid against the schema itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

import wfkit

SCHEMA = wfkit.load_schema()

#: Keywords whose values are data, not subschemas: their insides are not walked.
_DATA = {"examples", "default", "const", "enum"}
#: Keywords holding a mapping of names to subschemas.
_NAMED = {"properties", "$defs", "patternProperties", "dependentSchemas"}
#: Keywords holding one subschema, and those holding a list of them.
_ONE = {"items", "additionalProperties", "propertyNames", "not", "if", "then", "else"}
_MANY = {"anyOf", "oneOf", "allOf", "prefixItems"}


def subschemas(node: dict[str, Any], pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema of ``node`` with its JSON Pointer, ``node`` itself first."""
    yield pointer, node
    for key, value in node.items():
        if key in _DATA:
            continue
        if key in _NAMED and isinstance(value, dict):
            for name, sub in value.items():
                yield from subschemas(sub, f"{pointer}/{key}/{name}")
        elif key in _ONE and isinstance(value, dict):
            yield from subschemas(value, f"{pointer}/{key}")
        elif key in _MANY and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from subschemas(sub, f"{pointer}/{key}/{i}")


def _parent(pointer: str) -> str:
    return pointer.rsplit("/", 2)[-2] if pointer.count("/") >= 2 else ""


def _name(pointer: str) -> str:
    return pointer.rsplit("/", 1)[-1]


NODES = dict(subschemas(SCHEMA))
PROPERTIES = {p: n for p, n in NODES.items() if _parent(p) == "properties"}
DEFINITIONS = {p: n for p, n in NODES.items() if _parent(p) == "$defs"}
DOCUMENTED = {"": SCHEMA, **PROPERTIES, **DEFINITIONS}


def _validator(node: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator of ``node`` whose ``#/$defs/...`` references resolve in the schema."""
    return jsonschema.Draft202012Validator({**node, "$defs": SCHEMA["$defs"]})


def test_the_walk_finds_every_property_and_definition() -> None:
    names = {_name(p) for p in PROPERTIES}
    assert {"wfkit", "steps", "max_attempts", "event", "pause_before", "items"} <= names
    assert len(PROPERTIES) >= 40
    assert {_name(p) for p in DEFINITIONS} == set(SCHEMA["$defs"])
    # data is not schema: the keys of an example (an outputs schema) are not properties
    assert "/$defs/step/properties/outputs/examples/0/properties/score" not in NODES


@pytest.mark.parametrize("pointer", sorted(DOCUMENTED), ids=lambda p: p or "<root>")
def test_every_property_and_definition_has_a_description(pointer: str) -> None:
    description = DOCUMENTED[pointer].get("description")
    assert isinstance(description, str), f"{pointer or '<root>'} has no description"
    assert description.strip(), f"{pointer or '<root>'} has an empty description"
    assert description == description.strip() and "\n" not in description
    assert description.endswith("."), f"{pointer}: end the description with a full stop"


@pytest.mark.parametrize("pointer", sorted(DEFINITIONS), ids=lambda p: _name(p))
def test_every_definition_has_a_title(pointer: str) -> None:
    """Editors head a hover with it; the language reference names the section by it."""
    title = DEFINITIONS[pointer].get("title")
    assert isinstance(title, str) and title.strip(), f"{pointer} has no title"


ANNOTATED = sorted(p for p, n in NODES.items() if "default" in n or "examples" in n)


def test_defaults_and_examples_are_there() -> None:
    assert len(ANNOTATED) >= 20
    assert sum("default" in NODES[p] for p in ANNOTATED) >= 5


@pytest.mark.parametrize("pointer", ANNOTATED)
def test_defaults_and_examples_are_valid(pointer: str) -> None:
    node = NODES[pointer]
    examples = node.get("examples", [])
    assert isinstance(examples, list), f"{pointer}: examples must be a list"
    assert examples or "examples" not in node, f"{pointer}: examples is empty"
    validator = _validator(node)
    for value in [*examples, *([node["default"]] if "default" in node else [])]:
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, f"{pointer}: {value!r} is not valid: {errors}"


@pytest.mark.parametrize("pointer", sorted(p for p, n in NODES.items() if "default" in n))
def test_a_default_is_stated_in_the_description(pointer: str) -> None:
    """Hover shows the description, not ``default``: the text must say it, and agree."""
    default = NODES[pointer]["default"]
    text = default if isinstance(default, str) else json.dumps(default)
    assert f"Default `{text}`" in NODES[pointer].get("description", "")


_SPAN = re.compile(r"`([^`]+)`")
_EXAMPLE = re.compile(r"Examples?: ((?:`[^`]+`(?:, )?)+)")


def _written_examples(pointer: str, description: str) -> list[str]:
    """The YAML of each example in a description: a code span ``key: value`` naming the
    node's own key, and every code span after ``Example:``."""
    key = _name(pointer)
    found = [s[len(key) + 2 :] for s in _SPAN.findall(description) if s.startswith(f"{key}: ")]
    for group in _EXAMPLE.findall(description):
        for span in _SPAN.findall(group):
            if not span.startswith(f"{key}: "):
                found.append(span)
    return found


WRITTEN = sorted(
    p for p in DOCUMENTED if p and _written_examples(p, DOCUMENTED[p].get("description", ""))
)


def test_most_descriptions_give_an_example() -> None:
    assert len(WRITTEN) >= 30


@pytest.mark.parametrize("pointer", WRITTEN)
def test_examples_written_in_descriptions_are_valid(pointer: str) -> None:
    node = DOCUMENTED[pointer]
    validator = _validator(node)
    for text in _written_examples(pointer, node["description"]):
        value = yaml.safe_load(text)
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, f"{pointer}: the example `{text}` is not valid: {errors}"
