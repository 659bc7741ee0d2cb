"""History events to and from stored rows, and task outcomes to history events."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema_rs

from wfkit.engine.history import (
    Failure,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    decode_event,
    encode_event,
)
from wfkit.engine.protocols import EventRow, Store, TaskOutcome, TaskSpec

__all__ = ["event_rows", "load_history", "outcome_event"]


def event_rows(events: Sequence[HistoryEvent]) -> list[EventRow]:
    """Stored rows for events that already carry their ``seq`` and ``at``."""
    return [EventRow(e.seq, e.TYPE, e.at, encode_event(e)) for e in events]


def load_history(store: Store, instance_id: str, after: int = 0) -> list[HistoryEvent]:
    """The decoded history of an instance (events with ``seq > after``)."""
    return [decode_event(r.type, r.at, r.seq, r.data) for r in store.history(instance_id, after)]


def outcome_event(
    task: TaskSpec, outcome: TaskOutcome, outputs: Mapping[str, Any] | None, now: float
) -> HistoryEvent:
    """The history event for a task's outcome; an output that breaks the step's
    ``outputs`` schema, or is not JSON, is a failure."""
    details = outcome.details or None
    common: dict[str, Any] = {"step": task.step, "index": task.index, "attempt": task.attempt}
    if not outcome.ok:
        failure = Failure(outcome.error_type or "Error", outcome.error_message, outcome.stack_trace)
        return TaskFailed(at=now, failure=failure, details=details, **common)
    problem = _output_problem(outcome.output, outputs, outcome.output_json is not None)
    if problem:
        failure = Failure("OutputInvalid", f"step {task.step!r} returned {problem}")
        return TaskFailed(at=now, failure=failure, details=details, **common)
    return TaskCompleted(at=now, output=outcome.output, details=details, **common)


def _output_problem(output: Any, outputs: Mapping[str, Any] | None, checked: bool) -> str:
    if not checked:
        try:
            json.dumps(output, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return f"a value that is not JSON ({exc})"
    if outputs is None:
        return ""
    for error in jsonschema_rs.validator_for(dict(outputs)).iter_errors(output):
        where = "/".join(str(p) for p in error.instance_path) or "the output"
        return f"an output that does not match its outputs schema: at {where}: {error.message}"
    return ""
