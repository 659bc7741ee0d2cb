"""The workflow contract: Dapr's workflow component interface, in Python.

The request and response records are frozen dataclasses whose ``to_json()`` and
``from_json()`` use exactly the JSON names of Dapr's Go structs
(``github.com/dapr/components-contrib/workflows``); :class:`Workflow` is the abstract
interface whose default methods raise :class:`~wfkit.errors.ErrNotImplemented`.

Encoding rules (DESIGN.md section 2 wins where it and Dapr's Go source differ):

* **Payloads** (``StartRequest.workflow_input``, ``RaiseEventRequest.event_data``) are
  ``bytes`` of UTF-8 JSON text, or ``None``. In JSON they travel as a *string holding that
  JSON text* (``{"workflowInput": "{\\"region\\": \\"eu\\"}"}``), or ``null``. Dapr's Go
  field is ``WorkflowInput []byte `json:"workflowInput"```, which Go's ``encoding/json``
  would write as base64; wfkit follows DESIGN.md ("JSON text") so the wire stays readable
  and a payload is never decoded twice. The records refuse bytes that are not JSON text.
* **Times** are RFC 3339 in UTC with microseconds: ``2026-11-27T05:40:28.123456Z``.
  ``from_json`` accepts any RFC 3339 offset (``Z``, ``+00:00``, ``+02:00``...) and any
  number of fractional digits (beyond microseconds they are truncated); stored datetimes
  are converted to UTC. Naive datetimes and times without an offset are refused: a time
  without a zone is ambiguous, and guessing causes bugs that show up months later.
* **Missing and null**: a field with a default may be absent or ``null`` (both give the
  default, as Go's zero values do); a field without one is required. Unknown keys are
  ignored, so newer peers may add fields.
* Every problem in ``from_json`` raises :class:`ContractError`, naming the record, the
  JSON name and the Python name of the field.

The field codecs and the records' shared base are in :mod:`wfkit.engine.wire.codec`,
the time helpers in :mod:`wfkit.engine.wire.timestamps`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.wire.codec import (
    BOOL,
    JSON_TEXT,
    STATUS,
    STR,
    STR_MAP,
    TIME,
    Codec,
    CodecError,
    Record,
    checked_payload,
    decode_status,
    kind_of,
    meta,
)
from wfkit.engine.wire.timestamps import format_time, parse_time, utc_field
from wfkit.errors import ContractError, ErrNotImplemented

__all__ = [
    "PROP_CUSTOM_STATUS",
    "PROP_FAILURE_ERROR_MESSAGE",
    "PROP_FAILURE_ERROR_TYPE",
    "PROP_FAILURE_STACK_TRACE",
    "PROP_INPUT",
    "PROP_OUTPUT",
    "WFKIT_PREFIX",
    "ContractError",
    "GetRequest",
    "Metadata",
    "PauseRequest",
    "PurgeRequest",
    "RaiseEventRequest",
    "ResumeRequest",
    "StartRequest",
    "StartResponse",
    "StateResponse",
    "TerminateRequest",
    "Workflow",
    "WorkflowState",
    "format_time",
    "parse_time",
]

PROP_INPUT = "dapr.workflow.input"
"""Property key of the instance's input (JSON text)."""
PROP_OUTPUT = "dapr.workflow.output"
"""Property key of the instance's output (JSON text); absent when the run failed."""
PROP_CUSTOM_STATUS = "dapr.workflow.custom_status"
"""Property key of the instance's custom status."""
PROP_FAILURE_ERROR_TYPE = "dapr.workflow.failure.error_type"
"""Property key of the failure's error type, when the run failed."""
PROP_FAILURE_ERROR_MESSAGE = "dapr.workflow.failure.error_message"
"""Property key of the failure's message, when the run failed."""
PROP_FAILURE_STACK_TRACE = "dapr.workflow.failure.stack_trace"
"""Property key of the failure's stack trace, when the run failed."""
WFKIT_PREFIX = "wfkit."
"""Prefix of wfkit's own property keys (definition hash, steps running, and so on)."""


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Metadata(Record):
    """Component settings handed to :meth:`Workflow.init` (Go ``Metadata``)."""

    name: str = field(metadata=meta("name", STR))
    properties: dict[str, str] = field(default_factory=dict, metadata=meta("properties", STR_MAP))

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", dict(self.properties))


@dataclass(frozen=True)
class StartRequest(Record):
    """Start a run of ``workflow_name``; an empty ``instance_id`` gets a new uuid4.

    ``workflow_input`` is UTF-8 JSON text, or ``None`` for no input.
    """

    instance_id: str = field(default="", metadata=meta("instanceID", STR))
    options: dict[str, str] = field(default_factory=dict, metadata=meta("options", STR_MAP))
    workflow_name: str = field(default="", metadata=meta("workflowName", STR))
    workflow_input: bytes | None = field(default=None, metadata=meta("workflowInput", JSON_TEXT))

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", dict(self.options))
        payload = checked_payload(
            "StartRequest", "workflowInput", "workflow_input", self.workflow_input
        )
        object.__setattr__(self, "workflow_input", payload)


@dataclass(frozen=True)
class StartResponse(Record):
    """The id of the instance a :meth:`Workflow.start` created."""

    instance_id: str = field(metadata=meta("instanceID", STR))


