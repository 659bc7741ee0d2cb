"""The pure core: from an instance's history and new events, what happens next.

``decide(plan, history, new_events)`` replays the history, folds in the new events and
then reacts until nothing more follows: a failed attempt becomes a retry timer or a
failed step, a fired timer wakes its step, a buffered event completes a waiting step,
ready steps start, ``finally`` steps run, and the instance completes. It returns the
events to commit (numbered and timed) and the side effects to perform after the commit.
No I/O, no clock (time comes from the events), no threads.

Pause points lie between steps: while suspended, results of running tasks are recorded,
but no step starts, no fired timer acts and no buffered event is consumed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from wfkit.common import jsontext
from wfkit.definition.model import OnError, Step, StepKind
from wfkit.engine.core.actions import Action, actions_for
from wfkit.engine.core.evaluate import context_for, describe, env_text, json_type, render, truthy
from wfkit.engine.core.history import (
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionRewound,
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
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.progress import Progress
from wfkit.engine.core.state import InstanceState, TaskState, apply, replay
from wfkit.engine.core.status import TERMINAL_STATUSES, RuntimeStatus, StepStatus
from wfkit.errors import ForeachTooWide, OutputTooLarge

__all__ = ["Decision", "advance", "decide"]

NOT_RETRIED = frozenset({"ExpressionError", "ForeachTooWide", "Terminated"})
_MAX_ROUNDS = 10_000


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


class _Out:
    """Collects derived events, numbering them and folding each into the state at once."""

    __slots__ = ("events", "limit", "max_items", "now", "progress", "state")

    def __init__(
        self,
        state: InstanceState,
        now: float,
        progress: Progress,
        max_items: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.state = state
        self.now = now
        self.progress = progress
        self.max_items = max_items  # the widest foreach allowed
        self.limit = limit  # the largest workflow output, in bytes of JSON
        self.events: list[HistoryEvent] = []

    def emit(self, event: HistoryEvent) -> None:
        object.__setattr__(event, "seq", self.state.version + 1)  # events are fresh here
        if not event.at:
            object.__setattr__(event, "at", self.now)
        apply(self.state, event)
        self.events.append(event)
        self._touch(event)

    def _touch(self, event: HistoryEvent) -> None:
        state, progress = self.state, self.progress
        how = _TOUCHES.get(type(event), _STEP)
        if how == _STEP:
            sid = getattr(event, "step", None)
        elif how == _EVERYTHING:
            if not (isinstance(event, ExecutionCompleted) and event.status == "COMPLETED"):
                # steps were canceled or reset: rebuilt when needed (a completed run
                # leaves every step as it was, all settled)
                state.derived = None
            return
        elif how == _TIMER:
            progress.fired.add(event.timer_id)  # type: ignore[attr-defined]
            return
        else:  # a child's end: the step that started it
            where = state.children.get(event.child_id)  # type: ignore[attr-defined]
            sid = where[0] if where else None
        if sid:
            progress.touch(state, sid)


# What an event changes in the counters (_Out._touch): its step (the default), every step,
# a timer, or the step of a child instance.
_STEP, _EVERYTHING, _TIMER, _CHILD = range(4)
_TOUCHES: dict[type[HistoryEvent], int] = {
    ExecutionCompleted: _EVERYTHING,
    ExecutionTerminated: _EVERYTHING,
    ExecutionRewound: _EVERYTHING,
    TimerFired: _TIMER,
    SubOrchestrationInstanceCompleted: _CHILD,
    SubOrchestrationInstanceFailed: _CHILD,
}


def advance(
    plan: WorkflowPlan,
    state: InstanceState,
    new_events: Iterable[HistoryEvent],
    *,
    now: float | None = None,
    owned: bool = False,
    max_foreach_items: int | None = None,
    max_output_bytes: int | None = None,
) -> Decision:
    """Like :func:`decide`, but folding into ``state`` in place (the engine's fast path).

    The new events are numbered and timed as they are folded in: copies of them, unless
    ``owned`` says that the caller made them for this call and keeps no other use. A
    ``foreach`` of more than ``max_foreach_items`` items fails its step instead, and a
    workflow output over ``max_output_bytes`` of JSON fails the instance instead."""
    incoming = list(new_events) if owned else [replace(e) for e in new_events]
    clock = now if now is not None else max([e.at for e in incoming] + [state.updated_at])
    out = _Out(state, clock, Progress.of(plan, state), max_foreach_items, max_output_bytes)
    for event in incoming:
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
        return state.status is RuntimeStatus.FAILED
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
    return task.phase == "running" and task.attempt == event.attempt


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


def _react(plan: WorkflowPlan, out: _Out) -> None:
    state, progress = out.state, out.progress
    if state.status in TERMINAL_STATUSES:
        return
    # each guard is tested here, not in the function it guards: this runs twice a step
    if progress.failed_attempts:
        _settle_failures(plan, out)
    if not state.suspended:
        if progress.fired:
            _fire_timers(plan, out)
        if len(state.events) != len(state.consumed):
            _consume_events(plan, out)
    failing = bool(progress.failing) and _failing_step(plan, progress) is not None
    if not _phase_done(out.progress, False, failing):
        if not state.suspended and not failing:
            _schedule(plan, out, False, "RUNNING")
        return
    outcome = "FAILED" if failing else "COMPLETED"
    if not _phase_done(out.progress, True, False):
        if not state.suspended:
            _schedule(plan, out, True, outcome)
        return
    _complete(plan, out, outcome)


def _failing_step(plan: WorkflowPlan, progress: Progress) -> str | None:
    """The first main step that failed with ``on_error: fail``, if any."""
    if not progress.failing:
        return None
    failed = [s for s in progress.failing if plan.spec(s).on_error is OnError.FAIL]
    return min(failed, key=plan.order.__getitem__) if failed else None


def _phase_done(progress: Progress, final: bool, failing: bool) -> bool:
    """Whether a phase is over: every step settled, or (when failing) no work running.

    A failing instance starts nothing new, lets running tasks and children finish, and
    abandons what only waits (events, sleeps, retry timers)."""
    if progress.unsettled[final] == 0:
        return True
    return failing and progress.running[final] == 0


def _settle_failures(plan: WorkflowPlan, out: _Out) -> None:
    if not out.progress.failed_attempts:
        return
    for sid in sorted(out.progress.failed_attempts, key=plan.order.__getitem__):
        step = out.state.steps[sid]
        for index in sorted(step.failed_attempts, key=lambda i: -1 if i is None else i):
            _retry_or_fail(plan, plan.spec(sid), step.task(index), out)


def _retry_or_fail(plan: WorkflowPlan, spec: Step, task: TaskState, out: _Out) -> None:
    if task.lost:  # abandoned by a lost owner: run again now, outside the retry budget
        _start_task(plan, out, spec, task.index, task.attempt + 1)
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
                    fire_at=out.now + delay,
                    purpose="retry",
                    step=spec.id,
                    index=task.index,
                    attempt=task.attempt + 1,
                )
            )
            return
    out.emit(StepFailed(step=spec.id, index=task.index))


def _fire_timers(plan: WorkflowPlan, out: _Out) -> None:
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
        if timer.purpose == "timeout" and task.timeout_timer == timer.timer_id and not task.done:
            seconds = _timeout_seconds(spec)
            out.emit(
                TaskFailed(
                    step=spec.id,
                    index=task.index,
                    attempt=task.attempt,
                    failure=Failure("TimeoutError", f"step {spec.id!r} timed out after {seconds}"),
                )
            )
        elif task.timer != timer.timer_id:
            continue
        elif timer.purpose == "sleep":
            out.emit(TaskCompleted(step=spec.id, index=task.index, attempt=task.attempt))
        elif timer.purpose == "retry" and task.phase == "waiting":
            _start_task(plan, out, spec, task.index, timer.attempt)


def _timeout_seconds(spec: Step) -> str:
    if spec.kind is StepKind.WAIT and spec.target.timeout is not None:
        return str(spec.target.timeout)
    return str(spec.timeout) if spec.timeout is not None else "its timeout"


def _consume_events(plan: WorkflowPlan, out: _Out) -> None:
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
            if task.phase == "waiting" and task.timer is None:
                waiters.append((task.waiting_since, spec, task))
    taken: set[int] = set()
    for _, spec, task in sorted(waiters, key=lambda w: w[0]):
        for event in buffered:
            if event.seq not in taken and event.name.lower() == spec.target.event:
                taken.add(event.seq)
                out.emit(
                    TaskCompleted(
                        step=spec.id,
                        index=task.index,
                        attempt=task.attempt,
                        output=event.data,
                        event_seq=event.seq,
                    )
                )
                break


def _schedule(plan: WorkflowPlan, out: _Out, final: bool, wf_status: str) -> None:
    if not (out.progress.ready or out.progress.open):
        return
    state = out.state
    limit = plan.definition.concurrency or 1_000_000
    active = out.progress.active
    started = False
    for sid in out.progress.candidates():
        if plan.is_final(sid) != final:
            continue
        spec = plan.spec(sid)
        step = state.step(sid)
        if step.status is StepStatus.PENDING:
            wants_break = spec.pause_before or sid in state.breakpoints
            if wants_break and not step.breakpoint_passed:
                out.emit(ExecutionSuspended(reason="breakpoint", step=sid))
                return
            if spec.when is None and spec.foreach is None:
                # a plain step: its one task's first event starts it (no StepStarted)
                if active < limit:
                    _start_task(plan, out, spec, None, 1, wf_status)
                    active += 1
                    started = True
                continue
            if not _begin_step(plan, out, spec, wf_status):
                continue
            started = True
        if step.status in (StepStatus.RUNNING, StepStatus.WAITING):
            tasks = step.tasks
            running_here = step.active_tasks
            at = step.first_pending()  # not a scan of every task: a foreach may be wide
            while at < len(tasks):
                if active >= limit or (spec.max_parallel and running_here >= spec.max_parallel):
                    break
                if tasks[at].phase == "pending":
                    _start_task(plan, out, spec, tasks[at].index, 1, wf_status)
                    active += 1
                    running_here += 1
                    started = True
                at += 1
    if started and state.single_step and not state.suspended:
        out.emit(ExecutionSuspended(reason="step"))


def _begin_step(plan: WorkflowPlan, out: _Out, spec: Step, wf_status: str) -> bool:
    """Evaluate ``when`` and ``foreach``; emit StepSkipped, StepStarted or a failure.

    Returns whether the step started (so its tasks may be scheduled now)."""
    context = context_for(plan, out.state, spec.refs, wf_status, spec.id)
    try:
        if spec.when is not None and not truthy(spec.when.evaluate(context, plan.budget)):
            out.emit(StepSkipped(step=spec.id, reason="when"))
            return False
        items = None
        if spec.foreach is not None:
            items = spec.foreach.render(context, plan.budget)
            if not isinstance(items, list):
                raise TypeError(f"foreach gave {json_type(items)}, not a list")
    except Exception as exc:  # CEL raises several types for a bad evaluation
        _expression_failed(out, spec, exc)
        return False
    if items is not None and out.max_items is not None and len(items) > out.max_items:
        error = ForeachTooWide(out.state.instance_id, spec.id, len(items), out.max_items)
        failure = Failure("ForeachTooWide", str(error))
        out.emit(TaskFailed(step=spec.id, index=None, attempt=1, failure=failure))
        return False
    out.emit(StepStarted(step=spec.id, items=items))
    return True


def _start_task(
    plan: WorkflowPlan, out: _Out, spec: Step, index: int | None, attempt: int, wf_status: str = ""
) -> None:
    state = out.state
    status = wf_status or ("RUNNING" if not spec.is_finally else _outcome(plan, out.progress))
    step = state.step(spec.id)
    context = context_for(plan, state, spec.refs, status, spec.id)
    memo = None
    if index is not None and step.items is not None:
        context["item"] = step.items[index]
        context["index"] = index
        if step.memo is None:  # what every item reads alike is evaluated once per foreach
            step.memo = {}
        memo = step.memo
    try:
        data = render(spec.with_, context, plan.budget, memo)
        env = None
        if spec.env is not None:
            rendered = render(spec.env, context, plan.budget, memo) or {}
            env = {k: env_text(v) for k, v in rendered.items()}
    except Exception as exc:
        _expression_failed(out, spec, exc, index, attempt)
        return
    kind = spec.kind
    sid = spec.id
    if kind is not StepKind.SLEEP and kind is not StepKind.WORKFLOW:  # runner kinds, wait
        out.emit(
            TaskScheduled(
                step=sid, index=index, attempt=attempt, kind=kind.value, input=data, env=env or None
            )
        )
        if kind is StepKind.WAIT and spec.target.timeout is not None:
            fire = out.now + spec.target.timeout.seconds
            out.emit(_timer(sid, index, attempt, fire, "timeout"))
    elif kind is StepKind.SLEEP:
        out.emit(_timer(sid, index, attempt, out.now + spec.target.seconds, "sleep"))
    elif kind is StepKind.WORKFLOW:
        child_id = f"{state.instance_id}:{len(state.children) + 1}"
        out.emit(
            SubOrchestrationInstanceCreated(
                step=sid,
                index=index,
                attempt=attempt,
                child_id=child_id,
                name=spec.target,
                input=data,
            )
        )
        if spec.timeout is not None:
            out.emit(_timer(sid, index, attempt, out.now + spec.timeout.seconds, "timeout"))


def _timer(sid: str, index: int | None, attempt: int, fire_at: float, purpose: str) -> TimerCreated:
    return TimerCreated(fire_at=fire_at, purpose=purpose, step=sid, index=index, attempt=attempt)


def _outcome(plan: WorkflowPlan, progress: Progress) -> str:
    return "FAILED" if _failing_step(plan, progress) else "COMPLETED"


def _expression_failed(
    out: _Out, spec: Step, exc: Exception, index: int | None = None, attempt: int = 1
) -> None:
    message = f"step {spec.id!r}: an expression could not be evaluated: {describe(exc)}"
    out.emit(
        TaskFailed(
            step=spec.id, index=index, attempt=attempt, failure=Failure("ExpressionError", message)
        )
    )


def _complete(plan: WorkflowPlan, out: _Out, outcome: str) -> None:
    state = out.state
    failed_final = next((s for s in plan.final if state.step(s).status is StepStatus.FAILED), None)
    failed = _failing_step(plan, out.progress) or failed_final
    if failed is not None:
        step = state.step(failed)
        cause = step.failure or Failure("Error", "")
        said = cause.message
        if not said.startswith(f"step {failed!r}"):  # say which step, once
            said = f"step {failed!r} failed: {said}"
        failure = Failure(cause.type, said, cause.stack_trace)
        out.emit(ExecutionCompleted(status="FAILED", failure=failure))
        return
    template = plan.definition.output
    try:
        context = context_for(plan, state, template.steps if template else (), outcome, "")
        output = render(template, context, plan.budget)
    except Exception as exc:
        failure = Failure(
            "ExpressionError", f"the workflow output could not be evaluated: {describe(exc)}"
        )
        out.emit(ExecutionCompleted(status="FAILED", failure=failure))
        return
    size = 0 if out.limit is None else jsontext.encoded_size(output)
    if out.limit is not None and size > out.limit:
        error = OutputTooLarge(state.instance_id, "", "the workflow's output", size, out.limit)
        out.emit(ExecutionCompleted(status="FAILED", failure=Failure("OutputTooLarge", str(error))))
        return
    out.emit(ExecutionCompleted(status="COMPLETED", output=output))
