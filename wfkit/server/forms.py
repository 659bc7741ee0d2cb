"""The JSON bodies of wfkit's own routes that the CLI does not print: an instance with
what a page needs besides the CLI's form (the events it waits for, a graph version),
and the definitions of the folder with their problems."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from wfkit.definition.model import Definition
from wfkit.engine.loop.event_names import wait_events
from wfkit.engine.protocols import InstanceRow
from wfkit.errors import DefinitionError, Problem, UnknownWorkflow
from wfkit.graph import Catalog
from wfkit.runtime.jsonforms import instance_json
from wfkit.runtime.snapshot import InstanceSnapshot

__all__ = [
    "MAX_YAML_BYTES",
    "definition_items",
    "find_definition",
    "graph_version",
    "instance_payload",
    "local_definition",
    "yaml_text",
]

MAX_YAML_BYTES = 1 << 20
"""The largest definition file whose text ``GET /v1.0/wfkit/definitions/{name}`` returns
(a bigger one is returned without its text: ``"yaml": null``)."""


def graph_version(snapshot: InstanceSnapshot) -> str:
    """Changes exactly when the instance's drawn graph would change: its layout (a
    foreach learns its item count) or a step's shown status."""
    seen = repr((snapshot.layout_key, sorted(snapshot.statuses.items())))
    return hashlib.sha256(seen.encode("utf-8")).hexdigest()[:16]


def instance_payload(row: InstanceRow, snapshot: InstanceSnapshot) -> dict[str, Any]:
    """``GET /v1.0/wfkit/instances/{id}``: the CLI's ``wfkit get --json`` form, plus
    ``awaiting`` (the events its wait steps wait for now), ``graphVersion`` and
    ``version`` (the history's length: a newer body has a bigger one)."""
    data = instance_json(row, {step.id: step for step in snapshot.steps})
    data["awaiting"] = [
        {"step": step.id, "event": step.event}
        for step in snapshot.steps
        if step.event and step.status == "waiting"
    ]
    data["graphVersion"] = graph_version(snapshot)
    data["version"] = snapshot.version
    return data


def definition_items(catalog: Catalog, folder: str) -> list[dict[str, Any]]:
    """Every definition of the folder, valid or not, sorted by file: name, file,
    description, validity, problems, inputs and the events its wait steps take."""
    items: dict[str, dict[str, Any]] = {}
    for definition in catalog:
        items[definition.path] = _valid_item(definition, folder)
    names = {problem.path: name for name, found in catalog.set_aside.items() for problem in found}
    for problem in catalog.problems:
        item = items.get(problem.path)
        if item is None:
            item = items[problem.path] = _item(names.get(problem.path), problem.path, folder)
        item["valid"] = False
        item["problems"].append(_problem_json(problem, folder))
    return [items[path] for path in sorted(items)]


def find_definition(catalog: Catalog, folder: str, name: str) -> dict[str, Any]:
    """The item of workflow ``name`` (its first file, when several declare it);
    :class:`UnknownWorkflow` when no file declares it."""
    for item in definition_items(catalog, folder):
        if item["name"] == name:
            return item
    raise UnknownWorkflow(name, catalog.names)


def local_definition(catalog: Catalog, folder: str, name: str) -> Definition:
    """The definition of workflow ``name``; its :class:`DefinitionError` names its files
    relative to the definitions folder (the server's own folders stay out of replies)."""
    try:
        return catalog.get(name)
    except DefinitionError as error:
        problems = [dataclasses.replace(p, path=_relative(p.path, folder)) for p in error.problems]
        raise DefinitionError(problems) from None


def yaml_text(catalog: Catalog, folder: str, item: dict[str, Any]) -> str | None:
    """The text of an item's file (None when it is gone or over :data:`MAX_YAML_BYTES`)."""
    name = item["name"]
    if isinstance(name, str) and name in catalog:
        source = catalog.get(name).source
        if source:
            return source if len(source.encode("utf-8")) <= MAX_YAML_BYTES else None
    path = Path(folder, item["file"])
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _item(name: str | None, path: str, folder: str) -> dict[str, Any]:
    return {
        "name": name,
        "file": _relative(path, folder),
        "description": "",
        "valid": True,
        "problems": [],
        "inputs": {},
        "events": [],
    }


def _valid_item(definition: Definition, folder: str) -> dict[str, Any]:
    item = _item(definition.name, definition.path, folder)
    item["description"] = definition.description
    item["inputs"] = {
        name: {**_plain(spec.schema), "required": spec.required}
        for name, spec in definition.inputs.items()
    }
    item["events"] = list(wait_events(definition))
    return item


def _problem_json(problem: Problem, folder: str) -> dict[str, Any]:
    return {
        "file": _relative(problem.path, folder),
        "line": problem.line,
        "column": problem.column,
        "message": problem.message,
        "hint": problem.hint,
    }


def _relative(path: str, folder: str) -> str:
    """``path`` relative to the definitions folder when inside it (the server's own
    folders stay out of its replies)."""
    try:
        relative = os.path.relpath(path, folder)
    except ValueError:
        return os.path.basename(path)
    return os.path.basename(path) if relative.startswith("..") else relative


def _plain(schema: Any) -> dict[str, Any]:
    """An input's schema as plain JSON (a YAML date becomes its text)."""
    value = json.loads(json.dumps(dict(schema), default=str))
    return value if isinstance(value, dict) else {}
