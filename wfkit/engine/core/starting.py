"""Starting steps and their tasks: which ready steps start, their ``when`` and ``foreach``,
and one attempt of one task (its ``with`` and ``env`` rendered, then handed on).

Part of :func:`~wfkit.engine.core.decide.advance`: each function records its events in
the decision's :class:`~wfkit.engine.core.outbox.Outbox`.
"""

from __future__ import annotations

from wfkit.definition.model import OnError, Step, StepKind
from wfkit.engine.core.evaluate import context_for, describe, env_text, json_type, render, truthy
from wfkit.engine.core.history import (
    ExecutionSuspended,
    Failure,
    StepSkipped,
    StepStarted,
    SubOrchestrationInstanceCreated,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
)
from wfkit.engine.core.outbox import Outbox
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.progress import Progress
from wfkit.engine.core.status import (
    RuntimeStatus,
    StepStatus,
    SuspendReason,
    TaskPhase,
    TimerPurpose,
)
from wfkit.errors import ForeachTooWide

__all__ = ["expression_failed", "failing_step", "outcome", "schedule", "start_task"]

_PENDING = TaskPhase.PENDING
_STARTED = (StepStatus.RUNNING, StepStatus.WAITING)


def failing_step(plan: WorkflowPlan, progress: Progress) -> str | None:
    """The first main step that failed with ``on_error: fail``, if any."""
    if not progress.failing:
        return None
    failed = [s for s in progress.failing if plan.spec(s).on_error is OnError.FAIL]
    return min(failed, key=plan.order.__getitem__) if failed else None


def outcome(plan: WorkflowPlan, progress: Progress) -> RuntimeStatus:
    """How the run ends as things stand: FAILED when a main step failed, else COMPLETED."""
    return RuntimeStatus.FAILED if failing_step(plan, progress) else RuntimeStatus.COMPLETED


def schedule(plan: WorkflowPlan, out: Outbox, final: bool, wf_status: RuntimeStatus) -> None:
    """Start the ready steps of a phase (the main steps, or ``final``: the ``finally``
    ones) and more tasks of started ones, within the concurrency limits; suspend at a
    breakpoint, and after one step when resumed for one."""
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
                reason = SuspendReason.BREAKPOINT
                out.emit(ExecutionSuspended(at=out.now, seq=out.seq, reason=reason, step=sid))
                return
            if spec.when is None and spec.foreach is None:
                # a plain step: its one task's first event starts it (no StepStarted)
                if active < limit:
                    start_task(plan, out, spec, None, 1, wf_status)
                    active += 1
                    started = True
                continue
            if not _begin_step(plan, out, spec, wf_status):
                continue
            started = True
        if step.status in _STARTED:
            tasks = step.tasks
            running_here = step.active_tasks
            at = step.first_pending()  # not a scan of every task: a foreach may be wide
            while at < len(tasks):
                if active >= limit or (spec.max_parallel and running_here >= spec.max_parallel):
                    break
                if tasks[at].phase is _PENDING:
                    start_task(plan, out, spec, tasks[at].index, 1, wf_status)
                    active += 1
                    running_here += 1
                    started = True
                at += 1
    if started and state.single_step and not state.suspended:
        out.emit(ExecutionSuspended(at=out.now, seq=out.seq, reason=SuspendReason.STEP))


