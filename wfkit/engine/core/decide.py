"""The pure core: from an instance's history and new events, what happens next.

``decide(plan, history, new_events)`` replays the history, folds in the new events and
then reacts until nothing more follows: a failed attempt becomes a retry timer or a
failed step, a fired timer wakes its step, a buffered event completes a waiting step
(:mod:`~wfkit.engine.core.failures`), ready steps start
(:mod:`~wfkit.engine.core.starting`), ``finally`` steps run, and the instance completes.
It returns the events to commit (numbered and timed, see
:mod:`~wfkit.engine.core.outbox`) and the side effects to perform after the commit.
No I/O, no clock (time comes from the events), no threads.

Pause points lie between steps: while suspended, results of running tasks are recorded,
but no step starts, no fired timer acts and no buffered event is consumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wfkit.common import jsontext
from wfkit.engine.core.actions import Action, actions_for
from wfkit.engine.core.evaluate import context_for, describe, render
from wfkit.engine.core.failures import consume_events, fire_timers, settle_failures
from wfkit.engine.core.history import (
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionSuspended,
    Failure,
    HistoryEvent,
    TaskAbandoned,
    TaskCompleted,
    TaskFailed,
)
from wfkit.engine.core.outbox import EventDraft, Incoming, Outbox
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.progress import Progress
from wfkit.engine.core.starting import failing_step, schedule
from wfkit.engine.core.state import InstanceState, replay
from wfkit.engine.core.status import TERMINAL_STATUSES, RuntimeStatus, StepStatus, TaskPhase
from wfkit.errors import OutputTooLarge

__all__ = ["Decision", "EventDraft", "advance", "decide"]

_MAX_ROUNDS = 10_000
_RUNNING, _COMPLETED, _FAILED = RuntimeStatus.RUNNING, RuntimeStatus.COMPLETED, RuntimeStatus.FAILED


@dataclass
class Decision:
    """The events to commit, in order, and the side effects to perform after the commit."""

    events: list[HistoryEvent]
    actions: list[Action]
    state: InstanceState


def decide(
    plan: WorkflowPlan,
    history: Sequence[HistoryEvent],
    new_events: Iterable[HistoryEvent],
    *,
    instance_id: str = "instance",
    now: float | None = None,
) -> Decision:
    """What follows ``new_events`` given ``history`` (pure: the history is not changed)."""
    state = replay(instance_id, history)
    return advance(plan, state, new_events, now=now)


def advance(
    plan: WorkflowPlan,
    state: InstanceState,
    new_events: Iterable[Incoming],
    *,
    now: float | None = None,
    owned: bool = False,
    max_foreach_items: int | None = None,
    max_output_bytes: int | None = None,
) -> Decision:
    """Like :func:`decide`, but folding into ``state`` in place (the engine's fast path).

    The new events are numbered and timed as they are folded in: an :class:`EventDraft`
    is built with its number, an event that carries it is kept as it is, and any other
    is copied once (events are frozen and never changed). ``owned`` is accepted for
    callers written when events were numbered in place; it changes nothing. A
    ``foreach`` of more than ``max_foreach_items`` items fails its step instead, and a
    workflow output over ``max_output_bytes`` of JSON fails the instance instead."""
    del owned
    incoming = list(new_events)
    if now is None:
        times = [e.at for e in incoming if isinstance(e, HistoryEvent)]
        now = max([*times, state.updated_at])
    out = Outbox(state, now, Progress.of(plan, state), max_foreach_items, max_output_bytes)
    for item in incoming:
        event = out.draft(item)
        if _accepts(state, event):
            out.emit(event)
    for _ in range(_MAX_ROUNDS):
        count = len(out.events)
        if state.derived is None:
            out.progress = Progress.of(plan, state)
        _react(plan, out)
        if len(out.events) == count:
            break
    return Decision(out.events, actions_for(plan, state, out.events), state)


def _accepts(state: InstanceState, event: HistoryEvent) -> bool:
    kind = type(event)
    if kind is TaskCompleted or kind is TaskFailed:  # most events: a task's result
        if state.status in TERMINAL_STATUSES and state.version > 0:
            return False
        return not _stale_result(state, event)  # type: ignore[arg-type]
    if isinstance(event, ExecutionRewound):
        return state.status is _FAILED
    if state.is_terminal and state.version > 0:
        return False
    if isinstance(event, ExecutionSuspended):
        return not state.suspended
    if isinstance(event, ExecutionResumed):
        return state.suspended
    if isinstance(event, TaskCompleted | TaskFailed):
        return not _stale_result(state, event)
    if isinstance(event, TaskAbandoned):
        return _in_flight(state, event)
    return True


def _in_flight(state: InstanceState, event: TaskAbandoned) -> bool:
    """Whether the attempt an abandonment names is still running (its result may have
    been recorded meanwhile, by an owner that was not dead after all)."""
    step = state.steps.get(event.step)
    if step is None or not step.tasks:
        return False
    index = 0 if event.index is None else event.index
    if index >= len(step.tasks):
        return False
    task = step.tasks[index]
    return task.phase is TaskPhase.RUNNING and task.attempt == event.attempt


def _stale_result(state: InstanceState, event: TaskCompleted | TaskFailed) -> bool:
    """A task result that the state would ignore: its task has already finished, or it
    is the result of another attempt (a late result from an owner that lost the
    instance, an abandoned attempt). It is not recorded, so that each attempt of each
    task has at most one result in the history."""
    step = state.steps.get(event.step)
    if step is None or not step.tasks:
        return False  # a failure before the step could start: recorded
    index = 0 if event.index is None else event.index
    if index >= len(step.tasks):
        return False
    task = step.tasks[index]
    return task.done or (task.attempt != 0 and task.attempt != event.attempt)


def _react(plan: WorkflowPlan, out: Outbox) -> None:
    state, progress = out.state, out.progress
    if state.status in TERMINAL_STATUSES:
        return
    # each guard is tested here, not in the function it guards: this runs twice a step
    if progress.failed_attempts:
        settle_failures(plan, out)
    if not state.suspended:
        if progress.fired:
            fire_timers(plan, out)
        if len(state.events) != len(state.consumed):
            consume_events(plan, out)
    failing = bool(progress.failing) and failing_step(plan, progress) is not None
    if not _phase_done(out.progress, False, failing):
        if not state.suspended and not failing:
            schedule(plan, out, False, _RUNNING)
        return
    outcome = _FAILED if failing else _COMPLETED
    if not _phase_done(out.progress, True, False):
        if not state.suspended:
            schedule(plan, out, True, outcome)
        return
    _complete(plan, out, outcome)


def _phase_done(progress: Progress, final: bool, failing: bool) -> bool:
    """Whether a phase is over: every step settled, or (when failing) no work running.

    A failing instance starts nothing new, lets running tasks and children finish, and
    abandons what only waits (events, sleeps, retry timers)."""
    if progress.unsettled[final] == 0:
        return True
    return failing and progress.running[final] == 0


def _complete(plan: WorkflowPlan, out: Outbox, outcome: RuntimeStatus) -> None:
    state = out.state
    failed_final = next((s for s in plan.final if state.step(s).status is StepStatus.FAILED), None)
    failed = failing_step(plan, out.progress) or failed_final
    if failed is not None:
        step = state.step(failed)
        cause = step.failure or Failure("Error", "")
        said = cause.message
        if not said.startswith(f"step {failed!r}"):  # say which step, once
            said = f"step {failed!r} failed: {said}"
        _end(out, _FAILED, failure=Failure(cause.type, said, cause.stack_trace))
        return
    template = plan.definition.output
    try:
        context = context_for(plan, state, template.steps if template else (), outcome, "")
        output = render(template, context, plan.budget)
    except Exception as exc:
        message = f"the workflow output could not be evaluated: {describe(exc)}"
        _end(out, _FAILED, failure=Failure("ExpressionError", message))
        return
    size = 0 if out.limit is None else jsontext.encoded_size(output)
    if out.limit is not None and size > out.limit:
        error = OutputTooLarge(state.instance_id, "", "the workflow's output", size, out.limit)
        _end(out, _FAILED, failure=Failure("OutputTooLarge", str(error)))
        return
    _end(out, _COMPLETED, output=output)


def _end(
    out: Outbox, status: RuntimeStatus, output: object = None, failure: Failure | None = None
) -> None:
    event = ExecutionCompleted(
        at=out.now, seq=out.seq, status=status, output=output, failure=failure
    )
    out.emit(event)
