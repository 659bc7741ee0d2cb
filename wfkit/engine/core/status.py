"""Statuses of instances, steps and tasks, and which lifecycle operations each status allows.

:class:`RuntimeStatus` holds Dapr's runtime status strings; :class:`StepStatus` holds the
step statuses a definition's expressions see (``steps.<id>.status``); :class:`TaskPhase`
where one task of a step is; :class:`TimerPurpose` what a durable timer is for; and
:class:`SuspendReason` why a run was suspended. All are :class:`enum.StrEnum`: their values
are the strings stored in histories, so records read and write the same text.

Which lifecycle operation may act on an instance in which status is one table,
:data:`TRANSITIONS`, keyed by ``(status, operation)``. Each entry is one of:

* :attr:`Outcome.APPLY`: the operation takes effect;
* :attr:`Outcome.NO_OP`: the operation is accepted and changes nothing;
* a refusal: :func:`check_transition` raises :class:`IllegalTransition` with a
  prepared message and hint.

The rules, as Dapr and durabletask define them unless noted (DESIGN.md section 3).
"Active" means PENDING, RUNNING or CONTINUED_AS_NEW; "terminal" means COMPLETED, FAILED,
TERMINATED or CANCELED.

=============  ==============  ===========  ==============================================
operation      active          SUSPENDED    terminal
=============  ==============  ===========  ==============================================
start          refused         refused      APPLY (the old run is replaced)
pause          APPLY           NO_OP        refused (wfkit; Dapr silently ignores it)
resume         NO_OP           APPLY        refused (wfkit, mirroring pause)
terminate      APPLY           APPLY        NO_OP
purge          refused         refused      APPLY
raise_event    APPLY           APPLY        NO_OP: the event is dropped
=============  ==============  ===========  ==============================================

Two choices here go beyond DESIGN.md:

* **resume** of an instance that is not suspended is a no-op, as in durabletask (resuming
  a running orchestration is ignored); resume of a *terminal* instance is refused, like
  pause, because nothing can ever be resumed there and a silent success would mislead.
* **raise_event** to a terminal instance is a no-op that drops the event. Dapr does the
  same: its workflow actor accepts the event into the inbox of a completed instance
  without error and the finished orchestration never consumes it. Callers receive
  :attr:`Outcome.NO_OP` and can warn. (Raising to an *unknown* instance is an error,
  but that is a lookup failure, not a status, and is not decided here.)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from wfkit.errors import IllegalTransition, short

__all__ = [
    "STEP_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "IllegalTransition",
    "Operation",
    "Outcome",
    "Refusal",
    "RuntimeStatus",
    "StepStatus",
    "SuspendReason",
    "TaskPhase",
    "TimerPurpose",
    "check_transition",
]


class RuntimeStatus(enum.StrEnum):
    """The runtime status of a workflow instance; the values are Dapr's strings."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CONTINUED_AS_NEW = "CONTINUED_AS_NEW"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TERMINATED = "TERMINATED"
    PENDING = "PENDING"
    SUSPENDED = "SUSPENDED"

    @property
    def is_terminal(self) -> bool:
        """True for COMPLETED, FAILED, TERMINATED and CANCELED: the run is over."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[RuntimeStatus] = frozenset(
    {
        RuntimeStatus.COMPLETED,
        RuntimeStatus.FAILED,
        RuntimeStatus.TERMINATED,
        RuntimeStatus.CANCELED,
    }
)
"""The statuses in which an instance's run is over."""


class StepStatus(enum.StrEnum):
    """The status of one step of an instance, as expressions see it (``steps.<id>.status``)."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed, skipped and canceled: the step will not change again."""
        return self in _STEP_TERMINAL


STEP_STATUSES: tuple[StepStatus, ...] = tuple(StepStatus)
"""Every step status in declaration order (iterating the enum class costs 1-2 µs a time)."""

_STEP_TERMINAL = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELED}
)


class TaskPhase(enum.StrEnum):
    """Where one task (a step, or one item of a foreach) is, across its attempts."""

    PENDING = "pending"
    """Not scheduled yet."""
    RUNNING = "running"
    """Handed to the runner, or a child instance started."""
    WAITING = "waiting"
    """A wait for an event, a sleep, or a retry timer."""
    FAILED_ATTEMPT = "failed_attempt"
    """An attempt failed (or was lost with its owner): retry or fail is still to be decided."""
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """True for completed and failed: the task will not change again."""
        return self in _PHASE_DONE


_PHASE_DONE = frozenset({TaskPhase.COMPLETED, TaskPhase.FAILED})


class TimerPurpose(enum.StrEnum):
    """What a durable timer of a step is for."""

    SLEEP = "sleep"
    """The whole of a ``sleep`` step."""
    RETRY = "retry"
    """The delay before the next attempt of a failed task."""
    TIMEOUT = "timeout"
    """The deadline of a ``wait`` or ``workflow`` step's attempt."""


class SuspendReason(enum.StrEnum):
    """Why a run was suspended (:class:`~wfkit.engine.core.history.ExecutionSuspended`)."""

    PAUSE = "pause"
    """Someone paused it."""
    BREAKPOINT = "breakpoint"
    """It reached a step with a breakpoint (``pause_before`` or one set at run time)."""
    STEP = "step"
    """It was resumed for one step only, and that step started."""