def _begin_step(plan: WorkflowPlan, out: Outbox, spec: Step, wf_status: RuntimeStatus) -> bool:
    """Evaluate ``when`` and ``foreach``; emit StepSkipped, StepStarted or a failure.

    Returns whether the step started (so its tasks may be scheduled now)."""
    context = context_for(plan, out.state, spec.refs, wf_status, spec.id)
    try:
        if spec.when is not None and not truthy(spec.when.evaluate(context, plan.budget)):
            out.emit(StepSkipped(at=out.now, seq=out.seq, step=spec.id, reason="when"))
            return False
        items = None
        if spec.foreach is not None:
            items = spec.foreach.render(context, plan.budget)
            if not isinstance(items, list):
                raise TypeError(f"foreach gave {json_type(items)}, not a list")
    except Exception as exc:  # CEL raises several types for a bad evaluation
        expression_failed(out, spec, exc)
        return False
    if items is not None and out.max_items is not None and len(items) > out.max_items:
        error = ForeachTooWide(out.state.instance_id, spec.id, len(items), out.max_items)
        failure = Failure("ForeachTooWide", str(error))
        out.emit(TaskFailed(at=out.now, seq=out.seq, step=spec.id, index=None, failure=failure))
        return False
    out.emit(StepStarted(at=out.now, seq=out.seq, step=spec.id, items=items))
    return True


def start_task(
    plan: WorkflowPlan,
    out: Outbox,
    spec: Step,
    index: int | None,
    attempt: int,
    wf_status: RuntimeStatus | None = None,
) -> None:
    """Start attempt ``attempt`` of task ``index`` of step ``spec``: render its input,
    then schedule it, start its timer (a sleep) or its child (a workflow step)."""
    state = out.state
    if wf_status is None:
        wf_status = outcome(plan, out.progress) if spec.is_finally else RuntimeStatus.RUNNING
    step = state.step(spec.id)
    context = context_for(plan, state, spec.refs, wf_status, spec.id)
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
        expression_failed(out, spec, exc, index, attempt)
        return
    _hand_on(out, spec, index, attempt, data, env or None)


def _hand_on(
    out: Outbox,
    spec: Step,
    index: int | None,
    attempt: int,
    data: object,
    env: dict[str, str] | None,
) -> None:
    """The events that start one attempt, by the step's kind."""
    kind, sid, now = spec.kind, spec.id, out.now
    if kind is not StepKind.SLEEP and kind is not StepKind.WORKFLOW:  # runner kinds, wait
        scheduled = TaskScheduled(
            at=now,
            seq=out.seq,
            step=sid,
            index=index,
            attempt=attempt,
            kind=kind.value,
            input=data,
            env=env,
        )
        out.emit(scheduled)
        if kind is StepKind.WAIT and spec.target.timeout is not None:
            fire = now + spec.target.timeout.seconds
            out.emit(_timer(out, sid, index, attempt, fire, TimerPurpose.TIMEOUT))
    elif kind is StepKind.SLEEP:
        fire = now + spec.target.seconds
        out.emit(_timer(out, sid, index, attempt, fire, TimerPurpose.SLEEP))
    else:
        state = out.state
        child_id = f"{state.instance_id}:{len(state.children) + 1}"
        created = SubOrchestrationInstanceCreated(
            at=now,
            seq=out.seq,
            step=sid,
            index=index,
            attempt=attempt,
            child_id=child_id,
            name=spec.target,
            input=data,
        )
        out.emit(created)
        if spec.timeout is not None:
            fire = now + spec.timeout.seconds
            out.emit(_timer(out, sid, index, attempt, fire, TimerPurpose.TIMEOUT))


def _timer(
    out: Outbox, sid: str, index: int | None, attempt: int, fire_at: float, purpose: TimerPurpose
) -> TimerCreated:
    return TimerCreated(
        at=out.now,
        seq=out.seq,
        fire_at=fire_at,
        purpose=purpose,
        step=sid,
        index=index,
        attempt=attempt,
    )


def expression_failed(
    out: Outbox, spec: Step, exc: Exception, index: int | None = None, attempt: int = 1
) -> None:
    """Fail an attempt whose expressions could not be evaluated (never retried)."""
    message = f"step {spec.id!r}: an expression could not be evaluated: {describe(exc)}"
    failure = Failure("ExpressionError", message)
    out.emit(
        TaskFailed(
            at=out.now, seq=out.seq, step=spec.id, index=index, attempt=attempt, failure=failure
        )
    )