@dataclass(frozen=True)
class TerminateRequest(Record):
    """Terminate an instance, and by default its child workflows."""

    instance_id: str = field(metadata=meta("instanceID", STR))
    recursive: bool = field(default=True, metadata=meta("recursive", BOOL))


@dataclass(frozen=True)
class GetRequest(Record):
    """Ask for the state of an instance."""

    instance_id: str = field(metadata=meta("instanceID", STR))


@dataclass(frozen=True)
class WorkflowState(Record):
    """The state of one instance as :meth:`Workflow.get` reports it.

    ``created_at`` travels as ``startedAt`` (Dapr's name). Both times are aware UTC
    datetimes; ``properties`` holds the ``dapr.workflow.*`` and ``wfkit.*`` keys.
    """

    instance_id: str = field(metadata=meta("instanceID", STR))
    workflow_name: str = field(metadata=meta("workflowName", STR))
    created_at: datetime = field(metadata=meta("startedAt", TIME))
    last_updated_at: datetime = field(metadata=meta("lastUpdatedAt", TIME))
    runtime_status: RuntimeStatus = field(metadata=meta("runtimeStatus", STATUS))
    properties: dict[str, str] = field(default_factory=dict, metadata=meta("properties", STR_MAP))

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(
            self,
            "created_at",
            utc_field(self.created_at, "WorkflowState", "startedAt", "created_at"),
        )
        set_(
            self,
            "last_updated_at",
            utc_field(self.last_updated_at, "WorkflowState", "lastUpdatedAt", "last_updated_at"),
        )
        if not isinstance(self.runtime_status, RuntimeStatus):
            try:
                set_(self, "runtime_status", decode_status(self.runtime_status))
            except CodecError as exc:
                raise ContractError(
                    "WorkflowState", "runtimeStatus", "runtime_status", str(exc)
                ) from None
        set_(self, "properties", dict(self.properties))


def _decode_state(value: object) -> WorkflowState:
    if not isinstance(value, Mapping):
        raise CodecError(f"must be an object, got {kind_of(value)}")
    try:
        return WorkflowState.from_json(value)
    except ContractError as exc:
        raise CodecError(exc.problem, inner=exc) from None


def _encode_state(value: WorkflowState) -> object:
    return value.to_json()


@dataclass(frozen=True)
class StateResponse(Record):
    """What :meth:`Workflow.get` returns: the instance's state under ``workflow``."""

    workflow: WorkflowState = field(metadata=meta("workflow", Codec(_decode_state, _encode_state)))


@dataclass(frozen=True)
class RaiseEventRequest(Record):
    """Deliver event ``event_name`` (JSON ``name``) with ``event_data`` (JSON ``data``).

    ``event_data`` is UTF-8 JSON text, or ``None`` for an event without data.
    """

    instance_id: str = field(metadata=meta("instanceID", STR))
    event_name: str = field(metadata=meta("name", STR))
    event_data: bytes | None = field(default=None, metadata=meta("data", JSON_TEXT))

    def __post_init__(self) -> None:
        payload = checked_payload("RaiseEventRequest", "data", "event_data", self.event_data)
        object.__setattr__(self, "event_data", payload)


@dataclass(frozen=True)
class PurgeRequest(Record):
    """Delete a finished instance's state, history and buffered events; recursive by default."""

    instance_id: str = field(metadata=meta("instanceID", STR))
    recursive: bool = field(default=True, metadata=meta("recursive", BOOL))


@dataclass(frozen=True)
class PauseRequest(Record):
    """Suspend an instance at the next point between steps."""

    instance_id: str = field(metadata=meta("instanceID", STR))


@dataclass(frozen=True)
class ResumeRequest(Record):
    """Resume a suspended instance."""

    instance_id: str = field(metadata=meta("instanceID", STR))


# ---------------------------------------------------------------- the interface


class Workflow(abc.ABC):  # noqa: B024 - every method has a default, as Dapr's contract says
    """The workflow component interface (Go ``workflows.Workflow``).

    Every method's default raises :class:`~wfkit.errors.ErrNotImplemented`, so a component
    implements only the operations it supports. A workflow is a context manager:
    ``with component:`` calls :meth:`close` on the way out.
    """

    def init(self, metadata: Metadata) -> None:
        """Configure the component from its settings."""
        raise ErrNotImplemented()

    def start(self, req: StartRequest) -> StartResponse:
        """Start a run; returns the instance id."""
        raise ErrNotImplemented()

    def terminate(self, req: TerminateRequest) -> None:
        """Terminate a run (a no-op on a finished one)."""
        raise ErrNotImplemented()

    def get(self, req: GetRequest) -> StateResponse:
        """Report an instance's state."""
        raise ErrNotImplemented()

    def raise_event(self, req: RaiseEventRequest) -> None:
        """Deliver an event to an instance."""
        raise ErrNotImplemented()

    def purge(self, req: PurgeRequest) -> None:
        """Delete a finished instance's state and history."""
        raise ErrNotImplemented()

    def pause(self, req: PauseRequest) -> None:
        """Suspend an instance between steps."""
        raise ErrNotImplemented()

    def resume(self, req: ResumeRequest) -> None:
        """Resume a suspended instance."""
        raise ErrNotImplemented()

    def close(self) -> None:
        """Release the component's resources (Go ``io.Closer``)."""
        raise ErrNotImplemented()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
