"""The workflow contract: JSON names and encodings, statuses, the transition table, the ABC."""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfkit.engine.core import status
from wfkit.engine.core.status import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    IllegalTransition,
    Operation,
    Outcome,
    RuntimeStatus,
    StepStatus,
    check_transition,
)
from wfkit.engine.wire import contract
from wfkit.engine.wire.contract import (
    PROP_CUSTOM_STATUS,
    PROP_FAILURE_ERROR_MESSAGE,
    PROP_FAILURE_ERROR_TYPE,
    PROP_FAILURE_STACK_TRACE,
    PROP_INPUT,
    PROP_OUTPUT,
    WFKIT_PREFIX,
    ContractError,
    GetRequest,
    Metadata,
    PauseRequest,
    PurgeRequest,
    RaiseEventRequest,
    ResumeRequest,
    StartRequest,
    StartResponse,
    StateResponse,
    TerminateRequest,
    Workflow,
    WorkflowState,
    format_time,
    parse_time,
)
from wfkit.errors import ErrNotImplemented, WfkitError

# ---------------------------------------------------------------- statuses

DAPR_STATUSES = [
    "RUNNING",
    "COMPLETED",
    "CONTINUED_AS_NEW",
    "FAILED",
    "CANCELED",
    "TERMINATED",
    "PENDING",
    "SUSPENDED",
]


def test_runtime_status_values_are_daprs_strings() -> None:
    assert [s.value for s in RuntimeStatus] == DAPR_STATUSES
    for s in RuntimeStatus:
        assert s.value == s.name
        assert s == s.value
        assert str(s) == s.value
        assert f"{s}" == s.value
        assert RuntimeStatus(s.value) is s


@pytest.mark.parametrize("name", DAPR_STATUSES)
def test_terminal_statuses(name: str) -> None:
    expected = name in {"COMPLETED", "FAILED", "TERMINATED", "CANCELED"}
    assert RuntimeStatus(name).is_terminal is expected
    assert (RuntimeStatus(name) in TERMINAL_STATUSES) is expected


def test_step_status_values() -> None:
    assert [s.value for s in StepStatus] == [
        "pending",
        "running",
        "waiting",
        "completed",
        "failed",
        "skipped",
        "canceled",
    ]
    assert {s for s in StepStatus if s.is_terminal} == {
        StepStatus.COMPLETED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
        StepStatus.CANCELED,
    }


# ---------------------------------------------------------------- transitions

# A = applies, N = no-op, X = refused. Written out by hand, one row per status, so that the
# table in status.py is checked against an independent statement of DESIGN.md section 3.
OPERATIONS = [
    "start",
    "pause",
    "resume",
    "terminate",
    "purge",
    "raise_event",
    "retry",
    "break_before",
]
EXPECTED_TABLE = {
    #                   start pause resume terminate purge raise_event retry break_before
    "PENDING": "X A N A X A X A",
    "RUNNING": "X A N A X A X A",
    "CONTINUED_AS_NEW": "X A N A X A X A",
    "SUSPENDED": "X N A A X A X A",
    "COMPLETED": "A X X N A N X X",
    "FAILED": "A X X N A N A X",
    "TERMINATED": "A X X N A N X X",
    "CANCELED": "A X X N A N X X",
}
PAIRS = [
    (name, op, code)
    for name, row in EXPECTED_TABLE.items()
    for op, code in zip(OPERATIONS, row.split(), strict=True)
]


def test_operation_names() -> None:
    assert [op.value for op in Operation] == OPERATIONS


def test_table_covers_every_pair_exactly() -> None:
    assert set(EXPECTED_TABLE) == set(DAPR_STATUSES)
    assert set(TRANSITIONS) == {(s, op) for s in RuntimeStatus for op in Operation}
    assert len(TRANSITIONS) == 64


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[RuntimeStatus.RUNNING, Operation.PURGE] = Outcome.APPLY  # type: ignore[index]


