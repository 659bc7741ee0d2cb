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

import json
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from wfkit.common import jsontext
from wfkit.definition.model import Definition, Step, WaitSpec
from wfkit.engine.core.history import Failure, HistoryEvent
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState, StepState
from wfkit.engine.core.status import TaskPhase
from wfkit.engine.wire.summary import custom_status
from wfkit.runtime.preview import clip, preview

if TYPE_CHECKING:
    from wfkit.graph.view import GraphView
    from wfkit.runtime.ownership import Ownership

__all__ = [
    "Failure",
    "InstanceSnapshot",
    "SnapshotBuilder",
    "StepSnapshot",
    "TaskSnapshot",
    "build_snapshot",
    "decode_failure",
]

_DONE = frozenset({"completed", "failed", "skipped", "canceled"})
_TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED", "CANCELED"})
_LIVE = frozenset({"running", "waiting"})
_REPR_WIDTH = 70
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


def decode_failure(text: str | None) -> Failure | None:
    """A stored failure (the JSON text of a store row) as a :class:`Failure`."""
    if not text:
        return None
    data = json.loads(text)
    return Failure(data["type"], data["message"], data.get("stack_trace", ""))


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """One task (a step, or one item of a foreach) that the events of a commit touched."""

    step: str
    index: int | None
    phase: str
    attempt: int
    failure: Failure | None = None
    lost: bool = False


@dataclass(frozen=True)
class StepSnapshot:
    """One step of an instance, as people want to see it.

    ``status`` is the step's own (``pending, running, waiting, completed, failed,
    skipped, canceled``); ``paused`` is True for the ``pause_before`` step at whose
    breakpoint the run is stopped (:attr:`shown` says ``paused`` then). ``failure`` is
    that of a step that failed (a step that completed after retries has none).
    ``duration`` runs to ``ended_at``, or to the snapshot's time while it runs.
    """

    id: str
    status: str
    output: Any = field(default=None, compare=False)
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    failure: Failure | None = None
    items: int | None = None
    details: dict[str, Any] | None = field(default=None, compare=False)
    kind: str = ""
    duration: float | None = None
    items_done: int = 0
    event: str | None = None
    is_finally: bool = False
    skip_reason: str | None = None
    paused: bool = False
    max_attempts: int | None = None
    """The retry policy's ``max_attempts`` (None: the step has no retry)."""

    @property
    def error(self) -> Failure | None:
        """The step's failure (the name :class:`StepInfo` always had)."""
        return self.failure

    @property
    def error_text(self) -> str:
        """``Type: message`` of the failure, or ""."""
        return f"{self.failure.type}: {self.failure.message}" if self.failure else ""

    @property
    def traceback(self) -> str:
        """The failure's stack trace, or ""."""
        return self.failure.stack_trace if self.failure else ""

    @property
    def shown(self) -> str:
        """The status a view shows: ``paused`` at a breakpoint, else :attr:`status`."""
        return "paused" if self.paused else self.status

    @property
    def done(self) -> bool:
        """The step will not change again (completed, failed, skipped or canceled)."""
        return self.status in _DONE

    @property
    def units(self) -> tuple[int, int]:
        """Progress of this step as ``(done, total)``: one unit, or one per foreach item."""
        total = max(1, self.items or 0)
        if self.done:
            return total, total
        return (min(self.items_done, total) if self.items else 0), total

    @property
    def preview(self) -> str:
        """The output in one short line."""
        return preview(self.output)

    def __repr__(self) -> str:
        # short, for a notebook showing instance.steps: the whole output is .output
        parts = [f"{self.id!r}", self.status]
        if self.output is not None:
            parts.append(f"output={preview(self.output, _REPR_WIDTH)}")
        if self.failure is not None:
            parts.append(f"error={clip(self.error_text, _REPR_WIDTH)}")
        if self.attempts > 1:
            parts.append(f"attempts={self.attempts}")
        if self.started_at is not None and self.ended_at is not None:
            parts.append(f"{self.ended_at - self.started_at:.2f} s")
        return f"<StepInfo {' '.join(parts)}>"


