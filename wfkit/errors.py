"""Every exception wfkit raises on purpose, in one tree.

::

    WfkitError                      base of everything below; catch this to catch wfkit
    ├── DefinitionError             a definition (file, folder or text) is not valid;
    │                               .problems lists every Problem at once, sorted by place
    ├── UnknownWorkflow             a workflow name is not in the catalog (.name, .known)
    ├── RenderError                 a graph or a live panel could not be drawn (no dot
    │                               executable, dot failed, no widget views loaded)
    ├── SettingsError               a setting is unknown or has a bad value
    ├── NotInitialized              a StepExecutor operation was called before init
    ├── UnknownCondition            Instance.wait(until=...) got a name it does not know
    │                               (.name, .known); also a ValueError
    ├── InvalidPurgeFilter          a purge asked for instances in statuses that are not
    │                               terminal (.statuses); also a ValueError
    ├── PinnedDefinitionMissing     the definition a run was pinned to is missing from the
    │                               store (.name, .definition_hash)
    ├── HistoryDecodeError          a stored history record cannot be read (unknown type,
    │                               newer schema)
    ├── OutputError                 wfkit.output() outside a step, or with a value that is
    │                               not JSON; also a RuntimeError
    ├── RunnerClosed                a task was handed to a step runner after its close
    ├── ContractError               a contract record (StartRequest, ...) has a bad field
    │                               (.record, .json_name, .field, .problem); also a ValueError
    ├── InvalidJsonText             text given as JSON (event data or an input typed on a
    │                               command line) is not JSON (.what, .line, .column,
    │                               .reason, .hint); also a ValueError
    ├── IllegalTransition           an operation is not allowed in the instance's status
    │                               (.instance_id, .status, .operation, .message, .hint)
    ├── InstanceError               something about one instance (.instance_id)
    │   ├── InstanceBusy            its history changed under every try of an operation
    │   │                           (.operation); retry
    │   ├── InstanceNotFound        no instance has this id
    │   ├── InstanceAlreadyExists   start with the id of an instance that is not terminal
    │   ├── InvalidInstanceId       the id is too long or has characters not allowed
    │   ├── InvalidInput            the input does not match the definition's inputs
    │   ├── InvalidEventData        an event's data is not JSON
    │   ├── InvalidEventName        an event name no wait step could ever take (empty, too
    │   │                           long, control characters)
    │   ├── UnknownStep             a step id the instance's definition does not have
    │   ├── InstanceFailed          raise_if_failed() on a FAILED or TERMINATED instance
    │   ├── ForeachTooWide          a foreach gave more items than allowed (.step, .items,
    │   │                           .limit); the step fails with it
    │   ├── OutputTooLarge          a step's output (or an event's data, a child's output)
    │   │                           is over the output size limit (.step, .size, .limit)
    │   └── EventBufferFull         an instance holds as many unconsumed events as allowed
    │                               (.event, .limit); nothing was sent
    ├── ExpressionBudgetExceeded    evaluating an expression would cost too much or give
    │                               too big a result (.source, .measure, .estimate, .limit)
    ├── UnknownStatus               a runtime status name that does not exist; also a
    │                               ValueError
    ├── UnknownRunner               a step runner name that no runner has (.name, .known);
    │                               also a ValueError
    ├── RunnerUnavailable           a step runner cannot be opened (.runner): its optional
    │                               dependency is missing, or its cluster cannot be reached
    ├── StoreError                  the store cannot be opened or used (.url; .retryable
    │                               when the store's condition may pass: busy, disk full)
    ├── VersionConflict             an instance's history changed since it was read
    │                               (optimistic concurrency: read again and retry)
    └── ErrNotImplemented           a component does not do this operation (Dapr's contract;
                                    the message is exactly Dapr's)

    UserWarning
    └── UnknownEventWarning         raise_event sent an event that no wait step of the
                                    instance's workflow takes (it is buffered, unused)

Every error class has a ``category`` (an :class:`ErrorCategory`: NOT_FOUND,
INVALID_ARGUMENT, CONFLICT, ...), the kind of failure that the HTTP server maps to a
status code, so that the mapping lives in one place.

Each error says what happened, why, and the likely fix; structured fields carry the
details (path, line, column, step id) so that tools need not parse the message. Ids and
names echoed in a message are cut to :data:`SHOWN_LENGTH` characters (:func:`short`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "ContractError",
    "DefinitionError",
    "ErrNotImplemented",
    "ErrorCategory",
    "EventBufferFull",
    "ExpressionBudgetExceeded",
    "ForeachTooWide",
    "HistoryDecodeError",
    "IllegalTransition",
    "InstanceAlreadyExists",
    "InstanceBusy",
    "InstanceError",
    "InstanceFailed",
    "InstanceNotFound",
    "InvalidEventData",
    "InvalidEventName",
    "InvalidInput",
    "InvalidInstanceId",
    "InvalidJsonText",
    "InvalidPurgeFilter",
    "NotInitialized",
    "OutputError",
    "OutputTooLarge",
    "PinnedDefinitionMissing",
    "Problem",
    "RenderError",
    "RunnerClosed",
    "RunnerUnavailable",
    "SettingsError",
    "StoreError",
    "UnknownCondition",
    "UnknownEventWarning",
    "UnknownRunner",
    "UnknownStatus",
    "UnknownStep",
    "UnknownWorkflow",
    "VersionConflict",
    "WfkitError",
]


_RED, _BOLD, _RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"

SHOWN_LENGTH = 80
"""How many characters of an id or a name an error message echoes."""


def short(text: str, width: int = SHOWN_LENGTH) -> str:
    """``text`` cut to ``width`` characters with an ellipsis: an id or a name as an error
    message echoes it (the whole value stays in the error's fields)."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


class ErrorCategory(enum.StrEnum):
    """The kind of an error, as a wire protocol sees it: each error class's ``category``.

    The HTTP server maps each to one status code; the names are gRPC's status codes."""

    NOT_FOUND = "NOT_FOUND"
    """What the request names does not exist (an instance, a workflow)."""
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    """The request itself is wrong; sending it again cannot succeed."""
    CONFLICT = "CONFLICT"
    """The request collides with the current state or a concurrent change."""
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    """The request is valid but not in the target's current state (pause a finished run)."""
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    """A documented limit was reached (a size, a count, a budget)."""
    UNAVAILABLE = "UNAVAILABLE"
    """A resource wfkit needs (the store, the runner) cannot serve now; may pass."""
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    """The component does not do this operation."""
    INTERNAL = "INTERNAL"
    """Something wfkit relies on is broken (a stored record it cannot read, a missing
    executable); not the caller's fault."""


class WfkitError(Exception):
    """Base class of every error wfkit raises on purpose.

    IPython and Jupyter show one as its type and message, without the frames: the
    message says what went wrong and what to do, and the frames would be wfkit's own
    (``%debug`` and ``traceback.print_last()`` still reach them)."""

    category = ErrorCategory.INTERNAL

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows instead of a traceback (IPython's protocol)."""
        first, *rest = f"{self}".splitlines() or [""]
        return [f"{_RED}{_BOLD}{type(self).__name__}{_RESET}: {first}", *rest]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a definition, at a place in a file.

    ``line`` and ``column`` are 1-based; 0 means "the file as a whole".
    ``hint`` is the likely fix, or an empty string when there is nothing useful to add.
    """

    path: str
    line: int
    column: int
    message: str
    hint: str = field(default="", compare=False)
    step: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        place = self.path if self.line == 0 else f"{self.path}:{self.line}:{self.column}"
        text = f"{place}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        """Plain data, for ``--json`` output."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
            "step": self.step,
        }


class DefinitionError(WfkitError):
    """A workflow definition is not valid; ``problems`` lists every problem found.

    The message is the problems one per line, ``path:line:col: message`` with a hint
    beneath, sorted by position, so printing the exception is enough for a person.
    """

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("DefinitionError needs at least one problem")
        self.problems: list[Problem] = sorted(problems)
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"{head}:\n" + "\n".join(str(p) for p in self.problems))


