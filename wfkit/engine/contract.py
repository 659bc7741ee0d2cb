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
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Self

from wfkit.engine.status import RuntimeStatus
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


class _Bad(Exception):
    """Raised by a codec; turned into a ContractError naming the field.

    ``inner`` is the error of a nested record, whose field names are then joined to the
    outer field's with dots (``workflow.startedAt``).
    """

    def __init__(self, problem: str, inner: ContractError | None = None) -> None:
        super().__init__(problem)
        self.inner = inner


# ---------------------------------------------------------------- times


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)
_TIME_NAME = "RFC 3339 time"


def format_time(moment: datetime) -> str:
    """RFC 3339 text of an aware datetime, in UTC with microseconds: ``...T05:40:28.123456Z``.

    Raises :class:`ContractError` for a naive datetime.
    """
    u = _to_utc(moment)
    if u is None:
        raise ContractError(_TIME_NAME, "", "", f"needs an aware datetime, got {moment!r}")
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T"
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
    )


def parse_time(text: str) -> datetime:
    """An aware UTC datetime from RFC 3339 text (``Z`` or any ``+hh:mm`` offset).

    Fractional seconds beyond microseconds are truncated. Raises :class:`ContractError`
    when the text is not an RFC 3339 time, including a time without an offset.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ContractError(
            _TIME_NAME, "", "", f"{text!r} is not a time like '2026-11-27T05:40:28.123456Z'"
        )
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = match.groups()
    if not zulu and not sign:
        raise ContractError(
            _TIME_NAME, "", "", f"{text!r} has no UTC offset; add 'Z' if it is in UTC"
        )
    offset = timedelta(0)
    if sign:
        if int(oh) > 23 or int(om) > 59:
            raise ContractError(_TIME_NAME, "", "", f"{text!r} has an invalid UTC offset")
        offset = timedelta(hours=int(oh), minutes=int(om))
        if sign == "-":
            offset = -offset
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micro,
            timezone(offset),
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ContractError(_TIME_NAME, "", "", f"{text!r} is not a valid time ({exc})") from None


def _to_utc(moment: object) -> datetime | None:
    """``moment`` in UTC, or None when it is not an aware datetime that fits in UTC."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _utc_field(moment: datetime, record: str, json_name: str, name: str) -> datetime:
    u = _to_utc(moment)
    if u is None:
        raise ContractError(
            record, json_name, name, f"must be an aware datetime within UTC's range, got {moment!r}"
        )
    return u


# ---------------------------------------------------------------- codecs


_KINDS = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    dict: "an object",
    list: "an array",
    bytes: "bytes",
}


def _kind(value: object) -> str:
    """How a JSON value's kind reads in a message: ``a string``, ``null``..."""
    if value is None:
        return "null"
    return _KINDS.get(type(value), f"a {type(value).__name__}")


@dataclass(frozen=True)
class _Codec:
    """How one field travels: decode from a JSON value, encode to one."""

    decode: Callable[[object], Any]
    encode: Callable[[Any], object]


def _decode_str(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be a string, got {_kind(value)}")
    return value


def _decode_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"must be true or false, got {_kind(value)}")
    return value


def _decode_str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Bad(f"must be an object of strings, got {_kind(value)}")
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Bad(f"must map strings to strings, but has the key {key!r}")
        if not isinstance(item, str):
            raise _Bad(f"must map strings to strings, but {key!r} holds {_kind(item)}")
    return dict(value)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _check_json_text(data: bytes) -> None:
    """Raise _Bad unless ``data`` is UTF-8 JSON text (RFC 8259: no NaN or Infinity)."""
    try:
        json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Bad(f"must hold UTF-8 JSON text ({exc})") from None


def _decode_json_text(value: object) -> bytes | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(
            f"must be a string holding JSON text, got {_kind(value)}; "
            "encode the value first (json.dumps)"
        )
    data = value.encode("utf-8")
    _check_json_text(data)
    return data


def _encode_json_text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8")


def _decode_time(value: object) -> datetime:
    text = _decode_str(value)
    try:
        return parse_time(text)
    except ContractError as exc:
        raise _Bad(f"must be an RFC 3339 time: {exc.problem}") from None