@pytest.mark.parametrize(("name", "op", "code"), PAIRS)
def test_check_transition_every_pair(name: str, op: str, code: str) -> None:
    st_, operation = RuntimeStatus(name), Operation(op)
    if code == "X":
        with pytest.raises(IllegalTransition) as info:
            check_transition(st_, operation, "inst-1")
        err = info.value
        assert isinstance(err, WfkitError)
        assert (err.instance_id, err.status, err.operation) == ("inst-1", st_, operation)
        assert "'inst-1'" in err.message
        assert err.hint
        assert str(err) == f"{err.message}; {err.hint}"
    else:
        expected = Outcome.APPLY if code == "A" else Outcome.NO_OP
        assert check_transition(st_, operation, "inst-1") is expected


@pytest.mark.parametrize("name", ["PENDING", "RUNNING", "SUSPENDED", "CONTINUED_AS_NEW"])
def test_start_over_active_instance_message(name: str) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(RuntimeStatus(name), Operation.START, "order-7")
    assert info.value.message == "an active workflow with ID 'order-7' already exists"
    assert name in info.value.hint


@pytest.mark.parametrize("name", ["PENDING", "RUNNING", "SUSPENDED", "CONTINUED_AS_NEW"])
def test_purge_of_active_instance_message(name: str) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(RuntimeStatus(name), Operation.PURGE, "order-7")
    assert info.value.message == "workflow 'order-7' has not yet completed"
    assert "terminate" in info.value.hint


@pytest.mark.parametrize("name", ["COMPLETED", "FAILED", "TERMINATED", "CANCELED"])
def test_pause_and_resume_of_finished_instance_messages(name: str) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(RuntimeStatus(name), Operation.PAUSE, "order-7")
    assert info.value.message == f"cannot pause workflow 'order-7': it is {name}"
    with pytest.raises(IllegalTransition) as info:
        check_transition(RuntimeStatus(name), Operation.RESUME, "order-7")
    assert info.value.message == f"cannot resume workflow 'order-7': it is {name}"


def test_message_does_not_interpret_braces_in_the_id() -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(RuntimeStatus.RUNNING, Operation.PURGE, "{status}{0}")
    assert info.value.message == "workflow '{status}{0}' has not yet completed"


def test_check_transition_accepts_plain_strings() -> None:
    assert check_transition("SUSPENDED", "pause", "a") is Outcome.NO_OP  # type: ignore[arg-type]


# ---------------------------------------------------------------- strategies

T0 = datetime(2026, 11, 27, 5, 40, 28, 123456, tzinfo=UTC)

texts = st.text(max_size=20)
str_maps = st.dictionaries(texts, texts, max_size=4)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
payloads = st.none() | json_values.map(lambda v: json.dumps(v).encode("utf-8"))
offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)
aware_times = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets
)
states = st.builds(
    WorkflowState,
    instance_id=texts,
    workflow_name=texts,
    created_at=aware_times,
    last_updated_at=aware_times,
    runtime_status=st.sampled_from(RuntimeStatus),
    properties=str_maps,
)
RECORDS: dict[type[Any], st.SearchStrategy[Any]] = {
    Metadata: st.builds(Metadata, name=texts, properties=str_maps),
    StartRequest: st.builds(
        StartRequest,
        instance_id=texts,
        options=str_maps,
        workflow_name=texts,
        workflow_input=payloads,
    ),
    StartResponse: st.builds(StartResponse, instance_id=texts),
    TerminateRequest: st.builds(TerminateRequest, instance_id=texts, recursive=st.booleans()),
    GetRequest: st.builds(GetRequest, instance_id=texts),
    WorkflowState: states,
    StateResponse: st.builds(StateResponse, workflow=states),
    RaiseEventRequest: st.builds(
        RaiseEventRequest, instance_id=texts, event_name=texts, event_data=payloads
    ),
    PurgeRequest: st.builds(PurgeRequest, instance_id=texts, recursive=st.booleans()),
    PauseRequest: st.builds(PauseRequest, instance_id=texts),
    ResumeRequest: st.builds(ResumeRequest, instance_id=texts),
}
any_record = st.one_of(*RECORDS.values())


# ---------------------------------------------------------------- round trips


@given(any_record)
def test_round_trip_through_json_text(record: Any) -> None:
    as_text = json.dumps(record.to_json())
    again = type(record).from_json(json.loads(as_text))
    assert again == record
    assert again.to_json() == record.to_json()