class UnknownWorkflow(WfkitError):
    """A workflow name asked for is not in the loaded definitions."""

    category = ErrorCategory.NOT_FOUND

    def __init__(self, name: str, known: list[str], hint: str = "") -> None:
        self.name = name
        self.known = sorted(known)
        listing = ", ".join(self.known) if self.known else "none are loaded"
        message = f"no workflow named {short(name)!r} (known: {listing})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class RenderError(WfkitError):
    """A graph could not be rendered to SVG or PNG, or no live panel is registered for an
    object (the views layer is not loaded)."""

    category = ErrorCategory.INTERNAL


class SettingsError(WfkitError):
    """A setting is unknown or has a bad value."""

    category = ErrorCategory.INVALID_ARGUMENT


class NotInitialized(WfkitError):
    """A :class:`~wfkit.runtime.executor.StepExecutor` operation was called before ``init``."""

    category = ErrorCategory.FAILED_PRECONDITION

    def __init__(self) -> None:
        super().__init__("the step executor is not initialised: call init(Metadata(...)) first")


class UnknownCondition(WfkitError, ValueError):
    """``Instance.wait(until=...)`` got a name it does not know; ``.name`` is that name,
    ``.known`` the names it knows."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, name: str, known: list[str], hint: str = "") -> None:
        self.name = name
        self.known = known
        super().__init__(
            f"cannot wait until {name!r}: wait for one of {', '.join(map(repr, known))}, "
            "or pass a function of the instance" + (f" ({hint})" if hint else "")
        )


class InvalidPurgeFilter(WfkitError, ValueError):
    """A purge of many instances asked for statuses that are not terminal (``statuses``):
    only ended instances can be purged. Nothing was purged."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        super().__init__(
            f"cannot purge instances that are {', '.join(statuses)}: only ended ones "
            "(COMPLETED, FAILED, TERMINATED, CANCELED) can be purged; terminate them first"
        )


