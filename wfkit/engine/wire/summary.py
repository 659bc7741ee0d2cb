"""What an instance looks like from outside: its stored row fields and Dapr properties.

Computed from the folded state at each commit and stored with the instance, so that
``get`` and ``list`` never replay a history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wfkit.common import jsontext
from wfkit.engine.core.history import (
    EventRaised,
    ExecutionResumed,
    ExecutionSuspended,
    HistoryEvent,
)
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.progress import Progress
from wfkit.engine.core.state import InstanceState
from wfkit.engine.core.status import STEP_STATUSES, RuntimeStatus, StepStatus
from wfkit.engine.protocols import InstanceRow, InstanceUpdate
from wfkit.engine.wire.contract import (
    PROP_CUSTOM_STATUS,
    PROP_FAILURE_ERROR_MESSAGE,
    PROP_FAILURE_ERROR_TYPE,
    PROP_FAILURE_STACK_TRACE,
    PROP_INPUT,
    PROP_OUTPUT,
    WFKIT_PREFIX,
)
from wfkit.errors import InstanceError

__all__ = [
    "buffered_events",
    "custom_status",
    "dumps",
    "properties",
    "stored_properties",
    "stored_summary",
    "update_after",
    "update_for",
]


def dumps(value: Any) -> str:
    """Compact JSON text (the form values are stored in); what is not JSON as text."""
    return jsontext.dumps(value, default=str)


def custom_status(
    plan: WorkflowPlan, state: InstanceState, running: Sequence[str] | None = None
) -> str:
    """A short line for people: what the instance is doing or waiting for (at most
    :data:`NAMED_STEPS` step names, then how many more). ``running``: the running steps
    in plan order, when the caller has them already."""
    if state.status is RuntimeStatus.SUSPENDED:
        return _paused_line(state.suspend_reason, state.suspended_at_step)
    if state.is_terminal:
        return state.status.value.lower()
    progress = Progress.of(plan, state)
    waiting = [
        f"event {plan.spec(sid).target.event!r}"
        for sid in plan.waits
        if progress.shares[sid].status is StepStatus.WAITING
    ]
    if waiting:
        return "waiting for " + _named(waiting)
    if running is None:
        running = progress.in_status(StepStatus.RUNNING)
    return ("running " + _named(running)) if running else state.status.value.lower()


def _paused_line(reason: str | None, step: str | None) -> str:
    if reason == "breakpoint":
        return f"paused at the breakpoint before {step}"
    if reason == "step":
        return "paused after a step"
    return "paused"


NAMED_STEPS = 5
"""How many names a custom status line gives before "and N more"."""


def _named(names: Sequence[str]) -> str:
    if len(names) <= NAMED_STEPS:
        return ", ".join(names)
    return f"{', '.join(names[:NAMED_STEPS])} and {len(names) - NAMED_STEPS} more"


_OURS = WFKIT_PREFIX
_COUNT_KEYS = tuple(f"{WFKIT_PREFIX}steps.{status.value}" for status in STEP_STATUSES)
_STORED = 2
"""The stored properties' form: a JSON list led by this number (an earlier wfkit stored
the whole mapping, which :func:`stored_properties` still reads)."""


def stored_summary(
    plan: WorkflowPlan, state: InstanceState, running: Sequence[str] | None = None
) -> str:
    """The properties as stored at each commit: only what changes as the run goes (step
    counts, running and waiting steps, pause, failed step, buffered events), as a short
    JSON list. The rest of the properties are fields of the instance row already (input,
    custom status, output, failure, definition hash, parent), so they are not written
    again at every step; :func:`stored_properties` puts the mapping back together."""
    progress = Progress.of(plan, state)
    counts = progress.counts
    failed = progress.in_status(StepStatus.FAILED) if counts[StepStatus.FAILED] else ()
    if running is None:
        running = progress.in_status(StepStatus.RUNNING) if counts[StepStatus.RUNNING] else ()
    return dumps(
        [
            _STORED,
            len(progress.shares),
            *[counts[status] for status in STEP_STATUSES],
            ",".join(running),
            ",".join(progress.in_status(StepStatus.WAITING)) if counts[StepStatus.WAITING] else "",
            state.suspended_at_step or "",
            state.suspend_reason or "",
            failed[0] if failed else "",
            len(state.events) - len(state.consumed),
        ]
    )


def update_for(plan: WorkflowPlan, state: InstanceState) -> InstanceUpdate:
    """The instance row fields after ``state``."""
    failure = "" if state.rewinds and not state.is_terminal else None  # "" clears the last
    if state.failure is not None and state.is_terminal:
        failure = dumps(
            {
                "type": state.failure.type,
                "message": state.failure.message,
                "stack_trace": state.failure.stack_trace,
            }
        )
    progress = Progress.of(plan, state)
    # sorted once for both: a wide fan-out has hundreds running at each decision
    running = progress.in_status(StepStatus.RUNNING) if progress.counts[StepStatus.RUNNING] else []
    line = custom_status(plan, state, running)
    return InstanceUpdate(
        status=state.status.value,
        updated_at=state.updated_at,
        output=dumps(state.output) if state.status is RuntimeStatus.COMPLETED else None,
        failure=failure,
        custom_status=line,
        properties=stored_summary(plan, state, running),
    )


# Positions in the stored summary list (see stored_summary).
_RUNNING = 2 + len(STEP_STATUSES)
_WAITING, _PAUSED_AT, _PAUSE_REASON, _BUFFERED = _RUNNING + 1, _RUNNING + 2, _RUNNING + 3, -1


def _summary_list(row: InstanceRow) -> list[Any] | None:
    stored = jsontext.loads(row.properties or "{}")
    if isinstance(stored, list) and stored and stored[0] == _STORED:
        return stored
    return None  # an earlier wfkit's mapping, or a newer form: replay instead


def buffered_events(row: InstanceRow) -> int | None:
    """How many events the stored instance holds that no wait step has consumed (None
    when its row was stored in a form that does not say)."""
    stored = _summary_list(row)
    return None if stored is None else int(stored[_BUFFERED])


def update_after(
    plan: WorkflowPlan, row: InstanceRow, event: HistoryEvent
) -> InstanceUpdate | None:
    """The row fields after appending ``event`` to the history ``row`` is current for,
    worked out from the row's stored summary alone (so that raising an event, pausing
    or resuming costs the same whatever the history's length): what
    :func:`update_for` gives after replaying the whole history with ``event``.

    Only for an event raised, a pause and a resume; None for anything else (or a row in
    an older form): replay then."""
    stored = _summary_list(row)
    if stored is None or RuntimeStatus(row.status).is_terminal:
        return None
    updated_at = max(row.updated_at, event.at)
    if isinstance(event, EventRaised):
        stored[_BUFFERED] += 1
        line = row.custom_status
    elif isinstance(event, ExecutionSuspended):
        stored[_PAUSED_AT], stored[_PAUSE_REASON] = event.step or "", event.reason
        line = _paused_line(event.reason, event.step)
        status = RuntimeStatus.SUSPENDED.value
        return InstanceUpdate(status, updated_at, None, None, line, dumps(stored))
    elif isinstance(event, ExecutionResumed):
        if row.status != RuntimeStatus.SUSPENDED.value:
            return InstanceUpdate(None, updated_at, None, None, row.custom_status, row.properties)
        stored[_PAUSED_AT] = stored[_PAUSE_REASON] = ""
        line = _line_when_running(plan, stored)
        status = RuntimeStatus.RUNNING.value
        return InstanceUpdate(status, updated_at, None, None, line, dumps(stored))
    else:
        return None
    return InstanceUpdate(None, updated_at, None, None, line, dumps(stored))


def _line_when_running(plan: WorkflowPlan, stored: list[Any]) -> str:
    """:func:`custom_status` of a RUNNING instance, from its stored running and waiting
    steps (plan order both)."""
    waiting_steps = set(filter(None, stored[_WAITING].split(",")))
    waiting = [
        f"event {plan.spec(sid).target.event!r}" for sid in plan.waits if sid in waiting_steps
    ]
    if waiting:
        return "waiting for " + _named(waiting)
    running = [sid for sid in stored[_RUNNING].split(",") if sid]
    return ("running " + _named(running)) if running else RuntimeStatus.RUNNING.value.lower()


def properties(plan: WorkflowPlan, state: InstanceState) -> dict[str, str]:
    """The properties that ``get`` reports for ``state``: those of the row an engine
    stores for it (:func:`update_for`), read back by :func:`stored_properties`."""
    update = update_for(plan, state)
    row = InstanceRow(
        state.instance_id,
        state.name,
        update.status or state.status.value,
        state.created_at,
        state.updated_at,
        state.definition_hash,
        dumps(state.input),
        output=update.output,
        failure=update.failure or None,
        custom_status=update.custom_status,
        properties=update.properties or "",
        parent_id=state.parent_id,
    )
    return stored_properties(row)


def stored_properties(row: InstanceRow) -> dict[str, str]:
    """The properties of a stored instance, as ``get`` returns them: Dapr's
    ``dapr.workflow.*`` (input, custom status, output, failure) and wfkit's own under
    ``wfkit.``, from the row and its :func:`stored_summary`."""
    stored = jsontext.loads(row.properties or "{}")
    if isinstance(stored, dict):  # written by an earlier wfkit: the whole mapping
        if PROP_INPUT in stored:
            return stored
        return {PROP_INPUT: row.input if row.input is not None else "null", **stored}
    if not stored or stored[0] != _STORED:
        raise InstanceError(
            row.instance_id,
            f"instance {row.instance_id!r}: its properties were stored by a newer wfkit "
            f"(form {stored[0] if stored else '?'}); upgrade wfkit to read them",
        )
    total, *rest = stored[1:]
    counts, tail = rest[: len(_COUNT_KEYS)], rest[len(_COUNT_KEYS) :]
    running_now, waiting_now, paused_at, pause_reason, failed_step, buffered = tail
    props = {
        PROP_INPUT: row.input if row.input is not None else "null",
        PROP_CUSTOM_STATUS: row.custom_status or "",
    }
    if row.status == RuntimeStatus.COMPLETED.value:
        props[PROP_OUTPUT] = row.output if row.output is not None else "null"
    failure = jsontext.loads(row.failure) if row.failure else None
    if failure and row.status in _ENDED_BADLY:
        props[PROP_FAILURE_ERROR_TYPE] = failure["type"]
        props[PROP_FAILURE_ERROR_MESSAGE] = failure["message"]
        props[PROP_FAILURE_STACK_TRACE] = failure["stack_trace"]
    props[_OURS + "definition_hash"] = row.definition_hash
    props[_OURS + "steps.total"] = str(total)
    for key, count in zip(_COUNT_KEYS, counts, strict=True):
        props[key] = str(count)
    props[_OURS + "steps.running_now"] = running_now
    props[_OURS + "steps.waiting_now"] = waiting_now
    props[_OURS + "paused_at"] = paused_at
    props[_OURS + "pause_reason"] = pause_reason
    props[_OURS + "parent_id"] = row.parent_id or ""
    props[_OURS + "failed_step"] = failed_step
    props[_OURS + "events_buffered"] = str(buffered)
    return props


_ENDED_BADLY = frozenset({RuntimeStatus.FAILED.value, RuntimeStatus.TERMINATED.value})
