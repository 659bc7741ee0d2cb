"""The state of one instance, folded from its history one event at a time.

:func:`apply` is the whole reducer: a table from event type to a small handler. It is
pure bookkeeping (no decisions, no I/O); :mod:`wfkit.engine.core.decide` reads the state to
choose what happens next. Replaying a history from the start always gives the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from wfkit.engine.core.history import (
    BreakpointSet,
    EventRaised,
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    Failure,
    HistoryEvent,
    StepFailed,
    StepSkipped,
    StepStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskAbandoned,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from wfkit.engine.core.instance import InstanceState, StepState, TaskState, TimerState
from wfkit.engine.core.status import (
    RuntimeStatus,
    StepStatus,
    SuspendReason,
    TaskPhase,
    TimerPurpose,
)

__all__ = ["InstanceState", "StepState", "TaskState", "TimerState", "apply", "replay"]


# members bound once: a class attribute of an enum costs about 0.1 µs to read
_RUNNING, _WAITING = TaskPhase.RUNNING, TaskPhase.WAITING
_FAILED_ATTEMPT = TaskPhase.FAILED_ATTEMPT
_COMPLETED, _FAILED = TaskPhase.COMPLETED, TaskPhase.FAILED
_SLEEP, _TIMEOUT = TimerPurpose.SLEEP, TimerPurpose.TIMEOUT

Handler = Callable[[InstanceState, Any], None]


def _started(state: InstanceState, event: ExecutionStarted) -> None:
    state.name = event.name
    state.input = event.input
    state.definition_hash = event.definition_hash
    state.parent_id = event.parent_id
    state.parent_step = event.parent_step
    state.pinned = event.pinned
    state.created_at = event.at
    state.status = RuntimeStatus.PENDING


def _suspended(state: InstanceState, event: ExecutionSuspended) -> None:
    if state.is_terminal:
        return
    state.suspended = True
    state.single_step = False
    state.suspend_reason = event.reason
    state.suspended_at_step = event.step
    state.status = RuntimeStatus.SUSPENDED


def _resumed(state: InstanceState, event: ExecutionResumed) -> None:
    if state.is_terminal or not state.suspended:
        return
    if state.suspend_reason == SuspendReason.BREAKPOINT and state.suspended_at_step:
        state.step(state.suspended_at_step).breakpoint_passed = True
    state.suspended = False
    state.suspend_reason = None
    state.suspended_at_step = None
    state.single_step = event.single_step
    state.status = RuntimeStatus.RUNNING


def _terminated(state: InstanceState, event: ExecutionTerminated) -> None:
    if state.is_terminal:
        return
    state.terminated = True
    state.suspended = False
    state.status = RuntimeStatus.TERMINATED
    state.failure = Failure("Terminated", event.reason or "the workflow was terminated")
    for step in state.steps.values():
        if not step.status.is_terminal:
            step.status = StepStatus.CANCELED
            step.ended_at = event.at


def _completed(state: InstanceState, event: ExecutionCompleted) -> None:
    state.status = RuntimeStatus(event.status)
    state.output = event.output
    if event.failure is not None:
        state.failure = event.failure
    state.suspended = False
    state.suspend_reason = state.suspended_at_step = None
    for step in state.steps.values():
        if not step.status.is_terminal:
            step.status = StepStatus.CANCELED
            step.ended_at = event.at


def _rewound(state: InstanceState, event: ExecutionRewound) -> None:
    """Failed and canceled steps start over; completed and skipped ones stay as they are."""
    state.rewinds += 1
    for sid in event.steps:
        old = state.steps.get(sid)
        if old is not None:
            state.steps[sid] = StepState(sid, breakpoint_passed=old.breakpoint_passed)
    state.status = RuntimeStatus.RUNNING
    state.failure = None
    state.output = None
    state.terminated = False
    state.suspended = False


def _breakpoint_set(state: InstanceState, event: BreakpointSet) -> None:
    if event.enabled:
        state.breakpoints.add(event.step)
        if event.step in state.steps:
            state.steps[event.step].breakpoint_passed = False
    else:
        state.breakpoints.discard(event.step)


def _step_started(state: InstanceState, event: StepStarted) -> None:
    step = state.step(event.step)
    step.items = event.items
    count = 1 if event.items is None else len(event.items)
    step.set_tasks([TaskState(None if event.items is None else i) for i in range(count)])
    step.status = StepStatus.RUNNING
    step.started_at = event.at
    if event.items == []:
        step.status = StepStatus.COMPLETED
        step.output = []
        step.ended_at = event.at


def _skipped(state: InstanceState, event: StepSkipped) -> None:
    step = state.step(event.step)
    step.status = StepStatus.SKIPPED
    step.skip_reason = event.reason
    step.output = None
    step.ended_at = event.at


def _task_started(state: InstanceState, sid: str, index: int | None, at: float) -> TaskState:
    """The task that an event starts. A step without ``when`` or ``foreach`` has no
    StepStarted event (it would say nothing): its first task event starts it."""
    step = state.step(sid)
    if not step.tasks:
        step.set_tasks([TaskState(None)])
        step.status = StepStatus.RUNNING
        step.started_at = at
    elif step.started_at is None:  # runs again after an abandoned attempt
        step.started_at = at
    return step.task(index)


def _scheduled(state: InstanceState, event: TaskScheduled) -> None:
    _mark_running(state)
    task = _task_started(state, event.step, event.index, event.at)
    step = state.steps[event.step]
    step.set_attempt(task, event.attempt)
    waits = event.kind == "wait"
    step.set_phase(task, _WAITING if waits else _RUNNING)
    task.lost = False
    task.timer = None
    task.started_at = event.at
    task.first_at = task.first_at if task.first_at is not None else event.at
    task.waiting_since = event.seq
    task.input = event.input
    task.env = event.env
    if waits:
        step.status = StepStatus.WAITING


def _task_completed(state: InstanceState, event: TaskCompleted) -> None:
    step = state.steps.get(event.step)
    if step is None or not step.tasks:
        return
    task = step.task(event.index)
    if task.done or task.attempt != event.attempt:
        return  # a late result of an abandoned attempt
    step.set_phase(task, _COMPLETED)
    task.output = event.output
    task.ended_at = event.at
    task.timer = task.timeout_timer = None
    task.details = event.details
    if event.event_seq is not None:
        state.consumed.add(event.event_seq)
    _settle_step(step, event.at)


def _task_failed(state: InstanceState, event: TaskFailed) -> None:
    step = state.step(event.step)
    if not step.tasks:  # failed before it could start (a bad when or foreach expression)
        step.set_tasks([TaskState(None)])
        step.started_at = event.at
    task = step.task(event.index)
    if task.done or (task.attempt and task.attempt != event.attempt):
        return
    step.set_attempt(task, task.attempt or event.attempt)
    step.set_phase(task, _FAILED_ATTEMPT)
    task.failure = event.failure
    task.ended_at = event.at
    task.timer = task.timeout_timer = None
    task.details = event.details
    if step.status is StepStatus.PENDING:
        step.status = StepStatus.RUNNING


def _task_abandoned(state: InstanceState, event: TaskAbandoned) -> None:
    """The attempt's owner was lost: the attempt ends here, and the decider runs the
    task again as the next attempt. The step's (and the task's) times start over, so
    that the run's duration is its own."""
    step = state.steps.get(event.step)
    if step is None or not step.tasks:
        return
    task = step.task(event.index)
    if task.phase is not _RUNNING or task.attempt != event.attempt:
        return
    step.set_phase(task, _FAILED_ATTEMPT)
    task.lost = True
    task.abandoned += 1
    task.ended_at = event.at
    if task.abandoned == task.attempt:  # no attempt really ran: the next one is the first
        task.first_at = None
    if step.items is None:
        step.started_at = None