class PinnedDefinitionMissing(WfkitError):
    """The definition a run was pinned to (workflow ``name``, content hash
    ``definition_hash``) is missing from the store."""

    category = ErrorCategory.INTERNAL

    def __init__(self, name: str, definition_hash: str) -> None:
        self.name = name
        self.definition_hash = definition_hash
        super().__init__(
            f"the definition of workflow {short(name)!r} this run was pinned to "
            f"({definition_hash[:12]}) is missing from the store; was the store edited "
            "by hand? Start the run again"
        )


class HistoryDecodeError(WfkitError):
    """A stored history record cannot be read (unknown type or newer schema)."""

    category = ErrorCategory.INTERNAL


class OutputError(WfkitError, RuntimeError):
    """:func:`wfkit.output` cannot record a result: not inside a step, or the value is
    not JSON."""

    category = ErrorCategory.FAILED_PRECONDITION


class RunnerClosed(WfkitError):
    """A task was handed to a step runner after it was closed (``task`` is its key)."""

    category = ErrorCategory.UNAVAILABLE

    def __init__(self, task: str) -> None:
        self.task = task
        super().__init__(f"the step runner is closed; cannot run {task}")


class ContractError(WfkitError, ValueError):
    """A contract record could not be built: bad JSON, or a value of the wrong kind.

    ``record`` is the record's class name; ``json_name`` and ``field`` name the offending
    field in JSON and in Python (both empty when the document as a whole is wrong);
    ``problem`` says what is wrong with it.
    """

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, record: str, json_name: str, field: str, problem: str) -> None:
        self.record = record
        self.json_name = json_name
        self.field = field
        self.problem = problem
        if json_name:
            super().__init__(f"bad {record}: field '{json_name}' ({field}) {problem}")
        else:
            super().__init__(f"bad {record}: {problem}")


