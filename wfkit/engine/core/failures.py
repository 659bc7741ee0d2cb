"""What wakes a task or ends it: failed attempts become retry timers or failed steps,
fired timers wake sleeps, retries and timeouts, and buffered events complete the waits.

Part of :func:`~wfkit.engine.core.decide.advance`: each function records its events in
the decision's :class:`~wfkit.engine.core.outbox.Outbox`.
"""

from __future__ import annotations

from wfkit.definition.model import Step, StepKind
from wfkit.engine.core.history import Failure, StepFailed, TaskCompleted, TaskFailed, TimerCreated
from wfkit.engine.core.instance import TaskState
from wfkit.engine.core.outbox import Outbox
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.starting import start_task
from wfkit.engine.core.status import TaskPhase, TimerPurpose

__all__ = ["NOT_RETRIED", "consume_events", "fire_timers", "settle_failures"]

NOT_RETRIED = frozenset({"ExpressionError", "ForeachTooWide", "Terminated"})
"""Failure types that no retry policy retries: trying again would fail the same way."""

_WAITING = TaskPhase.WAITING
_SLEEP, _RETRY, _TIMEOUT = TimerPurpose.SLEEP, TimerPurpose.RETRY, TimerPurpose.TIMEOUT


def settle_failures(plan: WorkflowPlan, out: Outbox) -> None:
    """Each failed attempt, in plan and item order, becomes a retry or a failed step."""
    if not out.progress.failed_attempts:
        return
    for sid in sorted(out.progress.failed_attempts, key=plan.order.__getitem__):
        step = out.state.steps[sid]
        for index in sorted(step.failed_attempts, key=lambda i: -1 if i is None else i):
            _retry_or_fail(plan, plan.spec(sid), step.task(index), out)


def _retry_or_fail(plan: WorkflowPlan, spec: Step, task: TaskState, out: Outbox) -> None:
    if task.lost:  # abandoned by a lost owner: run again now, outside the retry budget
        start_task(plan, out, spec, task.index, task.attempt + 1)
        return
    policy = spec.retry
    failure = task.failure
    retryable = failure is None or failure.type not in NOT_RETRIED
    tried = task.attempt - task.abandoned
    if policy is not None and retryable and tried < policy.max_attempts:
        delay = policy.delay(tried)
        first = task.first_at if task.first_at is not None else out.now
        limit = policy.retry_timeout.seconds if policy.retry_timeout else None
        if limit is None or out.now + delay - first <= limit:
            out.emit(
                TimerCreated(
                    at=out.now,
                    seq=out.seq,
                    fire_at=out.now + delay,
                    purpose=_RETRY,
                    step=spec.id,
                    index=task.index,
                    attempt=task.attempt + 1,
                )
            )
            return
    out.emit(StepFailed(at=out.now, seq=out.seq, step=spec.id, index=task.index))


def fire_timers(plan: WorkflowPlan, out: Outbox) -> None:
    """Act on the timers that fired: a timeout fails its attempt, a sleep completes, a
    retry starts the next attempt (timers of attempts that moved on do nothing)."""
    if not out.progress.fired:
        return
    state = out.state
    fired, out.progress.fired = sorted(out.progress.fired), set()
    for timer_id in fired:
        timer = state.timers[timer_id]
        step = state.steps.get(timer.step)
        if step is None or not step.tasks:
            continue
        task = step.task(timer.index)
        spec = plan.spec(timer.step)
        purpose = timer.purpose
        if purpose is _TIMEOUT and task.timeout_timer == timer.timer_id and not task.done:
            message = f"step {spec.id!r} timed out after {_timeout_seconds(spec)}"
            out.emit(
                TaskFailed(
                    at=out.now,
                    seq=out.seq,
                    step=spec.id,
                    index=task.index,
                    attempt=task.attempt,
                    failure=Failure("TimeoutError", message),
                )
            )
        elif task.timer != timer.timer_id:
            continue
        elif purpose is _SLEEP:
            out.emit(
                TaskCompleted(
                    at=out.now, seq=out.seq, step=spec.id, index=task.index, attempt=task.attempt
                )
            )
        elif purpose is _RETRY and task.phase is _WAITING:
            start_task(plan, out, spec, task.index, timer.attempt)


def _timeout_seconds(spec: Step) -> str:
    if spec.kind is StepKind.WAIT and spec.target.timeout is not None:
        return str(spec.target.timeout)
    return str(spec.timeout) if spec.timeout is not None else "its timeout"


def consume_events(plan: WorkflowPlan, out: Outbox) -> None:
    """Hand buffered events to the waits that wait for them, oldest event to the
    longest-waiting task; each event completes one wait."""
    state = out.state
    if len(state.events) == len(state.consumed):
        return
    buffered = state.buffered_events()
    if not buffered:
        return
    waiters: list[tuple[int, Step, TaskState]] = []
    for sid in plan.waits:
        step = state.steps.get(sid)
        if step is None:
            continue
        spec = plan.spec(sid)
        for task in step.tasks:
            if task.phase is _WAITING and task.timer is None:
                waiters.append((task.waiting_since, spec, task))
    taken: set[int] = set()
    for _, spec, task in sorted(waiters, key=lambda w: w[0]):
        for event in buffered:
            if event.seq not in taken and event.name.lower() == spec.target.event:
                taken.add(event.seq)
                out.emit(
                    TaskCompleted(
                        at=out.now,
                        seq=out.seq,
                        step=spec.id,
                        index=task.index,
                        attempt=task.attempt,
                        output=event.data,
                        event_seq=event.seq,
                    )
                )
                break
