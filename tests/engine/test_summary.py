"""The summary stored at each commit, and the properties read back from a stored row."""

from __future__ import annotations

import json

import pytest

from wfkit import parse_definition
from wfkit.engine.core.decide import advance
from wfkit.engine.core.history import (
    ExecutionStarted,
    Failure,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
)
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState, replay
from wfkit.engine.protocols import InstanceRow
from wfkit.engine.wire.summary import properties, stored_properties, update_for
from wfkit.errors import InstanceError

FLOW = """
wfkit: 1
name: flow
steps:
  a: {call: "m:a"}
  b: {call: "m:b", needs: [a]}
  c: {wait: go, needs: [a]}
"""


def _state(plan: WorkflowPlan, *new: HistoryEvent, parent: str | None = None) -> InstanceState:
    """The state of an instance after ``new`` events (each decided, as an engine would)."""
    started = ExecutionStarted(
        at=1.0, seq=1, name="flow", input={"k": 1}, definition_hash="h1", parent_id=parent
    )
    state = replay("i1", [started])
    advance(plan, state, [], now=1.0, owned=True)
    for event in new:
        advance(plan, state, [event], now=2.0)
    return state


def _row() -> InstanceRow:
    return InstanceRow("i1", "flow", "RUNNING", 1.0, 1.0, "h1", '{"k":1}', properties="")


@pytest.fixture
def plan() -> WorkflowPlan:
    return WorkflowPlan.of(parse_definition(FLOW))


def test_a_running_instance_reads_back_every_property(plan: WorkflowPlan) -> None:
    state = _state(plan, TaskCompleted(step="a", attempt=1, output=5), parent="p1")
    assert properties(plan, state) == {
        "dapr.workflow.input": '{"k":1}',
        "dapr.workflow.custom_status": "waiting for event 'go'",
        "wfkit.definition_hash": "h1",
        "wfkit.steps.total": "3",
        "wfkit.steps.pending": "0",
        "wfkit.steps.running": "1",
        "wfkit.steps.waiting": "1",
        "wfkit.steps.completed": "1",
        "wfkit.steps.failed": "0",
        "wfkit.steps.skipped": "0",
        "wfkit.steps.canceled": "0",
        "wfkit.steps.running_now": "b",
        "wfkit.steps.waiting_now": "c",
        "wfkit.paused_at": "",
        "wfkit.pause_reason": "",
        "wfkit.parent_id": "p1",
        "wfkit.failed_step": "",
        "wfkit.events_buffered": "0",
    }
    # what every commit writes is the changing part only, not the whole mapping
    stored = update_for(plan, state).properties or ""
    assert len(stored) < 60, stored


def test_a_failed_instance_reads_back_its_failure(plan: WorkflowPlan) -> None:
    failure = Failure("ValueError", "boom", "Traceback ...")
    state = _state(plan, TaskFailed(step="a", attempt=1, failure=failure))
    assert state.status.value == "FAILED"
    props = properties(plan, state)
    assert props["dapr.workflow.failure.error_type"] == "ValueError"
    assert props["dapr.workflow.failure.error_message"] == "step 'a' failed: boom"
    assert props["dapr.workflow.failure.stack_trace"] == "Traceback ..."
    assert props["wfkit.failed_step"] == "a"
    assert "dapr.workflow.output" not in props


def test_properties_stored_by_an_earlier_wfkit_are_read_as_they_are(plan: WorkflowPlan) -> None:
    row = _row()
    whole = {"dapr.workflow.input": '{"old":true}', "wfkit.steps.total": "3"}
    row.properties = json.dumps(whole)
    assert stored_properties(row) == whole
    without_input = {"wfkit.steps.total": "3"}
    row.properties = json.dumps(without_input)  # stored apart from the input, as in 0.x
    assert stored_properties(row) == {"dapr.workflow.input": '{"k":1}', **without_input}


def test_properties_stored_by_a_newer_wfkit_are_refused_clearly(plan: WorkflowPlan) -> None:
    row = _row()
    row.properties = "[99, 3]"
    with pytest.raises(InstanceError, match=r"newer wfkit.*upgrade wfkit"):
        stored_properties(row)


def test_a_wide_fan_out_names_five_running_steps_and_counts_the_rest() -> None:
    steps = "".join(f'  s{i}: {{call: "m:f"}}\n' for i in range(12))
    plan = WorkflowPlan.of(parse_definition(f"wfkit: 1\nname: flow\nsteps:\n{steps}"))
    state = _state(plan)
    update = update_for(plan, state)
    assert update.custom_status == "running s0, s1, s2, s3, s4 and 7 more"
    props = properties(plan, state)
    assert props["wfkit.steps.running_now"] == ",".join(f"s{i}" for i in range(12))  # all
    state = _state(plan, *[TaskCompleted(step=f"s{i}", attempt=1, output=i) for i in range(7)])
    assert update_for(plan, state).custom_status == "running s7, s8, s9, s10, s11"