class InvalidJsonText(WfkitError, ValueError):
    """Text meant as JSON (``wfkit raise-event`` DATA, a ``-i KEY=VALUE`` value) is not
    JSON. ``what`` names the text, ``line`` and ``column`` (1-based; 0 for the text as a
    whole) say where JSON stopped making sense, ``reason`` why, and ``hint`` how to send
    text instead."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, what: str, line: int, column: int, reason: str, hint: str) -> None:
        self.what = what
        self.line = line
        self.column = column
        self.reason = reason
        self.hint = hint
        message = f"{what} is not valid JSON: {reason}"
        if line:  # 0: about the text as a whole
            message += f" at line {line}, column {column}"
        super().__init__(f"{message}; {hint}" if hint else message)


class IllegalTransition(WfkitError):
    """An operation is not allowed on an instance in its current status.

    ``message`` is the prepared text (for the HTTP API's ``message`` field, exactly
    Dapr's wording where Dapr has one); ``hint`` is the likely fix. ``str()`` of the error
    is the message followed by ``; `` and the hint. ``status`` and ``operation`` are the
    runtime status and operation names (string enums of :mod:`wfkit.engine.core.status`).
    """

    category = ErrorCategory.FAILED_PRECONDITION

    def __init__(
        self, *, instance_id: str, status: str, operation: str, message: str, hint: str
    ) -> None:
        self.instance_id = instance_id
        self.status = status
        self.operation = operation
        self.message = message
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)


class InstanceError(WfkitError):
    """Something about one workflow instance; ``instance_id`` names it."""

    category = ErrorCategory.INTERNAL

    def __init__(self, instance_id: str, message: str) -> None:
        self.instance_id = instance_id
        super().__init__(message)


class InstanceBusy(InstanceError):
    """``operation`` found the instance's history changed under it on every try (other
    writers kept appending); nothing was changed. Retry."""

    category = ErrorCategory.CONFLICT

    def __init__(self, instance_id: str, operation: str) -> None:
        self.operation = operation
        super().__init__(
            instance_id,
            f"workflow {short(instance_id)!r} changes too fast to {operation}; retry",
        )


class InstanceNotFound(InstanceError):
    """No instance has this id (it never existed, or was purged)."""

    category = ErrorCategory.NOT_FOUND

    def __init__(self, instance_id: str) -> None:
        super().__init__(
            instance_id,
            f"no workflow instance with ID '{short(instance_id)}' (it never started, or was "
            "purged)",
        )


class InstanceAlreadyExists(InstanceError):
    """Start was asked with the id of an instance that is not terminal (Dapr's wording)."""

    category = ErrorCategory.CONFLICT

    def __init__(self, instance_id: str) -> None:
        super().__init__(
            instance_id, f"an active workflow with ID '{short(instance_id)}' already exists"
        )


class InvalidInstanceId(InstanceError):
    """An instance id breaks the rules: at most 64 letters, digits, '_' and '-'."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, instance_id: str, reason: str) -> None:
        super().__init__(
            instance_id,
            f"invalid workflow instance ID {short(instance_id)!r}: {reason}; use at most 64 "
            "letters, digits, '_' and '-', or leave it empty for a new random ID",
        )


class InvalidInput(InstanceError):
    """A start input does not match the definition's ``inputs``; ``problems`` lists why.

    The message has a line per problem, each naming its input, so that a notebook's
    traceback and the command line show them one under the other.
    """

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, instance_id: str, workflow_name: str, problems: list[str]) -> None:
        self.workflow_name = workflow_name
        self.problems = problems
        super().__init__(
            instance_id,
            f"invalid input for workflow {short(workflow_name)!r}:"
            + "".join(f"\n  {problem}" for problem in problems),
        )


class InvalidEventData(InstanceError):
    """An event's data is not JSON (NaN or infinity, a set, an object...); nothing was
    sent. ``event`` is the event's name and ``reason`` what is wrong."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, instance_id: str, event: str, reason: str) -> None:
        self.event = event
        self.reason = reason
        super().__init__(
            instance_id,
            f"cannot send event {short(event)!r} to instance '{short(instance_id)}' (nothing "
            "was sent): "
            f"its data is not JSON: {reason}",
        )


class InvalidEventName(InstanceError):
    """An event name that no wait step could ever take: empty, longer than the language
    allows (``limit`` characters), or with control characters. Nothing was sent.
    ``event`` is the name and ``reason`` what is wrong with it."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, instance_id: str, event: str, reason: str, limit: int) -> None:
        self.event = event
        self.reason = reason
        self.limit = limit
        super().__init__(
            instance_id,
            f"cannot send event {short(event)!r} to instance '{short(instance_id)}' (nothing "
            f"was sent): {reason}; an event name is 1 to {limit} characters with no control "
            "characters, as the wait steps that take events are written",
        )


class InstanceFailed(InstanceError):
    """An instance ended FAILED or TERMINATED; ``error_type``, ``error_message`` and
    ``stack_trace`` are the failure's (the failed step's error, when a step failed)."""

    category = ErrorCategory.FAILED_PRECONDITION

    def __init__(
        self, instance_id: str, status: str, error_type: str, error_message: str, stack_trace: str
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace
        super().__init__(
            instance_id,
            f"workflow {short(instance_id)!r} {status}: {error_type}: {error_message}",
        )

    def _render_traceback_(self) -> list[str]:
        """The failure, then the failed step's own traceback when it has one: where in
        the step's code it went wrong, which is what a notebook user looks for."""
        lines = super()._render_traceback_()
        if self.stack_trace.strip():
            lines += ["", "The step's traceback:", *self.stack_trace.rstrip().splitlines()]
        return lines