@pytest.mark.parametrize("cls", list(RECORDS), ids=lambda c: c.__name__)
def test_every_record_is_covered_and_frozen(cls: type[Any]) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_every_public_record_has_a_strategy() -> None:
    records = {
        obj
        for name in contract.__all__
        if isinstance(obj := getattr(contract, name), type) and dataclasses.is_dataclass(obj)
    }
    assert records == set(RECORDS)


# ---------------------------------------------------------------- exact JSON names

STATE_JSON = {
    "instanceID": "order-7",
    "workflowName": "churn-report",
    "startedAt": "2026-11-27T05:40:28.123456Z",
    "lastUpdatedAt": "2026-11-27T05:41:00.000000Z",
    "runtimeStatus": "RUNNING",
    "properties": {PROP_INPUT: '{"region": "eu"}'},
}
STATE = WorkflowState(
    instance_id="order-7",
    workflow_name="churn-report",
    created_at=T0,
    last_updated_at=datetime(2026, 11, 27, 5, 41, tzinfo=UTC),
    runtime_status=RuntimeStatus.RUNNING,
    properties={PROP_INPUT: '{"region": "eu"}'},
)

EXACT = [
    (Metadata("dapr", {"store": "sqlite:///:memory:"}),
     {"name": "dapr", "properties": {"store": "sqlite:///:memory:"}}),
    (StartRequest("order-7", {"k": "v"}, "churn-report", b'{"region": "eu"}'),
     {"instanceID": "order-7", "options": {"k": "v"}, "workflowName": "churn-report",
      "workflowInput": '{"region": "eu"}'}),
    (StartRequest(),
     {"instanceID": "", "options": {}, "workflowName": "", "workflowInput": None}),
    (StartResponse("order-7"), {"instanceID": "order-7"}),
    (TerminateRequest("order-7"), {"instanceID": "order-7", "recursive": True}),
    (TerminateRequest("order-7", recursive=False), {"instanceID": "order-7", "recursive": False}),
    (GetRequest("order-7"), {"instanceID": "order-7"}),
    (STATE, STATE_JSON),
    (StateResponse(STATE), {"workflow": STATE_JSON}),
    (RaiseEventRequest("order-7", "model-approved", b'{"ok": true}'),
     {"instanceID": "order-7", "name": "model-approved", "data": '{"ok": true}'}),
    (RaiseEventRequest("order-7", "ping"), {"instanceID": "order-7", "name": "ping", "data": None}),
    (PurgeRequest("order-7"), {"instanceID": "order-7", "recursive": True}),
    (PauseRequest("order-7"), {"instanceID": "order-7"}),
    (ResumeRequest("order-7"), {"instanceID": "order-7"}),
]  # fmt: skip


@pytest.mark.parametrize(("record", "expected"), EXACT, ids=lambda v: type(v).__name__)
def test_exact_json(record: Any, expected: dict[str, Any]) -> None:
    produced = record.to_json()
    assert list(produced) == list(expected)  # the keys, literally and in order
    assert produced == expected
    assert type(record).from_json(expected) == record


def test_property_keys() -> None:
    assert PROP_INPUT == "dapr.workflow.input"
    assert PROP_OUTPUT == "dapr.workflow.output"
    assert PROP_CUSTOM_STATUS == "dapr.workflow.custom_status"
    assert PROP_FAILURE_ERROR_TYPE == "dapr.workflow.failure.error_type"
    assert PROP_FAILURE_ERROR_MESSAGE == "dapr.workflow.failure.error_message"
    assert PROP_FAILURE_STACK_TRACE == "dapr.workflow.failure.stack_trace"
    assert WFKIT_PREFIX == "wfkit."


def test_defaults() -> None:
    req = StartRequest()
    assert (req.instance_id, req.options, req.workflow_name, req.workflow_input) == (
        "",
        {},
        "",
        None,
    )
    assert TerminateRequest("a").recursive is True
    assert PurgeRequest("a").recursive is True
    assert RaiseEventRequest("a", "e").event_data is None
    assert StartRequest().options is not StartRequest().options


