"""What ``wfkit worker`` prints by default: :class:`OperatorLines`, one line per thing an
operator cares about (instances picked up and ended, steps completed, skipped, failed,
retried or waiting, pauses), made from the events a commit brings and the instance's
snapshot after it. :mod:`wfkit.cli.worker_log` writes them.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from wfkit.cli.show import raise_event_hint
from wfkit.definition.durations import format_seconds
from wfkit.runtime.preview import clip

if TYPE_CHECKING:
    from wfkit.runtime.events import (
        BreakpointSet,
        EventRaised,
        ExecutionCompleted,
        ExecutionResumed,
        ExecutionRewound,
        ExecutionSuspended,
        ExecutionTerminated,
        HistoryEvent,
        StepFailed,
        StepSkipped,
        StepStarted,
        SubOrchestrationInstanceCompleted,
        TaskAbandoned,
        TaskScheduled,
        TimerCreated,
    )
    from wfkit.runtime.snapshot import Failure, InstanceSnapshot, StepSnapshot, TaskSnapshot

__all__ = ["OperatorLines", "clock", "failure_text"]


def clock(seconds: float) -> str:
    """``HH:MM:SS`` in local time: what a person watching a worker wants to read."""
    return datetime.fromtimestamp(seconds).strftime("%H:%M:%S")


def failure_text(failure: Failure | None, width: int = 160) -> str:
    """``Type: message``, only the message's first line, clipped to ``width`` characters."""
    if failure is None:
        return "no details"
    lines = failure.message.strip().splitlines()
    return clip(f"{failure.type}: {lines[0]}" if lines else failure.type, width)


@dataclass
class _Batch:
    """What the handlers of :class:`OperatorLines` read about one hook call."""

    instance_id: str
    snapshot: InstanceSnapshot
    told: set[tuple[str, str]]  # (what, step) said once already: ("done", "x"), ("wait", "x")
    events: Sequence[HistoryEvent] = ()  # every event of the commit, in order

    def once(self, what: str, step: str) -> bool:
        """True the first time ``what`` is said about ``step`` for this instance."""
        if (what, step) in self.told:
            return False
        self.told.add((what, step))
        return True

    def step(self, step: str) -> StepSnapshot | None:
        """The snapshot of one step (None: not a step of the definition)."""
        try:
            return self.snapshot.step(step)
        except KeyError:
            return None

    def task(self, step: str, index: int | None) -> TaskSnapshot | None:
        """One task of a step that the commit touched."""
        return self.snapshot.task(step, index)


def _label(step: str, index: int | None) -> str:
    return step if index is None else f"{step}[{index}]"


def _step_done(batch: _Batch, step_id: str | None) -> str | None:
    """``step x completed (24 tasks, 1.20s)``, once, when the whole step has completed."""
    if not step_id:
        return None
    step = batch.step(step_id)
    if step is None or step.status != "completed" or not batch.once("done", step_id):
        return None
    extent = []
    if step.items is not None:
        extent.append(f"{step.items} task{'' if step.items == 1 else 's'}")
    if step.started_at is not None and step.ended_at is not None:
        extent.append(format_seconds(step.ended_at - step.started_at))
    return f"step {step_id} completed" + (f" ({', '.join(extent)})" if extent else "")


def _on_task_completed(batch: _Batch, event: Any) -> str | None:
    return _step_done(batch, event.step)


def _on_child_completed(batch: _Batch, event: SubOrchestrationInstanceCompleted) -> str | None:
    return _step_done(batch, batch.snapshot.child_steps.get(event.child_id))


def _on_step_started(batch: _Batch, event: StepStarted) -> str | None:
    return _step_done(batch, event.step)  # an empty foreach completes as it starts


def _still_waits(batch: _Batch, event: TaskScheduled) -> bool:
    """Whether the wait task ``event`` scheduled still waits after the commit (an event
    sent before may have completed it in the same commit)."""
    task = batch.task(event.step, event.index)
    return task is not None and task.phase == "waiting"


