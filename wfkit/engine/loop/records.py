"""History events to and from stored rows, and task outcomes to history events."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import jsonschema_rs

from wfkit.common import jsontext
from wfkit.engine.core.history import (
    Failure,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    decode_event,
    encode_event,
)
from wfkit.engine.core.outbox import EventDraft
from wfkit.engine.protocols import EventRow, Store, TaskOutcome, TaskSpec
from wfkit.errors import OutputTooLarge

__all__ = ["event_rows", "load_history", "outcome_event"]


def event_rows(events: Sequence[HistoryEvent]) -> list[EventRow]:
    """Stored rows for events that already carry their ``seq`` and ``at``."""
    return [EventRow(e.seq, e.TYPE, e.at, encode_event(e)) for e in events]


def load_history(
    store: Store, instance_id: str, after: int = 0, limit: int | None = None
) -> list[HistoryEvent]:
    """The decoded history of an instance (events with ``seq > after``; the first
    ``limit`` of them when given)."""
    if limit is None:  # the engine's own reads call it as they always have
        rows = store.history(instance_id, after)
    else:
        rows = store.history(instance_id, after, limit)
    return [decode_event(r.type, r.at, r.seq, r.data) for r in rows]


def outcome_event(
    task: TaskSpec,
    outcome: TaskOutcome,
    outputs: Mapping[str, Any] | None,
    now: float,
    *,
    limit: int | None = None,
) -> EventDraft:
    """The history event for a task's outcome, as a draft that the decision numbers
    (it is built once, with its ``seq``); an output that breaks the step's ``outputs``
    schema, is not JSON, or is over ``limit`` bytes of JSON (whatever the runner or
    handler checked) is a failure."""
    details = outcome.details or None
    common: dict[str, Any] = {"step": task.step, "index": task.index, "attempt": task.attempt}
    if not outcome.ok:
        failure = Failure(outcome.error_type or "Error", outcome.error_message, outcome.stack_trace)
        return partial(TaskFailed, at=now, failure=failure, details=details, **common)
    too_large = _size_problem(task, outcome, limit)
    if too_large is not None:
        return partial(TaskFailed, at=now, failure=too_large, details=details, **common)
    problem = _output_problem(outcome.output, outputs, outcome.output_json is not None)
    if problem:
        failure = Failure("OutputInvalid", f"step {task.step!r} returned {problem}")
        return partial(TaskFailed, at=now, failure=failure, details=details, **common)
    return partial(TaskCompleted, at=now, output=outcome.output, details=details, **common)


def _size_problem(task: TaskSpec, outcome: TaskOutcome, limit: int | None) -> Failure | None:
    if limit is None or outcome.output is None:
        return None
    if outcome.output_json is not None:
        size = jsontext.utf8_size(outcome.output_json, limit)
    else:
        size = jsontext.encoded_size(outcome.output)
    if size <= limit:
        return None
    item = "" if task.index is None else f"[{task.index}]"
    what = f"the output of step '{task.step}{item}'"
    error = OutputTooLarge(task.instance_id, task.step, what, size, limit)
    return Failure("OutputTooLarge", str(error))


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
