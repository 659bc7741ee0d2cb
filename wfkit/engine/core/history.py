"""History events: the append-only log that is the truth about an instance.

Every state change of an instance is one of these events, appended (and committed) before
it takes effect; replaying the log gives the instance's state. Names follow durabletask's
history events. Each event carries ``at`` (seconds since the epoch, UTC) and is stored as
JSON with a schema version, so records written today can be read by later versions
(fields are only ever added, with defaults).

``seq`` numbers start at 1 and are assigned when an event is appended.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from wfkit.common import jsontext
from wfkit.engine.core.status import RuntimeStatus, SuspendReason, TimerPurpose
from wfkit.errors import HistoryDecodeError, short

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "BreakpointSet",
    "EventRaised",
    "ExecutionCompleted",
    "ExecutionResumed",
    "ExecutionRewound",
    "ExecutionStarted",
    "ExecutionSuspended",
    "ExecutionTerminated",
    "Failure",
    "HistoryEvent",
    "StepFailed",
    "StepSkipped",
    "StepStarted",
    "SubOrchestrationInstanceCompleted",
    "SubOrchestrationInstanceCreated",
    "SubOrchestrationInstanceFailed",
    "TaskAbandoned",
    "TaskCompleted",
    "TaskFailed",
    "TaskScheduled",
    "TimerCreated",
    "TimerFired",
    "decode_event",
    "encode_event",
]

SCHEMA_VERSION = 2
"""The record version written in each event (``"v"``); a reader refuses newer records.

1. The first records.
2. A step without ``when`` or ``foreach`` has no :class:`StepStarted`: its first task
   event (:class:`TaskScheduled`, a sleep's :class:`TimerCreated`,
   :class:`SubOrchestrationInstanceCreated`) starts it. Version 1 histories replay the same.