class UnknownStep(InstanceError):
    """A step id that the instance's definition does not have."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, instance_id: str, step: str, hint: str = "") -> None:
        self.step = step
        message = f"workflow {short(instance_id)!r} has no step {short(step)!r}"
        super().__init__(instance_id, f"{message}; {hint}" if hint else message)


_BUDGET_SETTINGS = {"cost": "expression_budget", "result": "expression_max_result"}


class ExpressionBudgetExceeded(WfkitError):
    """Evaluating an expression with the data it would see was refused before it ran: its
    estimated cost (``measure`` "cost", in units of about one element copied) or the
    size of its result (``measure`` "result", characters of JSON) is over ``limit``."""

    category = ErrorCategory.RESOURCE_EXHAUSTED

    def __init__(self, source: str, measure: str, estimate: int, limit: int) -> None:
        self.source = source
        self.measure = measure
        self.estimate = estimate
        self.limit = limit
        shown = source.strip()
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        what = (
            f"would cost about {estimate:,} units, over the budget of {limit:,}"
            if measure == "cost"
            else f"would give a result of about {estimate:,} characters, over the limit "
            f"of {limit:,}"
        )
        super().__init__(
            f"${{{{ {shown} }}}} {what} (setting {_BUDGET_SETTINGS.get(measure, measure)}); "
            "it was not evaluated. Its macros (map, filter, all, exists) range over too much "
            "data, or it builds a value by repetition: work on less data, or do it in a call "
            "step"
        )


class ForeachTooWide(InstanceError):
    """A ``foreach`` gave more items than the foreach width limit: the step fails with
    this error (not retried) instead of scheduling them. ``step`` is the step, ``items``
    how many its list had and ``limit`` the limit."""

    category = ErrorCategory.RESOURCE_EXHAUSTED

    def __init__(self, instance_id: str, step: str, items: int, limit: int) -> None:
        self.step = step
        self.items = items
        self.limit = limit
        super().__init__(
            instance_id,
            f"step {short(step)!r}: its foreach gave {items:,} items, over the limit of {limit:,} "
            "on a foreach's width (each item is a task whose events the instance's history "
            "keeps); split the list into batches (a foreach over batches, each step taking "
            "many items), or raise the limit with the max_foreach_items setting "
            "(WFKIT_MAX_FOREACH_ITEMS)",
        )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB" if size >= 1 << 20 else f"{size} bytes"


class OutputTooLarge(InstanceError):
    """A step's output is bigger (as JSON text, in UTF-8 bytes) than the output size
    limit: the step fails with this error instead of its output reaching the store.

    ``step`` is the step (empty for an event's data, which would become a wait step's
    output), ``size`` the size found (or a lower bound of it) and ``limit`` the limit,
    both in bytes; ``what`` says what was too large."""

    category = ErrorCategory.RESOURCE_EXHAUSTED

    def __init__(self, instance_id: str, step: str, what: str, size: int, limit: int) -> None:
        self.step = step
        self.size = size
        self.limit = limit
        super().__init__(
            instance_id,
            f"{what} is {_mib(size)} of JSON, over the {_mib(limit)} limit on a step's "
            "output (the store keeps every output in the instance's history, and every "
            "reader loads it); write large data to a file or a database and return its "
            "path or key, or raise the limit with the max_output_bytes setting "
            "(WFKIT_MAX_OUTPUT_BYTES)",
        )


class EventBufferFull(InstanceError):
    """An instance already holds ``limit`` events that no wait step has consumed yet;
    the event ``event`` was not sent."""

    category = ErrorCategory.RESOURCE_EXHAUSTED

    def __init__(self, instance_id: str, event: str, limit: int) -> None:
        self.event = event
        self.limit = limit
        super().__init__(
            instance_id,
            f"cannot send event {short(event)!r} to instance '{short(instance_id)}' (nothing "
            f"was sent): it already holds {limit} events that no wait step has consumed, "
            "the limit; check that its wait steps wait for the names you send, or raise "
            "the limit with the max_buffered_events setting (WFKIT_MAX_BUFFERED_EVENTS)",
        )


class UnknownStatus(WfkitError, ValueError):
    """A runtime status asked for (to filter a listing, say) that does not exist."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, status: str, known: list[str], hint: str = "") -> None:
        self.status = status
        message = f"no runtime status {status!r}; the statuses are {', '.join(known)}"
        super().__init__(f"{message}; {hint}" if hint else message)