def _timer_created(state: InstanceState, event: TimerCreated) -> None:
    purpose = TimerPurpose(event.purpose)  # a member, whoever made the event
    state.timers[event.seq] = TimerState(
        event.seq, event.fire_at, purpose, event.step, event.index, event.attempt
    )
    step = state.step(event.step)
    if purpose is _SLEEP:
        task = _task_started(state, event.step, event.index, event.at)
    elif not step.tasks:
        return
    else:
        task = step.task(event.index)
    if purpose is _TIMEOUT:
        task.timeout_timer = event.seq
        return
    task.timer = event.seq
    step.set_phase(task, _WAITING)
    if purpose is _SLEEP:
        _mark_running(state)
        step.set_attempt(task, event.attempt)
        task.started_at = event.at
        task.first_at = task.first_at if task.first_at is not None else event.at
        step.status = StepStatus.WAITING


def _timer_fired(state: InstanceState, event: TimerFired) -> None:
    timer = state.timers.get(event.timer_id)
    if timer is not None:
        timer.fired = True


def _event_raised(state: InstanceState, event: EventRaised) -> None:
    state.events.append(event)


def _child_created(state: InstanceState, event: SubOrchestrationInstanceCreated) -> None:
    _mark_running(state)
    state.children[event.child_id] = (event.step, event.index)
    task = _task_started(state, event.step, event.index, event.at)
    step = state.steps[event.step]
    step.set_attempt(task, event.attempt)
    step.set_phase(task, _RUNNING)
    task.child_id = event.child_id
    task.input = event.input
    task.started_at = event.at
    task.first_at = task.first_at if task.first_at is not None else event.at