def test_records_copy_the_dicts_they_are_given() -> None:
    options = {"k": "v"}
    req = StartRequest(options=options)
    options["k"] = "changed"
    assert req.options == {"k": "v"}


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        GetRequest("a").instance_id = "b"  # type: ignore[misc]


# ---------------------------------------------------------------- payloads are JSON text


@given(json_values)
def test_payload_travels_as_its_json_text(value: object) -> None:
    text = json.dumps(value)
    produced = StartRequest(workflow_input=text.encode()).to_json()["workflowInput"]
    assert produced == text  # the text itself: not base64, not the parsed value
    assert json.loads(json.dumps({"data": produced}))["data"] == text
    event = RaiseEventRequest.from_json({"instanceID": "a", "name": "e", "data": text})
    assert event.event_data == text.encode()


def test_non_ascii_payload_is_utf8() -> None:
    req = StartRequest.from_json({"workflowInput": '{"city": "Zürich"}'})
    assert req.workflow_input == '{"city": "Zürich"}'.encode()


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_payload_is_none(empty: str | None) -> None:
    assert StartRequest.from_json({"workflowInput": empty}).workflow_input is None
    assert RaiseEventRequest("a", "e", b"").event_data is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"region": "eu"}, "must be a string holding JSON text, got an object"),
        (5, "must be a string holding JSON text, got a number"),
        ("not json", "must hold UTF-8 JSON text"),
        ("NaN", "must hold UTF-8 JSON text"),
        ('{"a": 1', "must hold UTF-8 JSON text"),
    ],
)
def test_bad_payload_json(value: object, problem: str) -> None:
    with pytest.raises(ContractError) as info:
        StartRequest.from_json({"workflowInput": value})
    err = info.value
    assert (err.record, err.json_name, err.field) == (
        "StartRequest",
        "workflowInput",
        "workflow_input",
    )
    assert problem in err.problem


@pytest.mark.parametrize("data", [b"\xff\xfe", b"hello", "text"])
def test_bad_payload_in_constructor(data: Any) -> None:
    with pytest.raises(ContractError, match=r"'data' \(event_data\)"):
        RaiseEventRequest("a", "e", data)


# ---------------------------------------------------------------- RFC 3339


def test_format_time_is_utc_with_microseconds_and_z() -> None:
    assert format_time(T0) == "2026-11-27T05:40:28.123456Z"
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    plus_two = datetime(2026, 11, 27, 7, 40, 28, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(plus_two) == "2026-11-27T05:40:28.123456Z"
    assert format_time(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27T05:40:28.123456Z",
        "2026-11-27t05:40:28.123456z",
        "2026-11-27T05:40:28.123456+00:00",
        "2026-11-27T05:40:28.123456-00:00",
        "2026-11-27T07:40:28.123456+02:00",
        "2026-11-27T00:10:28.123456-05:30",
        "2026-11-27T05:40:28.123456789Z",  # Go's nanoseconds: truncated
        "2026-11-27T05:40:28.1234564Z",
    ],
)
def test_parse_time_accepts_offsets(text: str) -> None:
    moment = parse_time(text)
    assert moment == T0
    assert moment.tzinfo is UTC


def test_parse_time_fraction_digits() -> None:
    assert parse_time("2026-11-27T05:40:28Z") == T0.replace(microsecond=0)
    assert parse_time("2026-11-27T05:40:28.1Z").microsecond == 100000
    assert parse_time("2026-11-27T05:40:28.000123Z").microsecond == 123


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-11-27T05:40:28.123456", "has no UTC offset"),
        ("2026-11-27 05:40:28Z", "is not a time like"),
        ("2026-11-27", "is not a time like"),
        ("yesterday", "is not a time like"),
        ("2026-11-27T05:40:28+0200", "is not a time like"),
        ("2026-11-27T05:40:28+24:00", "invalid UTC offset"),
        ("2026-11-27T05:40:28+02:60", "invalid UTC offset"),
        ("2026-02-30T05:40:28Z", "is not a valid time"),
        ("2026-11-27T23:59:60Z", "is not a valid time"),
        ("0001-01-01T00:00:00+01:00", "is not a valid time"),
        ("٢٠٢٦-11-27T05:40:28Z", "is not a time like"),  # non-ASCII digits
    ],
)
def test_parse_time_rejects(text: str, problem: str) -> None:
    with pytest.raises(ContractError) as info:
        parse_time(text)
    assert problem in str(info.value)