@dataclass(frozen=True)
class InstanceSnapshot:
    """A frozen snapshot of one instance, taken at ``as_of`` (seconds since the epoch).

    ``tasks`` holds the tasks that the events of the commit it was made for touched (by
    step and index) and ``child_steps`` the step of each child those events name: a
    hook reads what a commit did there, without the snapshot copying every task of a
    wide foreach. Both are empty in a snapshot read from the store.
    """

    instance_id: str
    name: str
    status: str
    steps: tuple[StepSnapshot, ...]
    definition_hash: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    as_of: float = 0.0
    suspend_reason: str | None = None
    """Why it is suspended (``pause``, ``breakpoint``, ``step``); None when it is not."""
    suspended_at_step: str | None = None
    single_step: bool = False
    failure: Failure | None = None
    version: int = 0
    parent_id: str | None = None
    parent_step: str | None = None
    custom_status: str = ""
    buffered_events: int = 0
    """Events raised and not yet consumed by a wait step."""
    owner: str = ""
    """Who runs it, read from the store (:mod:`wfkit.runtime.ownership`), e.g. ``no live
    owner: the lease of worker host:42 ran out 5 min ago; ...``; "" when not read (a
    snapshot made for a hook: this process runs it) or when the run has ended."""
    owner_state: str = ""
    """``owned``, ``lost``, ``unclaimed``, ``ended``, or "" when not read."""
    tasks: Mapping[tuple[str, int | None], TaskSnapshot] = field(
        default_factory=dict, repr=False, compare=False
    )
    child_steps: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    definition: Definition | None = field(default=None, repr=False, compare=False)

    def step(self, step_id: str) -> StepSnapshot:
        """The snapshot of one step; ``KeyError`` when there is no such step."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def task(self, step: str, index: int | None) -> TaskSnapshot | None:
        """A task the commit touched (None when it did not, or in a store read)."""
        return self.tasks.get((step, index))

    @property
    def is_terminal(self) -> bool:
        return self.status in _TERMINAL

    @property
    def suspended(self) -> bool:
        return self.suspend_reason is not None

    @property
    def paused_at(self) -> str | None:
        """The step at whose breakpoint the run is paused (None otherwise)."""
        return self.suspended_at_step if self.suspend_reason == "breakpoint" else None

    @property
    def error_text(self) -> str:
        """``Type: message`` of the instance's failure, or ""."""
        return f"{self.failure.type}: {self.failure.message}" if self.failure else ""

    @property
    def statuses(self) -> dict[str, str]:
        """Step id -> shown status (``paused`` included), for colouring the graph."""
        return {step.id: step.shown for step in self.steps}

    @property
    def steps_done(self) -> int:
        return sum(1 for step in self.steps if step.done)

    @property
    def progress(self) -> tuple[int, int]:
        """``(done, total)`` over every step, foreach items counted one by one."""
        units = [step.units for step in self.steps]
        return sum(done for done, _ in units), sum(total for _, total in units)

    @property
    def duration(self) -> float | None:
        """Seconds from the start to the end (or to ``as_of`` while it runs)."""
        if not self.created_at:
            return None
        end = self.updated_at if self.is_terminal else max(self.as_of, self.updated_at)
        return max(0.0, end - self.created_at)

    @property
    def waiting_events(self) -> tuple[str, ...]:
        """The events that wait steps are waiting for now."""
        return tuple(s.event for s in self.steps if s.event and s.status == "waiting")

    @property
    def expected_events(self) -> tuple[str, ...]:
        """Waiting events first, then those of wait steps that have not started yet."""
        later = (s.event for s in self.steps if s.event and s.status == "pending")
        return tuple(dict.fromkeys((*self.waiting_events, *later)))

    @property
    def layout_key(self) -> Hashable:
        """Changes exactly when the drawn graph must be laid out again."""
        counts = tuple((s.id, s.items) for s in self.steps if s.items is not None)
        return self.definition_hash, counts

    def graph(self) -> GraphView:
        """The definition's read-only graph, foreach steps labelled with their item
        counts once known (loads networkx)."""
        from wfkit.graph import build_view

        if self.definition is None:
            raise LookupError(f"the snapshot of {self.instance_id[:64]} has no definition")
        graph = build_view(self.definition)
        counts = {step.id: step.items for step in self.steps if step.items is not None}
        steps = tuple(
            replace(s, target=f"{s.target} ({counts[s.id]} items)") if s.id in counts else s
            for s in graph.steps
        )
        return replace(graph, steps=steps)


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
            if built.status in _LIVE:
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
    if step.tasks and (not foreach or scan_tasks or status in _DONE):
        details = next((t.details for t in reversed(step.tasks) if t.details), None)
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
        kind=spec.kind.value,
        duration=duration,
        items_done=step.count(TaskPhase.COMPLETED) + step.count(TaskPhase.FAILED) if foreach else 0,
        event=spec.target.event if isinstance(spec.target, WaitSpec) else None,
        is_finally=spec.is_finally,
        skip_reason=step.skip_reason,
        paused=paused and status == "pending",
        max_attempts=retry.max_attempts if retry is not None else None,
    )


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