def _on_task_scheduled(batch: _Batch, event: TaskScheduled) -> str | None:
    if event.kind != "wait" or not _still_waits(batch, event):
        return None
    if not batch.once("wait", event.step):
        return None
    step = batch.step(event.step)
    if step is None or step.event is None:
        return f"step {event.step} waits for an event (wfkit get {batch.instance_id} says which)"
    return "step " + raise_event_hint(batch.instance_id, event.step, step.event)


def _on_timer_created(batch: _Batch, event: TimerCreated) -> str | None:
    if event.purpose == "sleep" and batch.once("sleep", event.step):
        return f"step {event.step} sleeps until {clock(event.fire_at)}"
    if event.purpose != "retry":
        return None
    step = batch.step(event.step)
    of = f" of {step.max_attempts}" if step is not None and step.max_attempts else ""
    task = batch.task(event.step, event.index)
    failure = failure_text(task.failure if task else None)
    return (
        f"step {_label(event.step, event.index)} attempt {event.attempt - 1}{of} failed: "
        f"{failure}; attempt {event.attempt} at {clock(event.fire_at)}"
    )


def _on_task_abandoned(batch: _Batch, event: TaskAbandoned) -> str:
    owner = f"its owner {clip(event.owner, 60)}" if event.owner else "its owner"
    when = f" at {clock(event.lost_at)}" if event.lost_at is not None else ""
    return (
        f"step {_label(event.step, event.index)} attempt {event.attempt} was abandoned: "
        f"{owner} was lost{when}; it runs again as attempt {event.attempt + 1}"
    )


def _on_step_failed(batch: _Batch, event: StepFailed) -> str:
    task = batch.task(event.step, event.index)
    tries = f" after {task.attempt} attempts" if task is not None and task.attempt > 1 else ""
    failure = failure_text(task.failure if task else None)
    return f"step {_label(event.step, event.index)} failed{tries}: {failure}"


def _on_step_skipped(batch: _Batch, event: StepSkipped) -> str:
    why = "its when is false" if event.reason == "when" else event.reason
    return f"step {event.step} skipped ({why})"


def _on_suspended(batch: _Batch, event: ExecutionSuspended) -> str:
    go_on = f"go on with: wfkit resume {shlex.quote(batch.instance_id)}"
    if event.reason == "breakpoint":
        return f"breakpoint before step {event.step} reached: paused; {go_on}"
    if event.reason == "step":  # committed as the steps start, not once they ended
        return f"{_running_then_paused(_started_before(batch, event))}; {go_on}"
    return f"paused; {go_on}"


def _starts_work(event: HistoryEvent) -> bool:
    """Whether ``event`` starts a step, or a task of one (a sleep step starts with its
    timer, a workflow step with its child)."""
    if event.TYPE == "TimerCreated":
        return bool(getattr(event, "purpose", "") == "sleep")
    return event.TYPE in ("StepStarted", "TaskScheduled", "SubOrchestrationInstanceCreated")


def _started_before(batch: _Batch, suspended: HistoryEvent) -> list[str]:
    """The steps that events of the commit before ``suspended`` started, in order."""
    steps: list[str] = []
    for event in batch.events:
        if event is suspended:
            break
        step = getattr(event, "step", "")
        if _starts_work(event) and step and step not in steps:
            steps.append(step)
    return steps


def _running_then_paused(steps: list[str]) -> str:
    """``running step x, then paused`` (after ``wfkit resume --step``)."""
    if not steps:
        return "running the next ready steps, then paused"
    noun = "step" if len(steps) == 1 else "steps"
    return f"running {noun} {', '.join(steps)}, then paused"


def _on_resumed(batch: _Batch, event: ExecutionResumed) -> str:
    return "resumed to run the next ready steps, then pause" if event.single_step else "resumed"


def _on_breakpoint_set(batch: _Batch, event: BreakpointSet) -> str:
    return f"breakpoint before step {event.step} {'set' if event.enabled else 'cleared'}"


def _on_rewound(batch: _Batch, event: ExecutionRewound) -> str:
    return f"retried: {', '.join(event.steps) or 'no step'} run again"


def _on_event_raised(batch: _Batch, event: EventRaised) -> str:
    return f"event {event.name!r} arrived"


