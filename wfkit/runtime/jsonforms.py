"""The JSON forms of instances, steps and history events: what ``wfkit get --json``,
``wfkit list --json`` and ``wfkit history --json`` print and what the HTTP server's own
routes answer (one definition of each, below both)."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wfkit.common.jsontext import read_stored, shortened

if TYPE_CHECKING:
    from wfkit.engine.protocols import InstanceRow
    from wfkit.runtime.events import HistoryEvent
    from wfkit.runtime.snapshot_records import StepSnapshot

__all__ = [
    "event_json",
    "instance_json",
    "iso_time",
    "row_json",
    "step_json",
    "stored_json",
]


def iso_time(seconds: float | None) -> str:
    """A time as the CLI prints it: ISO 8601 in UTC, to the millisecond (``""`` for None)."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def stored_json(text: str | None) -> Any:
    """A stored JSON text read back for showing; what nests too deep (stored before the
    depth limit) shortened, never a RecursionError."""
    if not text:
        return None
    return shortened(read_stored(text))


def row_json(row: InstanceRow) -> dict[str, Any]:
    """An instance as JSON, with Dapr's names."""
    from wfkit.engine.wire.summary import stored_properties
    from wfkit.runtime.ownership import ownership

    owned = ownership(row)
    return {
        "instanceID": row.instance_id,
        "workflowName": row.workflow_name,
        "runtimeStatus": row.status,
        "startedAt": iso_time(row.created_at),
        "lastUpdatedAt": iso_time(row.updated_at),
        "customStatus": row.custom_status,
        "input": stored_json(row.input),
        "output": stored_json(row.output),
        "failure": stored_json(row.failure),
        "parentID": row.parent_id,
        "owner": owned.to_json(),
        "properties": {**stored_properties(row), **owned.properties()},
    }


def step_json(step: StepSnapshot) -> dict[str, Any]:
    """One step as JSON; with ``details`` (what its handler recorded: a shell step's
    exit code, stdout and stderr, a notebook step's saved notebook...) when it has any."""
    data = {
        "status": step.status,
        "output": shortened(step.output),
        "attempts": step.attempts,
        "startedAt": iso_time(step.started_at) or None,
        "endedAt": iso_time(step.ended_at) or None,
        "items": step.items,
        "error": asdict(step.error) if step.error else None,
    }
    if step.details is not None:
        data["details"] = step.details
    return data


def event_json(event: HistoryEvent) -> dict[str, Any]:
    """One history event as JSON."""
    # field by field, not asdict(): asdict copies values recursively, and data stored
    # before the depth limit may nest deeper than Python's recursion limit
    data = {
        f.name: _plain(getattr(event, f.name))
        for f in fields(event)
        if getattr(event, f.name) is not None and f.name not in ("seq", "at")
    }
    return {"seq": event.seq, "type": event.TYPE, "at": iso_time(event.at), **data}


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)  # a Failure: flat
    return shortened(value)


def instance_json(row: InstanceRow, steps: dict[str, StepSnapshot]) -> dict[str, Any]:
    """An instance with its steps, as ``wfkit get --json`` and ``wfkit run --json``
    print it."""
    data = row_json(row)
    data["steps"] = {step_id: step_json(info) for step_id, info in steps.items()}
    return data