"""


@dataclass(frozen=True)
class Failure:
    """Why something failed: an error type name, a message and a stack trace (may be "")."""

    type: str
    message: str
    stack_trace: str = ""

    @staticmethod
    def of(exc: BaseException, stack_trace: str = "") -> Failure:
        return Failure(type(exc).__name__, str(exc), stack_trace)


@dataclass(frozen=True)
class HistoryEvent:
    """Base of every history event; ``at`` is when it happened (epoch seconds)."""

    TYPE: ClassVar[str] = ""
    at: float = 0.0
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ExecutionStarted(HistoryEvent):
    """The instance was created with this input (JSON text), pinned to a definition.

    ``pinned`` maps the name of every workflow the run can start (its children, their
    children...) to the hash of the definition it starts, as they were when the run
    started (their texts are kept in the store under these hashes). None when there is
    nothing to pin, and in records written before wfkit pinned children: those runs look
    children up by name when they start them."""

    TYPE: ClassVar[str] = "ExecutionStarted"
    name: str = ""
    input: Any = None
    definition_hash: str = ""
    parent_id: str | None = None
    parent_step: str | None = None
    pinned: dict[str, str] | None = None


@dataclass(frozen=True)
class ExecutionSuspended(HistoryEvent):
    """Paused: by a person (``reason='pause'``), at a breakpoint (``'breakpoint'``) or
    after one step (``'step'``): a :class:`SuspendReason` (kept a ``str`` in the type,
    so that a reason a later wfkit adds still reads)."""

    TYPE: ClassVar[str] = "ExecutionSuspended"
    reason: str = SuspendReason.PAUSE
    step: str | None = None


@dataclass(frozen=True)
class ExecutionResumed(HistoryEvent):
    """Resumed; ``single_step`` asks to run the next ready steps and pause again."""

    TYPE: ClassVar[str] = "ExecutionResumed"
    single_step: bool = False


@dataclass(frozen=True)
class StepStarted(HistoryEvent):
    """A step with ``when`` or ``foreach`` starts (its ``when`` held); ``items`` is its
    evaluated ``foreach`` list. Other steps start with their first task event."""

    TYPE: ClassVar[str] = "StepStarted"
    step: str = ""
    items: list[Any] | None = None


@dataclass(frozen=True)
class ExecutionRewound(HistoryEvent):
    """A FAILED instance runs again: failed and canceled steps (and the ``finally``
    steps) go back to pending; completed steps keep their recorded outputs."""

    TYPE: ClassVar[str] = "ExecutionRewound"
    steps: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class BreakpointSet(HistoryEvent):
    """A breakpoint before ``step`` was set (``enabled``) or cleared at run time."""

    TYPE: ClassVar[str] = "BreakpointSet"
    step: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class ExecutionTerminated(HistoryEvent):
    """Terminate was asked for; running work is abandoned."""

    TYPE: ClassVar[str] = "ExecutionTerminated"
    reason: str = ""
    recursive: bool = True


@dataclass(frozen=True)
class ExecutionCompleted(HistoryEvent):
    """The instance reached a terminal status (COMPLETED, FAILED or TERMINATED)."""

    TYPE: ClassVar[str] = "ExecutionCompleted"
    status: RuntimeStatus = RuntimeStatus.COMPLETED
    output: Any = None
    failure: Failure | None = None


@dataclass(frozen=True)
class TaskScheduled(HistoryEvent):
    """A step (one item of a foreach, one attempt) was handed to the step runner.

    ``input`` holds what the step receives (the rendered ``with`` or, for wait steps,
    nothing); ``env`` the rendered environment of shell and notebook steps.
    """

    TYPE: ClassVar[str] = "TaskScheduled"
    step: str = ""
    index: int | None = None
    attempt: int = 1
    kind: str = ""
    input: Any = None
    env: dict[str, str] | None = None


@dataclass(frozen=True)
class TaskCompleted(HistoryEvent):
    """A task finished with this output; ``event_seq`` names the event a wait consumed."""

    TYPE: ClassVar[str] = "TaskCompleted"
    step: str = ""
    index: int | None = None
    attempt: int = 1
    output: Any = None
    event_seq: int | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class TaskFailed(HistoryEvent):
    """A task attempt failed (an exception, an exit code, a timeout, a bad output)."""

    TYPE: ClassVar[str] = "TaskFailed"
    step: str = ""
    index: int | None = None
    attempt: int = 1
    failure: Failure = Failure("Error", "")
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class TaskAbandoned(HistoryEvent):
    """An attempt of a call, shell or notebook step was scheduled and never answered:
    its owner was lost (its process died or stopped, or its lease ran out) while it
    ran. Recorded by the engine that takes the instance over, before it runs the step
    again as the next attempt (at least once). ``owner`` is the lost owner's id
    (``host:pid:random``, "" when unknown) and ``lost_at`` when its hold ended.

    An abandoned attempt is counted in the step's attempts but not against its retry
    budget: a step with ``max_attempts: 1`` still runs once more after a crash."""

    TYPE: ClassVar[str] = "TaskAbandoned"
    step: str = ""
    index: int | None = None
    attempt: int = 1
    owner: str = ""
    lost_at: float | None = None


@dataclass(frozen=True)
class StepFailed(HistoryEvent):
    """A task's failure is final (no retry left): the step failed."""

    TYPE: ClassVar[str] = "StepFailed"
    step: str = ""
    index: int | None = None


@dataclass(frozen=True)
class StepSkipped(HistoryEvent):
    """A step's ``when`` was false, or a dependency failed with on_error: continue."""

    TYPE: ClassVar[str] = "StepSkipped"
    step: str = ""
    reason: str = "when"


@dataclass(frozen=True)
class TimerCreated(HistoryEvent):
    """A durable timer of a step, for its sleep, its next attempt or its timeout.

    The timer's id is the ``seq`` of this event."""

    TYPE: ClassVar[str] = "TimerCreated"
    fire_at: float = 0.0
    purpose: TimerPurpose = TimerPurpose.SLEEP
    step: str = ""
    index: int | None = None
    attempt: int = 1


@dataclass(frozen=True)
class TimerFired(HistoryEvent):
    """The timer ``timer_id`` (the seq of its TimerCreated event) is due."""

    TYPE: ClassVar[str] = "TimerFired"
    timer_id: int = 0