def _ended(batch: _Batch, event: HistoryEvent, status: str, why: str) -> str:
    """``COMPLETED in 1.20s``, ``FAILED in 0.50s: ValueError: ...``: the instance's end."""
    created = batch.snapshot.created_at
    line = f"{status} in {format_seconds(max(0.0, event.at - created))}" if created else status
    return f"{line}: {why}" if why else line


def _on_completed(batch: _Batch, event: ExecutionCompleted) -> str:
    return _ended(batch, event, event.status, failure_text(event.failure) if event.failure else "")


def _on_terminated(batch: _Batch, event: ExecutionTerminated) -> str:
    return _ended(batch, event, "TERMINATED", event.reason)


_Handler = Callable[[_Batch, Any], str | None]

#: What the default output says about each event type; the types missing here say nothing
#: themselves (a task scheduled or failed, a timer fired, a child started or failed): the
#: lines above say what they led to.
_OPERATOR_HANDLERS: dict[str, _Handler] = {
    "TaskCompleted": _on_task_completed,
    "SubOrchestrationInstanceCompleted": _on_child_completed,
    "StepStarted": _on_step_started,
    "TaskScheduled": _on_task_scheduled,
    "TimerCreated": _on_timer_created,
    "StepFailed": _on_step_failed,
    "TaskAbandoned": _on_task_abandoned,
    "StepSkipped": _on_step_skipped,
    "ExecutionSuspended": _on_suspended,
    "ExecutionResumed": _on_resumed,
    "BreakpointSet": _on_breakpoint_set,
    "ExecutionRewound": _on_rewound,
    "EventRaised": _on_event_raised,
    "ExecutionCompleted": _on_completed,
    "ExecutionTerminated": _on_terminated,
}


def _taken_up(state: InstanceSnapshot, first: HistoryEvent | None) -> str:
    """How an instance came to this worker: started here, or picked up from the store
    (new, or with a history: released by a worker that stopped or crashed, retried)."""
    if first is not None and first.TYPE == "ExecutionStarted":
        if state.parent_id:
            return f"started, as a child of {state.parent_id} (step {state.parent_step})"
        return "started"
    recorded = first.seq - 1 if first is not None else state.version
    if recorded <= 1:  # nothing before but its ExecutionStarted
        return "picked up"
    return f"picked up ({recorded} events already recorded)"


class OperatorLines:
    """What ``wfkit worker`` prints by default: one line per thing an operator cares
    about, not per event.

    An instance started or picked up (at once, with how many events it had); a step
    completed (once, however many foreach tasks it has), skipped, failed (with its
    failure's first line) or retried (attempt n of m, and when); a step that waits for an
    event (with the ``wfkit raise-event`` command; not when an event sent before ends the
    wait in the same commit) or sleeps; a pause, a resume, a breakpoint; an event
    arriving; the instance's end, with its status and duration.

    It reads the snapshot each hook call brings (the event a wait step waits for, a
    step's number of attempts, the tasks the commit touched are all in it), and
    remembers per instance only what it said once already (forgotten when the instance
    ends). Not thread-safe: :class:`WorkerLog` holds a lock around it.
    """

    def __init__(self) -> None:
        self.told: dict[str, set[tuple[str, str]]] = {}

    def lines(
        self, instance_id: str, events: Sequence[HistoryEvent], state: InstanceSnapshot
    ) -> list[str]:
        """The lines for one hook call: ``events`` just committed, ``state`` after them."""
        said: list[tuple[float, str]] = []
        told = self.told.get(instance_id)
        if told is None:
            told = self.told[instance_id] = set()
            first = events[0] if events else None  # none: claimed, nothing committed yet
            said.append((first.at if first else time.time(), _taken_up(state, first)))
        batch = _Batch(instance_id, state, told, events)
        for event in events:
            handler = _OPERATOR_HANDLERS.get(event.TYPE)
            text = handler(batch, event) if handler is not None else None
            if text:
                said.append((event.at, text))
        if state.is_terminal:
            del self.told[instance_id]  # a long-running worker keeps no memory of it
        where = f"{instance_id} {state.name}" if state.name else instance_id
        return [f"{clock(at)} {where}: {text}" for at, text in said]