def _decode_status(value: object) -> RuntimeStatus:
    text = _decode_str(value)
    try:
        return RuntimeStatus(text)
    except ValueError:
        known = ", ".join(status.value for status in RuntimeStatus)
        raise _Bad(f"must be one of {known}; got {text!r}") from None


def _identity(value: object) -> object:
    return value


_STR = _Codec(_decode_str, _identity)
_BOOL = _Codec(_decode_bool, _identity)
_STR_MAP = _Codec(_decode_str_map, dict)
_JSON_TEXT = _Codec(_decode_json_text, _encode_json_text)
_TIME = _Codec(_decode_time, format_time)
_STATUS = _Codec(_decode_status, str)


def _meta(json_name: str, codec: _Codec) -> dict[str, object]:
    return {"json": json_name, "codec": codec}


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class _Record:
    """Shared ``to_json`` / ``from_json`` over the dataclass fields' ``json`` metadata."""

    def to_json(self) -> dict[str, object]:
        """This record as a JSON-ready dict, with Dapr's JSON names."""
        out: dict[str, object] = {}
        for spec in fields(self):
            codec: _Codec = spec.metadata["codec"]
            out[spec.metadata["json"]] = codec.encode(getattr(self, spec.name))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Build the record from a decoded JSON object; raises ContractError when it is bad."""
        name = cls.__name__
        if not isinstance(data, Mapping):
            raise ContractError(name, "", "", f"must be a JSON object, got {_kind(data)}")
        kwargs: dict[str, Any] = {}
        for spec in fields(cls):
            json_name: str = spec.metadata["json"]
            codec: _Codec = spec.metadata["codec"]
            value = data.get(json_name)
            if value is None:
                if _has_default(spec):
                    continue
                if json_name not in data:
                    raise ContractError(name, json_name, spec.name, "is missing")
            try:
                kwargs[spec.name] = codec.decode(value)
            except _Bad as exc:
                if exc.inner is not None and exc.inner.json_name:
                    json_name = f"{json_name}.{exc.inner.json_name}"
                    raise ContractError(
                        name, json_name, f"{spec.name}.{exc.inner.field}", exc.inner.problem
                    ) from None
                raise ContractError(name, json_name, spec.name, str(exc)) from None
        return cls(**kwargs)


def _has_default(spec: Field[Any]) -> bool:
    return spec.default is not MISSING or spec.default_factory is not MISSING


def _payload(record: str, json_name: str, name: str, value: bytes | None) -> bytes | None:
    """The payload field checked: JSON text as bytes, or None (empty bytes become None)."""
    if value is None or value == b"":
        return None
    if not isinstance(value, bytes):
        raise ContractError(record, json_name, name, f"must be bytes or None, got {_kind(value)}")
    try:
        _check_json_text(value)
    except _Bad as exc:
        raise ContractError(record, json_name, name, str(exc)) from None
    return value


@dataclass(frozen=True)
class Metadata(_Record):
    """Component settings handed to :meth:`Workflow.init` (Go ``Metadata``)."""

    name: str = field(metadata=_meta("name", _STR))
    properties: dict[str, str] = field(default_factory=dict, metadata=_meta("properties", _STR_MAP))

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", dict(self.properties))


@dataclass(frozen=True)
class StartRequest(_Record):
    """Start a run of ``workflow_name``; an empty ``instance_id`` gets a new uuid4.

    ``workflow_input`` is UTF-8 JSON text, or ``None`` for no input.
    """

    instance_id: str = field(default="", metadata=_meta("instanceID", _STR))
    options: dict[str, str] = field(default_factory=dict, metadata=_meta("options", _STR_MAP))
    workflow_name: str = field(default="", metadata=_meta("workflowName", _STR))
    workflow_input: bytes | None = field(default=None, metadata=_meta("workflowInput", _JSON_TEXT))

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", dict(self.options))
        payload = _payload("StartRequest", "workflowInput", "workflow_input", self.workflow_input)
        object.__setattr__(self, "workflow_input", payload)


@dataclass(frozen=True)
class StartResponse(_Record):
    """The id of the instance a :meth:`Workflow.start` created."""

    instance_id: str = field(metadata=_meta("instanceID", _STR))


@dataclass(frozen=True)
class TerminateRequest(_Record):
    """Terminate an instance, and by default its child workflows."""

    instance_id: str = field(metadata=_meta("instanceID", _STR))
    recursive: bool = field(default=True, metadata=_meta("recursive", _BOOL))


@dataclass(frozen=True)
class GetRequest(_Record):
    """Ask for the state of an instance."""

    instance_id: str = field(metadata=_meta("instanceID", _STR))


@dataclass(frozen=True)
class WorkflowState(_Record):
    """The state of one instance as :meth:`Workflow.get` reports it.

    ``created_at`` travels as ``startedAt`` (Dapr's name). Both times are aware UTC
    datetimes; ``properties`` holds the ``dapr.workflow.*`` and ``wfkit.*`` keys.
    """

    instance_id: str = field(metadata=_meta("instanceID", _STR))
    workflow_name: str = field(metadata=_meta("workflowName", _STR))
    created_at: datetime = field(metadata=_meta("startedAt", _TIME))
    last_updated_at: datetime = field(metadata=_meta("lastUpdatedAt", _TIME))
    runtime_status: RuntimeStatus = field(metadata=_meta("runtimeStatus", _STATUS))
    properties: dict[str, str] = field(default_factory=dict, metadata=_meta("properties", _STR_MAP))

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(
            self,
            "created_at",
            _utc_field(self.created_at, "WorkflowState", "startedAt", "created_at"),
        )
        set_(
            self,
            "last_updated_at",
            _utc_field(self.last_updated_at, "WorkflowState", "lastUpdatedAt", "last_updated_at"),
        )
        if not isinstance(self.runtime_status, RuntimeStatus):
            try:
                set_(self, "runtime_status", _decode_status(self.runtime_status))
            except _Bad as exc:
                raise ContractError(
                    "WorkflowState", "runtimeStatus", "runtime_status", str(exc)
                ) from None
        set_(self, "properties", dict(self.properties))


def _decode_state(value: object) -> WorkflowState:
    if not isinstance(value, Mapping):
        raise _Bad(f"must be an object, got {_kind(value)}")
    try:
        return WorkflowState.from_json(value)
    except ContractError as exc:
        raise _Bad(exc.problem, inner=exc) from None


def _encode_state(value: WorkflowState) -> object:
    return value.to_json()


@dataclass(frozen=True)
class StateResponse(_Record):
    """What :meth:`Workflow.get` returns: the instance's state under ``workflow``."""

    workflow: WorkflowState = field(
        metadata=_meta("workflow", _Codec(_decode_state, _encode_state))
    )


@dataclass(frozen=True)
class RaiseEventRequest(_Record):
    """Deliver event ``event_name`` (JSON ``name``) with ``event_data`` (JSON ``data``).

    ``event_data`` is UTF-8 JSON text, or ``None`` for an event without data.
    """

    instance_id: str = field(metadata=_meta("instanceID", _STR))
    event_name: str = field(metadata=_meta("name", _STR))
    event_data: bytes | None = field(default=None, metadata=_meta("data", _JSON_TEXT))

    def __post_init__(self) -> None:
        payload = _payload("RaiseEventRequest", "data", "event_data", self.event_data)
        object.__setattr__(self, "event_data", payload)


@dataclass(frozen=True)
class PurgeRequest(_Record):
    """Delete a finished instance's state, history and buffered events; recursive by default."""

    instance_id: str = field(metadata=_meta("instanceID", _STR))
    recursive: bool = field(default=True, metadata=_meta("recursive", _BOOL))


@dataclass(frozen=True)
class PauseRequest(_Record):
    """Suspend an instance at the next point between steps."""

    instance_id: str = field(metadata=_meta("instanceID", _STR))


@dataclass(frozen=True)
class ResumeRequest(_Record):
    """Resume a suspended instance."""

    instance_id: str = field(metadata=_meta("instanceID", _STR))


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