class Operation(enum.StrEnum):
    """A lifecycle verb that changes an instance; the same names as the CLI and HTTP API."""

    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    TERMINATE = "terminate"
    PURGE = "purge"
    RAISE_EVENT = "raise_event"
    RETRY = "retry"
    BREAK = "break_before"


class Outcome(enum.StrEnum):
    """What an allowed operation does to an instance in a given status."""

    APPLY = "apply"
    """The operation takes effect."""
    NO_OP = "no_op"
    """The operation is accepted and changes nothing (for example pausing twice)."""


@dataclass(frozen=True)
class Refusal:
    """A table entry for an illegal transition: message and hint templates.

    Both are :meth:`str.format` templates over ``id`` (the instance id) and ``status``.
    """

    message: str
    hint: str


_ALREADY_ACTIVE = Refusal(
    message="an active workflow with ID '{id}' already exists",
    hint="it is {status}: wait for it to finish, terminate it, or use another instance ID "
    "(an empty one gets a new uuid4)",
)
_PAUSE_FINISHED = Refusal(
    message="cannot pause workflow '{id}': it is {status}",
    hint="a finished run cannot be paused, but it can be started again as a new run",
)
_RESUME_FINISHED = Refusal(
    message="cannot resume workflow '{id}': it is {status}",
    hint="a finished run cannot be resumed, but it can be started again as a new run",
)
_NOT_COMPLETED = Refusal(
    message="workflow '{id}' has not yet completed",
    hint="purge deletes finished runs only and this one is {status}: terminate it first",
)

_NOT_FAILED = Refusal(
    message="cannot retry workflow '{id}': it is {status}",
    hint="retry runs a FAILED instance again from its failed steps; a running one is "
    "still going, and a completed or terminated one can be started again as a new run",
)
_BREAK_FINISHED = Refusal(
    message="cannot set a breakpoint in workflow '{id}': it is {status}",
    hint="breakpoints apply to steps that have not started yet, in a run that is not over",
)

_Rule = Outcome | Refusal

_ACTIVE = (RuntimeStatus.PENDING, RuntimeStatus.RUNNING, RuntimeStatus.CONTINUED_AS_NEW)

# operation -> (rule when active, rule when SUSPENDED, rule when terminal)
_ROWS: dict[Operation, tuple[_Rule, _Rule, _Rule]] = {
    Operation.START: (_ALREADY_ACTIVE, _ALREADY_ACTIVE, Outcome.APPLY),
    Operation.PAUSE: (Outcome.APPLY, Outcome.NO_OP, _PAUSE_FINISHED),
    Operation.RESUME: (Outcome.NO_OP, Outcome.APPLY, _RESUME_FINISHED),
    Operation.TERMINATE: (Outcome.APPLY, Outcome.APPLY, Outcome.NO_OP),
    Operation.PURGE: (_NOT_COMPLETED, _NOT_COMPLETED, Outcome.APPLY),
    Operation.RAISE_EVENT: (Outcome.APPLY, Outcome.APPLY, Outcome.NO_OP),
    Operation.RETRY: (_NOT_FAILED, _NOT_FAILED, _NOT_FAILED),
    Operation.BREAK: (Outcome.APPLY, Outcome.APPLY, _BREAK_FINISHED),
}
# Where one terminal status differs from the others.
_EXCEPTIONS: dict[tuple[RuntimeStatus, Operation], _Rule] = {
    (RuntimeStatus.FAILED, Operation.RETRY): Outcome.APPLY,
}


def _expand(
    rows: Mapping[Operation, tuple[_Rule, _Rule, _Rule]],
) -> dict[tuple[RuntimeStatus, Operation], _Rule]:
    table: dict[tuple[RuntimeStatus, Operation], _Rule] = {}
    for operation, (active, suspended, terminal) in rows.items():
        for status in _ACTIVE:
            table[status, operation] = active
        table[RuntimeStatus.SUSPENDED, operation] = suspended
        for status in TERMINAL_STATUSES:
            table[status, operation] = terminal
    return table


TRANSITIONS: Mapping[tuple[RuntimeStatus, Operation], Outcome | Refusal] = MappingProxyType(
    _expand(_ROWS) | _EXCEPTIONS
)
"""Every ``(status, operation)`` pair and its rule: an :class:`Outcome` or a :class:`Refusal`."""


def check_transition(status: RuntimeStatus, operation: Operation, instance_id: str) -> Outcome:
    """Say what ``operation`` does to instance ``instance_id`` whose status is ``status``.

    Returns :attr:`Outcome.APPLY` or :attr:`Outcome.NO_OP`; raises
    :class:`IllegalTransition` when the table refuses the pair.
    """
    rule = TRANSITIONS[RuntimeStatus(status), Operation(operation)]
    if isinstance(rule, Refusal):
        fields = {"id": short(instance_id), "status": status}
        raise IllegalTransition(
            instance_id=instance_id,
            status=RuntimeStatus(status),
            operation=Operation(operation),
            message=rule.message.format_map(fields),
            hint=rule.hint.format_map(fields),
        )
    return rule