@given(aware_times)
def test_time_round_trip(moment: datetime) -> None:
    text = format_time(moment)
    assert text.endswith("Z")
    assert len(text) == len("2026-11-27T05:40:28.123456Z")
    assert parse_time(text) == moment
    assert format_time(parse_time(text)) == text


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 27, 5, 40, 28)
    with pytest.raises(ContractError, match="aware"):
        format_time(naive)
    with pytest.raises(ContractError) as info:
        dataclasses.replace(STATE, last_updated_at=naive)
    assert (info.value.json_name, info.value.field) == ("lastUpdatedAt", "last_updated_at")


def test_state_times_are_stored_in_utc() -> None:
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    state = dataclasses.replace(STATE, created_at=plus_two)
    assert state.created_at.tzinfo is UTC
    assert state.created_at == T0
    assert state.to_json()["startedAt"] == "2026-11-27T05:40:28.123456Z"


def test_state_status_from_string_is_coerced() -> None:
    state = dataclasses.replace(STATE, runtime_status="SUSPENDED")  # type: ignore[arg-type]
    assert state.runtime_status is RuntimeStatus.SUSPENDED
    with pytest.raises(ContractError, match="runtimeStatus"):
        dataclasses.replace(STATE, runtime_status="paused")  # type: ignore[arg-type]


# ---------------------------------------------------------------- from_json errors


def _state_with(**changes: object) -> dict[str, object]:
    data: dict[str, object] = dict(STATE_JSON)
    for key, value in changes.items():
        if value is _DROP:
            del data[key]
        else:
            data[key] = value
    return data


_DROP = object()

BAD = [
    (GetRequest, {}, "instanceID", "instance_id", "is missing"),
    (GetRequest, {"instanceID": None}, "instanceID", "instance_id", "must be a string, got null"),
    (GetRequest, {"instanceID": 7}, "instanceID", "instance_id", "must be a string, got a number"),
    (StartResponse, {"instanceID": ["a"]}, "instanceID", "instance_id", "got an array"),
    (Metadata, {"properties": {}}, "name", "name", "is missing"),
    (Metadata, {"name": "m", "properties": {"workers": 4}}, "properties", "properties",
     "'workers' holds a number"),
    (Metadata, {"name": "m", "properties": ["a"]}, "properties", "properties",
     "must be an object of strings, got an array"),
    (StartRequest, {"options": "x"}, "options", "options", "must be an object of strings"),
    (StartRequest, {"workflowName": 1.5}, "workflowName", "workflow_name", "got a number"),
    (TerminateRequest, {"instanceID": "a", "recursive": "yes"}, "recursive", "recursive",
     "must be true or false, got a string"),
    (PurgeRequest, {"instanceID": "a", "recursive": 1}, "recursive", "recursive",
     "must be true or false, got a number"),
    (RaiseEventRequest, {"instanceID": "a"}, "name", "event_name", "is missing"),
    (PauseRequest, {"instanceId": "a"}, "instanceID", "instance_id", "is missing"),
    (ResumeRequest, {"instance_id": "a"}, "instanceID", "instance_id", "is missing"),
    (WorkflowState, _state_with(startedAt=_DROP), "startedAt", "created_at", "is missing"),
    (WorkflowState, _state_with(startedAt=17), "startedAt", "created_at", "got a number"),
    (WorkflowState, _state_with(lastUpdatedAt="2026-11-27T05:40:28"), "lastUpdatedAt",
     "last_updated_at", "has no UTC offset"),
    (WorkflowState, _state_with(runtimeStatus="running"), "runtimeStatus", "runtime_status",
     "must be one of RUNNING, COMPLETED"),
    (WorkflowState, _state_with(workflowName=_DROP), "workflowName", "workflow_name",
     "is missing"),
    (StateResponse, {}, "workflow", "workflow", "is missing"),
    (StateResponse, {"workflow": "x"}, "workflow", "workflow", "must be an object, got a string"),
    (StateResponse, {"workflow": _state_with(runtimeStatus=_DROP)}, "workflow.runtimeStatus",
     "workflow.runtime_status", "is missing"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "data", "json_name", "field", "problem"),
    BAD,
    ids=[f"{case[0].__name__}-{i}" for i, case in enumerate(BAD)],
)
def test_from_json_errors_name_the_field(
    cls: type[Any], data: Mapping[str, Any], json_name: str, field: str, problem: str
) -> None:
    with pytest.raises(ContractError) as info:
        cls.from_json(data)
    err = info.value
    assert isinstance(err, WfkitError)
    assert (err.record, err.json_name, err.field) == (cls.__name__, json_name, field)
    assert problem in err.problem
    assert str(err).startswith(f"bad {cls.__name__}: field '{json_name}' ({field}) ")


