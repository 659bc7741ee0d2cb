"""``reference/language.md``: the definition language, from its JSON Schema.

Every key, type, constraint, allowed value, section title and description comes from
``wfkit/definition/schema.json`` (what ``wfkit schema`` prints, and what editors show on
hover): the schema is the one source. A key or definition without a ``description`` is
an error here, as in ``tests/definitions/test_schema_descriptions.py``.
"""

from __future__ import annotations

import json
from typing import Any

from docs._gen._common import banner, code, table

OUTPUT = "reference/language.md"


def _schema() -> dict[str, Any]:
    from wfkit.definition import load_schema

    return load_schema()


def _resolve(schema: dict[str, Any], pointer: str) -> Any:
    node: Any = schema
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _anchor(def_name: str) -> str:
    return def_name.lower()


def _title(schema: dict[str, Any], def_name: str) -> str:
    """The heading of a ``$defs`` entry: its ``title``, else its name."""
    return str(schema["$defs"][def_name].get("title", def_name))


def _ref_link(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    return f"[{_title(_schema(), name).lower()}](#{_anchor(name)})"


def describe_type(node: dict[str, Any]) -> str:
    """The type of a schema node in words, with its constraints."""
    parts: list[str] = []
    if "$ref" in node:
        parts.append(_ref_link(node["$ref"]))
    if "const" in node:
        parts.append(f"exactly {code(json.dumps(node['const']))}")
    if "enum" in node:
        parts.append("one of " + ", ".join(code(json.dumps(v)) for v in node["enum"]))
    kinds = node.get("type")
    if isinstance(kinds, str):
        kinds = [kinds]
    if kinds:
        parts.append(" or ".join(_type_word(k, node) for k in kinds))
    if "anyOf" in node:
        parts.append(" or ".join(describe_type(alt) for alt in node["anyOf"]))
    if not parts:
        parts.append("any JSON value")
    text = ", ".join(parts)
    limits = _limits(node)
    return f"{text} ({limits})" if limits else text


def _type_word(kind: str, node: dict[str, Any]) -> str:
    if kind == "array" and isinstance(node.get("items"), dict):
        return f"list of {describe_type(node['items'])}"
    if kind == "array":
        return "list"
    if kind == "object":
        values = node.get("additionalProperties")
        if isinstance(values, dict):
            keys = node.get("propertyNames", {})
            key_word = describe_type(keys) if keys else "string"
            return f"mapping of {key_word} to {describe_type(values)}"
        if "properties" in node:
            return "mapping with the keys below"
        return "mapping"
    return {"integer": "integer", "number": "number", "string": "string"}.get(kind, kind)


def _limits(node: dict[str, Any]) -> str:
    words = []
    for key, word in (
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minItems", "items ≥"),
        ("minLength", "length ≥"),
        ("minProperties", "entries ≥"),
    ):
        if key in node:
            words.append(f"{word} {node[key]}")
    if "pattern" in node:
        words.append(f"matches {code(node['pattern'])}")
    names = node.get("propertyNames")
    if isinstance(names, dict) and "pattern" in names and "$ref" not in names:
        words.append(f"names match {code(names['pattern'])}")
    return ", ".join(words)


def _description(schema: dict[str, Any], pointer: str) -> str:
    """The schema's own description of the node at ``pointer``, which must have one."""
    node = _resolve(schema, pointer)
    text = node.get("description") if isinstance(node, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"schema.json: {pointer} has no description; write one there")
    return text


def _rows(schema: dict[str, Any], pointer: str, keys: list[str] | None = None) -> list[list[str]]:
    node = _resolve(schema, pointer)
    required = set(node.get("required", []))
    rows = []
    for key in keys if keys is not None else list(node.get("properties", {})):
        child = f"{pointer}/properties/{key}"
        sub = node["properties"][key]
        need = "**required**" if key in required else ""
        rows.append([code(key), describe_type(sub), need, _description(schema, child)])
    return rows


def _key_table(schema: dict[str, Any], pointer: str, keys: list[str] | None = None) -> str:
    return table(("key", "type", "required", "description"), _rows(schema, pointer, keys))


def _step_section(schema: dict[str, Any]) -> str:
    from wfkit.definition.schema import STEP_KINDS

    step = schema["$defs"]["step"]
    kinds = [next(iter(alt["required"])) for alt in step["oneOf"]]
    if list(STEP_KINDS) != kinds:  # the parser and the schema must agree
        raise ValueError(f"schema kinds {kinds} differ from STEP_KINDS {list(STEP_KINDS)}")
    common = [k for k in step["properties"] if k not in kinds]
    out = [
        f"## Step {{#{_anchor('step')}}}\n",
        _description(schema, "/$defs/step") + "\n",
        "No other keys are allowed.\n" if step.get("additionalProperties") is False else "",
        "### Kinds\n",
        "Exactly one of these keys, which also says what the step runs.\n",
        table(
            ("kind", "type", "description"),
            _step_rows(schema, kinds),
        ),
    ]
    wait = step["properties"]["wait"]
    for i, alt in enumerate(wait.get("anyOf", [])):
        if alt.get("type") == "object":
            pointer = f"/$defs/step/properties/wait/anyOf/{i}"
            out += [
                "### The `wait` mapping {#wait}\n",
                "`wait` is an event name, or a mapping with these keys:\n",
                _key_table(schema, pointer),
            ]
    out += [
        "### Common keys\n",
        "Any step may have these keys, except where the description says otherwise (the "
        "loader reports a key that does not apply to the step's kind).\n",
        table(
            ("key", "type", "description"),
            _step_rows(schema, common),
        ),
    ]
    return "\n".join(out)


def _def_section(schema: dict[str, Any], name: str) -> str:
    if name == "step":
        return _step_section(schema)
    node = schema["$defs"][name]
    pointer = f"/$defs/{name}"
    out = [
        f"## {_title(schema, name)} {{#{_anchor(name)}}}\n",
        _description(schema, pointer) + "\n",
    ]
    out.append(f"Type: {describe_type(node)}.\n")
    if "properties" in node:
        closed = node.get("additionalProperties") is False
        if closed:
            out.append("Keys (no others are allowed):\n")
        out.append(_key_table(schema, pointer))
    return "\n".join(out)


def render() -> str:
    """The page."""
    schema = _schema()
    top = [
        banner("`wfkit/definition/schema.json` (see `docs/_gen/language.py`)"),
        "# Language reference\n",
        f"This page is generated from the JSON Schema of the definition language, "
        f"{code(schema.get('$id', ''))} ({schema.get('title', '')}). "
        "`wfkit schema` prints the same schema. Editors with YAML support "
        "(yaml-language-server, as in VS Code's YAML extension) check a definition as you "
        "type, show the descriptions below on hover, and offer each key's default and "
        "example values on completion, when the file's first line names the schema; the "
        "examples in `definitions/` start with:\n",
        "```yaml\n# yaml-language-server: $schema=../wfkit/definition/schema.json\n```\n",
        schema.get("description", "") + " See [Expressions](../concepts/expressions.md).\n",
        "The schema describes the shape of a file. The loader checks more than the "
        "schema can say, and reports every problem at once with its line and column: "
        "that each `steps.<id>` reference and each `needs` names a step, that there is no "
        "cycle, that expressions compile, that a key applies to the step's kind, that "
        "durations and retry intervals make sense. See "
        "[Definitions and steps](../concepts/definitions.md).\n",
        "## Top level {#top-level}\n",
        "A definition is a YAML mapping with these keys (no others are allowed):\n",
        _key_table(schema, ""),
    ]
    defaults = schema["properties"].get("defaults")
    if isinstance(defaults, dict) and "properties" in defaults:
        top += [
            "### `defaults` {#defaults}\n",
            _description(schema, "/properties/defaults") + "\n",
            _key_table(schema, "/properties/defaults"),
        ]
    order = ["steps", "step", "inputSchema", "retry", "duration", "identifier", "workflowName"]
    names = [n for n in order if n in schema["$defs"]]
    names += [n for n in schema["$defs"] if n not in names]
    sections = [_def_section(schema, name) for name in names]
    return "\n".join(top) + "\n" + "\n".join(sections)


def _step_rows(schema: dict[str, Any], keys: list[str]) -> list[list[str]]:
    """Table rows (key, type, description) of the step keys ``keys``."""
    step = schema["$defs"]["step"]
    return [
        [
            code(k),
            describe_type(step["properties"][k]),
            _description(schema, f"/$defs/step/properties/{k}"),
        ]
        for k in keys
    ]