@dataclass(frozen=True)
class EventRaised(HistoryEvent):
    """An external event arrived; names are lower-cased (they are case-insensitive)."""

    TYPE: ClassVar[str] = "EventRaised"
    name: str = ""
    data: Any = None


@dataclass(frozen=True)
class SubOrchestrationInstanceCreated(HistoryEvent):
    """A ``workflow:`` step started the child instance ``child_id``."""

    TYPE: ClassVar[str] = "SubOrchestrationInstanceCreated"
    step: str = ""
    index: int | None = None
    attempt: int = 1
    child_id: str = ""
    name: str = ""
    input: Any = None


@dataclass(frozen=True)
class SubOrchestrationInstanceCompleted(HistoryEvent):
    """The child instance completed with this output."""

    TYPE: ClassVar[str] = "SubOrchestrationInstanceCompleted"
    child_id: str = ""
    output: Any = None


@dataclass(frozen=True)
class SubOrchestrationInstanceFailed(HistoryEvent):
    """The child instance failed or was terminated."""

    TYPE: ClassVar[str] = "SubOrchestrationInstanceFailed"
    child_id: str = ""
    failure: Failure = Failure("Error", "")


EVENT_TYPES: dict[str, type[HistoryEvent]] = {
    cls.TYPE: cls
    for cls in (
        ExecutionStarted,
        ExecutionSuspended,
        ExecutionResumed,
        ExecutionRewound,
        BreakpointSet,
        StepStarted,
        StepFailed,
        ExecutionTerminated,
        ExecutionCompleted,
        TaskScheduled,
        TaskCompleted,
        TaskFailed,
        TaskAbandoned,
        StepSkipped,
        TimerCreated,
        TimerFired,
        EventRaised,
        SubOrchestrationInstanceCreated,
        SubOrchestrationInstanceCompleted,
        SubOrchestrationInstanceFailed,
    )
}


#: Stored fields of each event type (``seq`` and ``at`` are columns of the row instead).
_FIELDS: dict[type[HistoryEvent], tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.name not in ("seq", "at"))
    for cls in EVENT_TYPES.values()
}
#: Fields stored as text and read back as an enum member (the text is the member's value).
_ENUM_FIELDS: dict[type[HistoryEvent], tuple[tuple[str, type[enum.StrEnum]], ...]] = {
    ExecutionCompleted: (("status", RuntimeStatus),),
    TimerCreated: (("purpose", TimerPurpose),),
}
_dumps = jsontext.dumps


def encode_event(event: HistoryEvent) -> str:
    """The JSON text stored for ``event`` (without ``seq``, which is the row's key)."""
    data: dict[str, Any] = {}
    for name in _FIELDS[type(event)]:
        value = getattr(event, name)
        if value is not None:
            data[name] = asdict(value) if isinstance(value, Failure) else value
    data["v"] = SCHEMA_VERSION
    return _dumps(data)


def decode_event(type_name: str, at: float, seq: int, text: str) -> HistoryEvent:
    """The event stored as ``text``; unknown fields from later versions are ignored."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise HistoryDecodeError(f"unknown history event type {type_name!r} (seq {seq})")
    data = jsontext.read_stored(text)  # never a RecursionError, for data stored deep
    version = data.pop("v", 1)
    if version > SCHEMA_VERSION:
        raise HistoryDecodeError(
            f"history event {seq} was written by a newer wfkit (record version {version}); "
            "upgrade wfkit to read it"
        )
    known = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in known}
    if "failure" in kwargs and isinstance(kwargs["failure"], dict):
        kwargs["failure"] = Failure(**kwargs["failure"])
    for name, kind in _ENUM_FIELDS.get(cls, ()):
        if name in kwargs:
            try:
                kwargs[name] = kind(kwargs[name])
            except ValueError:
                raise HistoryDecodeError(
                    f"history event {seq} ({type_name}) has an unknown {name} "
                    f"{short(str(kwargs[name]))!r}; it was written by another wfkit: "
                    "upgrade wfkit to read it"
                ) from None
    return cls(at=at, seq=seq, **kwargs)