class UnknownRunner(WfkitError, ValueError):
    """The ``runner`` setting names no step runner this installation has."""

    category = ErrorCategory.INVALID_ARGUMENT

    def __init__(self, name: str, known: list[str], hint: str = "") -> None:
        self.name = name
        self.known = sorted(known)
        message = (
            f"no step runner named {short(name)!r}; the runners are {', '.join(self.known)} "
            "(set by the runner setting, --runner or $WFKIT_RUNNER)"
        )
        super().__init__(f"{message}; {hint}" if hint else message)


class RunnerUnavailable(WfkitError):
    """A step runner cannot be opened: the package it needs is not installed (the message
    names the extra to install), or the cluster it sends steps to cannot be reached."""

    category = ErrorCategory.UNAVAILABLE

    def __init__(self, runner: str, message: str) -> None:
        self.runner = runner
        super().__init__(message)


class StoreError(WfkitError):
    """The store cannot be opened or used; ``url`` names it (without a password).

    ``retryable`` is True when the failure comes from the store's condition (busy, disk
    or file system full, an I/O error) and the same write may succeed later; False when
    it comes from what was written (a value too big for the store, say): retrying that
    write can never succeed."""

    category = ErrorCategory.UNAVAILABLE

    def __init__(self, url: str, message: str, *, retryable: bool = False) -> None:
        self.url = url
        self.retryable = retryable
        super().__init__(f"store {url}: {message}")


class VersionConflict(WfkitError):
    """The instance's history changed since it was read; read it again and retry."""

    category = ErrorCategory.CONFLICT

    def __init__(self, instance_id: str, expected: int, actual: int | None) -> None:
        self.instance_id = instance_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"history of workflow {short(instance_id)!r} changed (expected version {expected}, "
            f"found {actual}); read it again and retry"
        )


class ErrNotImplemented(WfkitError, NotImplementedError):
    """Dapr's ``ErrNotImplemented``: this component does not do the requested operation."""

    category = ErrorCategory.NOT_IMPLEMENTED

    MESSAGE = "this component doesn't implement the current API operation"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


class UnknownEventWarning(UserWarning):
    """An event was sent to an instance whose workflow has no wait step for its name: it
    is buffered, and nothing will ever take it (names are matched case-insensitively).

    ``instance_id``, ``workflow_name`` and ``event`` say what was sent where;
    ``expected`` lists the event names the workflow's wait steps take; ``hint`` is the
    likely fix (the closest name, or the child instance whose workflow waits for it).
    """

    def __init__(
        self,
        *,
        instance_id: str,
        workflow_name: str,
        event: str,
        expected: list[str],
        hint: str = "",
    ) -> None:
        self.instance_id = instance_id
        self.workflow_name = workflow_name
        self.event = event
        self.expected = expected
        self.hint = hint
        waits = ", ".join(repr(short(e)) for e in expected) if expected else "no events"
        message = (
            f"no wait step of workflow {short(workflow_name)!r} takes event {short(event)!r}: "
            f"instance '{short(instance_id)}' keeps it buffered, unused (it waits for {waits})"
        )
        super().__init__(f"{message}; {hint}" if hint else message)
