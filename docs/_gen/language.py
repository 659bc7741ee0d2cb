"""``reference/language.md``: the definition language, from its JSON Schema.

Every key, type, constraint, allowed value and description comes from
``wfkit/definition/schema.json`` (what ``wfkit schema`` prints). Where the schema has no
description for a key, :data:`NOTES` supplies one; a note for a key the schema does not
have is an error, so notes cannot outlive their keys.
"""

from __future__ import annotations

import json
from typing import Any

from docs._gen._common import banner, code, table

OUTPUT = "reference/language.md"

#: Descriptions for keys the schema leaves undescribed, by JSON Pointer into the schema.
#: Checked against the code; if the schema gains a description, it is shown first.
NOTES: dict[str, str] = {
    "/properties/description": "Free text for people.",
    "/properties/steps": "The main steps, by id. A step starts as soon as the steps it "
    "depends on have settled; file order only breaks ties.",
    "/properties/defaults/properties/retry": "The retry policy of every step; a step's own "
    "`retry` overrides it field by field.",
    "/properties/defaults/properties/timeout": "The timeout of every step that sets none "
    "(`wait` and `sleep` steps take none).",
    "/$defs/identifier": "A step id or input name: letters, digits and `_`, not starting "
    "with a digit, so that `steps.<id>` and `inputs.<name>` work in expressions.",
    "/$defs/workflowName": "A workflow name: lower-case letters, digits, `-` and `_`, "
    "starting with a letter or digit.",
    "/$defs/retry": "How a failing step is tried again. A field left out keeps its "
    "default (or the value from `defaults.retry`). The delay before attempt n+1 is "
    "`initial_interval × backoff_coefficient^(n−1)`, capped at `max_interval`; each "
    "delay is a durable timer in the history.",
    "/$defs/retry/properties/max_attempts": "Default 1 (no retry).",
    "/$defs/retry/properties/initial_interval": "The delay after the first failed attempt. "
    "Default `1s`.",
    "/$defs/retry/properties/backoff_coefficient": "Each delay is the previous one times "
    "this. Default 1 (equal delays).",
    "/$defs/retry/properties/max_interval": "The longest delay between attempts; at least "
    "`initial_interval`. Default: no cap.",
    "/$defs/retry/properties/retry_timeout": "No retry starts later than this after the "
    "first attempt began. Default: no limit.",
    "/$defs/inputSchema": "One declared input: a subset of JSON Schema. The start input is "
    "checked against it before anything is stored.",
    "/$defs/inputSchema/properties/type": "The JSON type of the value.",
    "/$defs/inputSchema/properties/default": "The value used when the input is not given. "
    "An input without a default is required.",
    "/$defs/inputSchema/properties/enum": "The allowed values.",
    "/$defs/inputSchema/properties/minimum": "The smallest allowed number.",
    "/$defs/inputSchema/properties/maximum": "The largest allowed number.",
    "/$defs/inputSchema/properties/items": "The schema of each item of an `array` input.",
    "/$defs/inputSchema/properties/description": "Free text for people.",
    "/$defs/steps": "Steps by id. Step ids are unique across `steps` and `finally`.",
    "/$defs/step": "One step. It has exactly one kind key (`call`, `shell`, `notebook`, "
    "`workflow`, `wait` or `sleep`) and any of the common keys that apply to that kind.",
    "/$defs/step/properties/wait/anyOf/1/properties/event": "The event's name; names are "
    "case-insensitive.",
    "/$defs/step/properties/wait/anyOf/1/properties/timeout": "Fail the step with a "
    "`TimeoutError` when no event came within this time; `retry` and `on_error` apply. "
    "Without it the step waits forever.",
    "/$defs/step/properties/sleep": "A durable timer: the step completes (output null) "
    "after this long, even across restarts.",
    "/$defs/step/properties/needs": "Steps that must settle (complete, be skipped, or fail "
    "with `on_error: continue`) before this one starts. Every `steps.<id>` an expression "
    "of this step reads is a dependency too.",
    "/$defs/step/properties/with": "The step's input: keyword arguments of a `call`, "
    "parameters of a `notebook`, the input of a child `workflow`. Values may hold "
    "expressions. Not for `shell`, `wait` or `sleep` steps.",
    "/$defs/step/properties/env": "Environment variables of a `shell` or `notebook` step; "
    "values may hold expressions, and values that are not strings arrive JSON-encoded.",
    "/$defs/step/properties/when": "One `${{ }}` expression (or `true`/`false`). When it is "
    "false the step is `skipped`, its output is null and its dependents still run.",
    "/$defs/step/properties/foreach": "A list, or one expression giving a list: the step "
    "runs once per item, with `item` and `index` in its expressions. Its output is the "
    "list of the results, in item order.",
    "/$defs/step/properties/max_parallel": "With `foreach`: at most this many items run at once.",
    "/$defs/step/properties/retry": "The step's retry policy, over `defaults.retry`.",
    "/$defs/step/properties/timeout": "How long one attempt may run. A shell or notebook "
    "process is killed; a Python `call` is abandoned (its result is discarded). Not for "
    "`wait` (use `wait.timeout`) or `sleep`.",
    "/$defs/step/properties/on_error": "`fail` (the default): the step's final failure "
    "fails the instance. `continue`: the instance goes on, and dependents can test "
    "`steps.<id>.status`.",
    "/$defs/step/properties/pause_before": "A breakpoint: the run suspends itself just "
    "before this step starts.",
    "/$defs/step/properties/description": "Free text for people.",
}

#: Section of each ``$defs`` entry: heading and anchor. Entries not listed here get a
#: section named after themselves, so a new definition still appears.
_TITLES: dict[str, str] = {
    "identifier": "Identifier",
    "workflowName": "Workflow name",
    "duration": "Duration",
    "retry": "Retry policy",
    "inputSchema": "Input",
    "steps": "Steps",
    "step": "Step",
}

_KIND_HEADERS = ("key", "type", "description")


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


def _ref_link(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    return f"[{_TITLES.get(name, name).lower()}](#{_anchor(name)})"


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
    node = _resolve(schema, pointer)
    own = node.get("description", "") if isinstance(node, dict) else ""
    note = NOTES.get(pointer, "")
    if own and note:
        return f"{own} {note}"
    return own or note


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
            [
                [
                    code(k),
                    describe_type(step["properties"][k]),
                    _description(schema, f"/$defs/step/properties/{k}"),
                ]
                for k in kinds
            ],
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
            [
                [
                    code(k),
                    describe_type(step["properties"][k]),
                    _description(schema, f"/$defs/step/properties/{k}"),
                ]
                for k in common
            ],
        ),
    ]
    return "\n".join(out)


def _def_section(schema: dict[str, Any], name: str) -> str:
    if name == "step":
        return _step_section(schema)
    node = schema["$defs"][name]
    pointer = f"/$defs/{name}"
    out = [f"## {_TITLES.get(name, name)} {{#{_anchor(name)}}}\n"]
    description = _description(schema, pointer)
    if description:
        out.append(description + "\n")
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
    for pointer in NOTES:
        _resolve(schema, pointer)  # KeyError: a note for a key the schema no longer has
    top = [
        banner("`wfkit/definition/schema.json` (see `docs/_gen/language.py`)"),
        "# Language reference\n",
        f"This page is generated from the JSON Schema of the definition language, "
        f"{code(schema.get('$id', ''))} ({schema.get('title', '')}). "
        "`wfkit schema` prints the same schema. Editors with YAML support "
        "(yaml-language-server) complete and check a definition as you type when its "
        "first line names the schema; the examples in `definitions/` start with:\n",
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
