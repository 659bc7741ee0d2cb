"""One frozen read model of an instance: what every reader above the runtime sees.

:class:`InstanceSnapshot` (with one :class:`StepSnapshot` per step) is an instance as
people, widgets, the CLI, hooks and the HTTP server see it, at one moment: its status,
times and owner, each step's status, attempts, timings, output and failure (decoded: a
:class:`Failure`, never JSON text), the events its wait steps wait for, where it is
paused, progress counters and the definition (for its graph). Nothing in it changes,
and nothing above the runtime reads the engine's live ``InstanceState`` or plan.

:class:`SnapshotBuilder` makes snapshots of one instance from the engine's plan and
state. Hooks are called at every commit: given the events of the commit, it builds again
only the steps those events touched (and those still running, whose durations grow), so
a snapshot per commit costs the same however wide a ``foreach`` is and however many
steps the definition has settled. It lives here, not in the engine, because it reads
the plan's step definitions and the store's owner record: the engine hands hooks what
it has, and the runtime wraps the hooks it is given to hand them snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from wfkit.common import jsontext
from wfkit.definition.model import Step, WaitSpec
from wfkit.engine.core.history import Failure, HistoryEvent
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState, StepState
from wfkit.engine.core.status import TaskPhase
from wfkit.engine.wire.summary import custom_status
from wfkit.runtime.snapshot_records import (
    DONE_STEPS,
    LIVE_STEPS,
    RAN_ON,
    InstanceSnapshot,
    StepSnapshot,
    TaskSnapshot,
    decode_failure,
)

if TYPE_CHECKING:
    from wfkit.runtime.ownership import Ownership

#: Events after which every step is built again: they change steps they do not name.
_EVERY_STEP = frozenset(
    {
        "ExecutionStarted",
        "ExecutionCompleted",
        "ExecutionTerminated",
        "ExecutionRewound",
        "ExecutionSuspended",
        "ExecutionResumed",
    }
)

__all__ = [
    "Failure",
    "InstanceSnapshot",
    "SnapshotBuilder",
    "StepSnapshot",
    "TaskSnapshot",
    "build_snapshot",
    "decode_failure",
]


class SnapshotBuilder:
    """Makes snapshots of one instance, reusing the steps a commit did not touch.

    Not thread-safe: the engine calls hooks of one instance one commit at a time.
    """

    def __init__(self) -> None:
        self._state: InstanceState | None = None
        self._plan: WorkflowPlan | None = None
        self._steps: dict[str, StepSnapshot] = {}
        self._live: set[str] = set()  # steps running or waiting: their durations grow

    def build(
        self,
        plan: WorkflowPlan,
        state: InstanceState,
        events: Iterable[HistoryEvent] | None = None,
        *,
        now: float | None = None,
        ownership: Ownership | None = None,
        scan_tasks: bool = False,
    ) -> InstanceSnapshot:
        """A snapshot of ``state`` (call it where the state cannot change meanwhile).

        ``events``: those just folded into the same ``state`` as last time, for building
        again only the steps they touched (None: build every step). ``scan_tasks`` also
        looks through a running foreach's tasks for the latest details (a store read
        done once, never a per-commit snapshot)."""
        now = time.time() if now is None else now
        listed = None if events is None else list(events)
        touched = self._touched(plan, state, listed)
        paused_at = state.suspended_at_step if state.suspend_reason == "breakpoint" else None
        for sid in touched:
            found = state.steps.get(sid)
            step = found or StepState(sid, state.step_status(sid))
            built = _step_snapshot(plan.spec(sid), step, sid == paused_at, now, scan_tasks)
            self._steps[sid] = built
            if built.status in LIVE_STEPS:
                self._live.add(sid)
            else:
                self._live.discard(sid)
        self._state, self._plan = state, plan
        steps = self._steps
        return InstanceSnapshot(
            instance_id=state.instance_id,
            name=state.name or plan.definition.name,
            status=state.status.value,
            steps=tuple(map(steps.__getitem__, plan.order)),
            definition_hash=state.definition_hash,
            created_at=state.created_at,
            updated_at=state.updated_at,
            as_of=now,
            suspend_reason=state.suspend_reason if state.suspended else None,
            suspended_at_step=state.suspended_at_step if state.suspended else None,
            single_step=state.single_step,
            failure=state.failure,
            version=state.version,
            parent_id=state.parent_id,
            parent_step=state.parent_step,
            custom_status=custom_status(plan, state),
            buffered_events=len(state.events) - len(state.consumed),
            owner=ownership.describe() if ownership is not None else "",
            owner_state=ownership.state if ownership is not None else "",
            tasks=_tasks(state, listed or ()),
            child_steps=_child_steps(state, listed or ()),
            definition=plan.definition,
        )

    def _touched(
        self, plan: WorkflowPlan, state: InstanceState, events: list[HistoryEvent] | None
    ) -> Iterable[str]:
        """The steps to build again: every one, or those the events touched and those
        still running."""
        if (
            events is None
            or state is not self._state
            or plan is not self._plan
            or any(event.TYPE in _EVERY_STEP for event in events)
        ):
            self._steps.clear()
            self._live.clear()
            return plan.order
        found = set(self._live)
        for event in events:
            sid = _step_of(state, event)
            if sid is not None and sid in plan.order:
                found.add(sid)
        return found


def _step_of(state: InstanceState, event: HistoryEvent) -> str | None:
    step = getattr(event, "step", None)
    if isinstance(step, str):
        return step
    child = getattr(event, "child_id", None)
    if isinstance(child, str):
        where = state.children.get(child)
        return where[0] if where else None
    timer_id = getattr(event, "timer_id", None)
    if isinstance(timer_id, int):
        timer = state.timers.get(timer_id)
        return timer.step if timer else None
    return None


def _step_snapshot(
    spec: Step, step: StepState, paused: bool, now: float, scan_tasks: bool
) -> StepSnapshot:
    # built at every commit a hook hears of: nothing here may scan a running foreach
    status = step.status.value
    failure = None
    if status == "failed":
        failure = step.failure or next((t.failure for t in step.tasks if t.failure), None)
    duration = None
    if step.started_at is not None:
        duration = max(0.0, (step.ended_at if step.ended_at is not None else now) - step.started_at)
    foreach = step.items is not None
    details = None
    places: tuple[str, ...] = ()
    if step.tasks and (not foreach or scan_tasks or status in DONE_STEPS):
        details = next((t.details for t in reversed(step.tasks) if t.details), None)
        places = _places(step) if foreach else ()
    retry = spec.retry
    return StepSnapshot(
        id=step.id,
        status=status,
        output=jsontext.shortened(step.output),
        attempts=step.attempts,
        started_at=step.started_at,
        ended_at=step.ended_at,
        failure=failure,
        items=len(step.items) if step.items is not None else None,
        details=details,
        places=places,
        kind=spec.kind.value,
        duration=duration,
        items_done=step.count(TaskPhase.COMPLETED) + step.count(TaskPhase.FAILED) if foreach else 0,
        event=spec.target.event if isinstance(spec.target, WaitSpec) else None,
        is_finally=spec.is_finally,
        skip_reason=step.skip_reason,
        paused=paused and status == "pending",
        max_attempts=retry.max_attempts if retry is not None else None,
    )


def _places(step: StepState) -> tuple[str, ...]:
    """Every Dask worker a foreach's items ran on, in the order first seen: one pass
    over its tasks, made where the latest details are looked for too (never at a
    per-commit snapshot of a running foreach)."""
    seen: dict[str, None] = {}
    for task in step.tasks:
        where = task.details.get(RAN_ON) if task.details else None
        if isinstance(where, str):
            seen[where] = None
    return tuple(seen)


def _tasks(
    state: InstanceState, events: Iterable[HistoryEvent]
) -> dict[tuple[str, int | None], TaskSnapshot]:
    found: dict[tuple[str, int | None], TaskSnapshot] = {}
    for event in events:
        sid = _step_of(state, event)
        step = state.steps.get(sid) if sid is not None else None
        if step is None or not step.tasks:
            continue
        index = getattr(event, "index", None)
        if index is None and hasattr(event, "child_id"):
            index = state.children.get(event.child_id, (sid, None))[1]
        if not isinstance(index, int | None) or (index or 0) >= len(step.tasks):
            continue
        task = step.task(index)
        found[(step.id, index)] = TaskSnapshot(
            step.id, index, task.phase, task.attempt, task.failure, task.lost
        )
    return found


def _child_steps(state: InstanceState, events: Iterable[HistoryEvent]) -> dict[str, str]:
    found: dict[str, str] = {}
    for event in events:
        child = getattr(event, "child_id", None)
        if isinstance(child, str) and child in state.children:
            found[child] = state.children[child][0]
    return found


def build_snapshot(
    plan: WorkflowPlan, state: InstanceState, *, now: float | None = None
) -> InstanceSnapshot:
    """A snapshot of ``state`` with every step built (where the state cannot change
    meanwhile: a hook, or a state of one's own)."""
    return SnapshotBuilder().build(plan, state, now=now)