@pytest.mark.parametrize("data", [[], "instanceID", None, 3])
def test_from_json_needs_an_object(data: Any) -> None:
    with pytest.raises(ContractError, match=r"^bad GetRequest: must be a JSON object"):
        GetRequest.from_json(data)


def test_unknown_keys_are_ignored_and_null_means_default() -> None:
    req = TerminateRequest.from_json({"instanceID": "a", "recursive": None, "future": 1})
    assert req == TerminateRequest("a", recursive=True)
    assert StartRequest.from_json({"options": None}) == StartRequest()


# ---------------------------------------------------------------- the Workflow interface


class Bare(Workflow):
    """Implements nothing."""


CALLS: list[tuple[str, Callable[[Workflow], object]]] = [
    ("init", lambda w: w.init(Metadata("dapr"))),
    ("start", lambda w: w.start(StartRequest())),
    ("terminate", lambda w: w.terminate(TerminateRequest("a"))),
    ("get", lambda w: w.get(GetRequest("a"))),
    ("raise_event", lambda w: w.raise_event(RaiseEventRequest("a", "e"))),
    ("purge", lambda w: w.purge(PurgeRequest("a"))),
    ("pause", lambda w: w.pause(PauseRequest("a"))),
    ("resume", lambda w: w.resume(ResumeRequest("a"))),
    ("close", lambda w: w.close()),
]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_default_methods_raise_err_not_implemented(
    name: str, call: Callable[[Workflow], object]
) -> None:
    with pytest.raises(ErrNotImplemented) as info:
        call(Bare())
    assert str(info.value) == "this component doesn't implement the current API operation"


def test_calls_cover_the_whole_interface() -> None:
    public = {
        name
        for name, value in vars(Workflow).items()
        if callable(value) and not name.startswith("_")
    }
    assert public == {name for name, _ in CALLS}


class Recorder(Workflow):
    """Records close() calls."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_context_manager_closes() -> None:
    component = Recorder()
    with component as entered:
        assert entered is component
        assert component.closed == 0
    assert component.closed == 1


def test_context_manager_closes_on_error_and_propagates() -> None:
    component = Recorder()
    with pytest.raises(KeyError), component:
        raise KeyError("boom")
    assert component.closed == 1


def test_bare_component_cannot_be_closed() -> None:
    with pytest.raises(ErrNotImplemented), Bare():
        pass


# ---------------------------------------------------------------- module hygiene


@pytest.mark.parametrize("module", [contract, status], ids=lambda m: m.__name__)
def test_all_is_sorted_and_complete(module: Any) -> None:
    # isort-style, as ruff's RUF022 wants: CONSTANTS, then Classes, then functions.
    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert module.__all__ == sorted(module.__all__, key=key)
    for name in module.__all__:
        assert getattr(module, name).__doc__ or name.isupper(), name


@pytest.mark.parametrize("module", [contract, status], ids=lambda m: m.__name__)
def test_engine_modules_do_not_import_upper_layers(module: Any) -> None:
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    forbidden = ("wfkit.store", "wfkit.steps", "wfkit.views", "wfkit.cli", "wfkit.server")
    assert not [name for name in imported if name.startswith(forbidden)]
