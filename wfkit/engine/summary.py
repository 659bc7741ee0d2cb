"""What an instance looks like from outside: its stored row fields and Dapr properties.

Computed from the folded state at each commit and stored with the instance, so that
``get`` and ``list`` never replay a history.
"""

from __future__ import annotations

import json
from typing import Any

from wfkit.engine import jsontext
from wfkit.engine.contract import (
    PROP_CUSTOM_STATUS,
    PROP_FAILURE_ERROR_MESSAGE,
    PROP_FAILURE_ERROR_TYPE,
    PROP_FAILURE_STACK_TRACE,
    PROP_INPUT,
    PROP_OUTPUT,
    WFKIT_PREFIX,
)
from wfkit.engine.plan import WorkflowPlan
from wfkit.engine.progress import Progress
from wfkit.engine.protocols import InstanceRow, InstanceUpdate
from wfkit.engine.state import InstanceState
from wfkit.engine.status import RuntimeStatus, StepStatus

__all__ = ["custom_status", "dumps", "properties", "stored_properties", "update_for"]


def dumps(value: Any) -> str:
    """Compact JSON text (the form values are stored in); what is not JSON as text."""
    return jsontext.dumps(value, default=str)


def custom_status(plan: WorkflowPlan, state: InstanceState) -> str:
    """A short line for people: what the instance is doing or waiting for."""
    if state.status is RuntimeStatus.SUSPENDED:
        if state.suspend_reason == "breakpoint":
            return f"paused at the breakpoint before {state.suspended_at_step}"
        if state.suspend_reason == "step":
            return "paused after a step"
        return "paused"
    if state.is_terminal:
        return state.status.value.lower()
    progress = Progress.of(plan, state)
    waiting = [
        f"event {plan.spec(sid).target.event!r}"
        for sid in plan.waits
        if progress.shares[sid].status is StepStatus.WAITING
    ]
    if waiting:
        return "waiting for " + ", ".join(waiting)
    running = progress.in_status(StepStatus.RUNNING)
    return ("running " + ", ".join(running)) if running else state.status.value.lower()


_OURS = WFKIT_PREFIX
_COUNT_KEYS = tuple((status, f"{WFKIT_PREFIX}steps.{status.value}") for status in StepStatus)


def properties(
    plan: WorkflowPlan,
    state: InstanceState,
    status_line: str | None = None,
    *,
    with_input: bool = True,
) -> dict[str, str]:
    """Dapr's ``dapr.workflow.*`` properties plus wfkit's own under ``wfkit.``.

    Made at every commit, so it is written for speed: the input's JSON is encoded once
    per instance, counts come from :class:`Progress`, lists are only sorted when not
    empty. The stored form leaves the input out (``with_input=False``): it is in the
    instance row already, and :func:`stored_properties` puts it back."""
    props = {}
    if with_input:
        input_json = state.input_json
        if input_json is None:
            input_json = state.input_json = dumps(state.input)
        props[PROP_INPUT] = input_json
    props[PROP_CUSTOM_STATUS] = (
        status_line if status_line is not None else custom_status(plan, state)
    )
    status = state.status
    if status is RuntimeStatus.COMPLETED:
        props[PROP_OUTPUT] = dumps(state.output)
    if state.failure is not None and status in (RuntimeStatus.FAILED, RuntimeStatus.TERMINATED):
        props[PROP_FAILURE_ERROR_TYPE] = state.failure.type
        props[PROP_FAILURE_ERROR_MESSAGE] = state.failure.message
        props[PROP_FAILURE_STACK_TRACE] = state.failure.stack_trace
    progress = Progress.of(plan, state)
    counts = progress.counts
    props[_OURS + "definition_hash"] = state.definition_hash
    props[_OURS + "steps.total"] = str(len(progress.shares))
    for step_status, key in _COUNT_KEYS:
        props[key] = str(counts[step_status])
    props[_OURS + "steps.running_now"] = (
        ",".join(progress.in_status(StepStatus.RUNNING)) if counts[StepStatus.RUNNING] else ""
    )
    props[_OURS + "steps.waiting_now"] = (
        ",".join(progress.in_status(StepStatus.WAITING)) if counts[StepStatus.WAITING] else ""
    )
    props[_OURS + "paused_at"] = state.suspended_at_step or ""
    props[_OURS + "pause_reason"] = state.suspend_reason or ""
    props[_OURS + "parent_id"] = state.parent_id or ""
    failed = progress.in_status(StepStatus.FAILED) if counts[StepStatus.FAILED] else ()
    props[_OURS + "failed_step"] = failed[0] if failed else ""
    props[_OURS + "events_buffered"] = str(len(state.events) - len(state.consumed))
    return props


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
    line = custom_status(plan, state)
    return InstanceUpdate(
        status=state.status.value,
        updated_at=state.updated_at,
        output=dumps(state.output) if state.status is RuntimeStatus.COMPLETED else None,
        failure=failure,
        custom_status=line,
        properties=dumps(properties(plan, state, line, with_input=False)),
    )


def stored_properties(row: InstanceRow) -> dict[str, str]:
    """The properties of a stored instance, as ``get`` returns them: what was stored,
    with the input taken from the row (it is not stored again at every step, where a
    large input would be rewritten by each commit)."""
    stored: dict[str, str] = json.loads(row.properties or "{}")
    if PROP_INPUT in stored:  # written by an earlier wfkit
        return stored
    return {PROP_INPUT: row.input if row.input is not None else "null", **stored}
