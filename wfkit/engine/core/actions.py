"""Side effects that committed events call for, performed by the engine after a commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wfkit.definition.model import StepKind
from wfkit.engine.core.history import (
    ExecutionCompleted,
    ExecutionTerminated,
    Failure,
    HistoryEvent,
    SubOrchestrationInstanceCreated,
    TaskAbandoned,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
)
from wfkit.engine.core.plan import RUNNER_KINDS, WorkflowPlan
from wfkit.engine.core.state import InstanceState
from wfkit.engine.core.status import TaskPhase

__all__ = [
    "Action",
    "CancelTasks",
    "NotifyParent",
    "RunTask",
    "StartChild",
    "StartTimer",
    "TerminateChildren",
    "abandoned_tasks",
    "actions_for",
    "recovery_actions",
]


@dataclass(frozen=True)
class RunTask:
    """Hand one attempt of a call, shell or notebook step to the step runner."""

    step: str
    index: int | None
    attempt: int
    kind: str
    target: Any
    input: Any
    env: dict[str, str]
    timeout: float | None
    #: Where the step says it runs (``local``, ``dask``), or None: the engine's runner.
    runner: str | None = None
    resources: Mapping[str, float] | None = None


@dataclass(frozen=True)
class StartTimer:
    """Arrange for ``TimerFired(timer_id)`` at ``fire_at``."""

    timer_id: int
    fire_at: float


@dataclass(frozen=True)
class StartChild:
    """Start child instance ``child_id`` of workflow ``name`` with ``input``.

    ``pinned`` is the parent's map of pinned child definitions (name -> hash), or None
    for a run started before children were pinned (the child is then looked up by name).
    """

    child_id: str
    name: str
    input: Any
    step: str = ""
    pinned: Mapping[str, str] | None = None


@dataclass(frozen=True)
class CancelTasks:
    """Kill or abandon every running task of the instance."""


@dataclass(frozen=True)
class TerminateChildren:
    """Terminate these child instances (recursively)."""

    child_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class NotifyParent:
    """Tell the parent instance that this child finished."""

    parent_id: str
    child_id: str
    status: str
    output: Any
    failure: Failure | None


_RUNNER_KIND_NAMES = frozenset(kind.value for kind in RUNNER_KINDS)

Action = RunTask | StartTimer | StartChild | CancelTasks | TerminateChildren | NotifyParent


def actions_for(
    plan: WorkflowPlan, state: InstanceState, events: Iterable[HistoryEvent]
) -> list[Action]:
    """The side effects that committing ``events`` calls for."""
    actions: list[Action] = []
    for event in events:
        if isinstance(event, TaskScheduled) and event.kind in _RUNNER_KIND_NAMES:
            spec = plan.spec(event.step)
            timeout = spec.timeout.seconds if spec.timeout is not None else None
            target = spec.target
            actions.append(
                RunTask(
                    event.step,
                    event.index,
                    event.attempt,
                    event.kind,
                    target,
                    event.input,
                    dict(event.env or {}),
                    timeout,
                    spec.runner,
                    spec.resources,
                )
            )
        elif isinstance(event, TimerCreated):
            actions.append(StartTimer(event.seq, event.fire_at))
        elif isinstance(event, SubOrchestrationInstanceCreated):
            actions.append(
                StartChild(event.child_id, event.name, event.input, event.step, state.pinned)
            )
        elif isinstance(event, TaskFailed) and event.failure.type == "TimeoutError":
            child = state.step(event.step).task(event.index).child_id
            if child:
                actions.append(TerminateChildren((child,), "the parent step timed out"))
        elif isinstance(event, ExecutionTerminated):
            actions.append(CancelTasks())
            live = _live_children(state)
            if event.recursive and live:
                actions.append(TerminateChildren(live, event.reason or "parent terminated"))
        if isinstance(event, ExecutionCompleted | ExecutionTerminated) and state.parent_id:
            actions.append(
                NotifyParent(
                    state.parent_id,
                    state.instance_id,
                    state.status.value,
                    state.output,
                    state.failure,
                )
            )
    return actions


def _live_children(state: InstanceState) -> tuple[str, ...]:
    live = []
    for child_id, (sid, index) in state.children.items():
        task = state.step(sid).task(index)
        if task.child_id == child_id:
            live.append(child_id)
    return tuple(live)


def abandoned_tasks(
    plan: WorkflowPlan, state: InstanceState, owner: str, lost_at: float | None
) -> list[TaskAbandoned]:
    """For an instance just taken over: the attempts of call, shell and notebook steps
    that were running under the lost ``owner`` (scheduled, never answered). Recorded, they
    run again as their next attempts (at least once)."""
    if state.is_terminal:
        return []
    return [
        TaskAbandoned(
            step=sid, index=task.index, attempt=task.attempt, owner=owner, lost_at=lost_at
        )
        for sid, step in state.steps.items()
        if plan.spec(sid).kind in RUNNER_KINDS
        for task in step.tasks
        if task.phase is TaskPhase.RUNNING
    ]


def recovery_actions(plan: WorkflowPlan, state: InstanceState) -> list[Action]:
    """What must be set up again after a takeover: children being started and timers not
    yet fired (the tasks that were running are :func:`abandoned_tasks`, run again by the
    decider)."""
    if state.is_terminal:
        return []
    actions: list[Action] = []
    for sid, step in state.steps.items():
        spec = plan.spec(sid)
        for task in step.tasks:
            if task.phase is TaskPhase.RUNNING and spec.kind is StepKind.WORKFLOW and task.child_id:
                actions.append(
                    StartChild(task.child_id, spec.target, task.input, sid, state.pinned)
                )
    for timer in state.timers.values():
        if not timer.fired:
            actions.append(StartTimer(timer.timer_id, timer.fire_at))
    return actions