def _child_task(state: InstanceState, child_id: str) -> tuple[StepState, TaskState] | None:
    """The step and task that started child ``child_id``, while the task waits for it."""
    where = state.children.get(child_id)
    if where is None:
        return None
    step = state.step(where[0])
    task = step.task(where[1])
    if task.done or task.child_id != child_id:
        return None
    return step, task


def _child_completed(state: InstanceState, event: SubOrchestrationInstanceCompleted) -> None:
    found = _child_task(state, event.child_id)
    if found is None:
        return
    step, task = found
    step.set_phase(task, _COMPLETED)
    task.output = event.output
    task.ended_at = event.at
    _settle_step(step, event.at)


def _child_failed(state: InstanceState, event: SubOrchestrationInstanceFailed) -> None:
    found = _child_task(state, event.child_id)
    if found is None:
        return
    step, task = found
    step.set_phase(task, _FAILED_ATTEMPT)
    task.failure = event.failure
    task.ended_at = event.at


def _mark_running(state: InstanceState) -> None:
    if state.status is RuntimeStatus.PENDING:
        state.status = RuntimeStatus.RUNNING


def _settle_step(step: StepState, at: float) -> None:
    """Complete a step once every task of it has completed."""
    if step.count(_COMPLETED) == len(step.tasks):
        step.status = StepStatus.COMPLETED
        step.ended_at = at
        if step.items is None:
            step.output = step.tasks[0].output
        else:
            step.output = [t.output for t in step.tasks]
    elif step.status is StepStatus.WAITING and not step.count(_WAITING):
        step.status = StepStatus.RUNNING


def _step_failed(state: InstanceState, event: StepFailed) -> None:
    step = state.step(event.step)
    task = step.task(event.index)
    step.set_phase(task, _FAILED)
    task.timer = task.timeout_timer = None
    step.status = StepStatus.FAILED
    step.failure = task.failure
    step.ended_at = event.at


_HANDLERS: dict[type[HistoryEvent], Handler] = {
    ExecutionStarted: _started,
    ExecutionRewound: _rewound,
    BreakpointSet: _breakpoint_set,
    ExecutionSuspended: _suspended,
    ExecutionResumed: _resumed,
    ExecutionTerminated: _terminated,
    ExecutionCompleted: _completed,
    StepStarted: _step_started,
    StepSkipped: _skipped,
    StepFailed: _step_failed,
    TaskScheduled: _scheduled,
    TaskCompleted: _task_completed,
    TaskFailed: _task_failed,
    TaskAbandoned: _task_abandoned,
    TimerCreated: _timer_created,
    TimerFired: _timer_fired,
    EventRaised: _event_raised,
    SubOrchestrationInstanceCreated: _child_created,
    SubOrchestrationInstanceCompleted: _child_completed,
    SubOrchestrationInstanceFailed: _child_failed,
}


def apply(state: InstanceState, event: HistoryEvent) -> None:
    """Fold one event into ``state`` (in place)."""
    _HANDLERS[type(event)](state, event)
    if event.seq > state.version:
        state.version = event.seq
    if event.at > state.updated_at:
        state.updated_at = event.at


def replay(instance_id: str, history: Iterable[HistoryEvent]) -> InstanceState:
    """The state after every event of ``history``."""
    state = InstanceState(instance_id)
    for event in history:
        apply(state, event)
    return state
