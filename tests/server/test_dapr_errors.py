"""Dapr's workflow routes answer every failure as Dapr does: its status, its error code
and its message form, or wfkit's own ERR_WFKIT_* code where Dapr cannot know the case;
never a stack trace."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.server.conftest import Served
from tests.server.dapr_calls import ENDED, WORKFLOWS, wait_status


def _error(reply: httpx.Response, status: int, code: str) -> str:
    """The message of an error reply, after checking its status, code and form."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"errorCode", "message"}
    assert body["errorCode"] == code
    assert "Traceback" not in body["message"]
    message: str = body["message"]
    return message


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("POST", "/terminate"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/purge"),
        ("POST", "/raiseEvent/approved"),
    ],
)
def test_an_unknown_instance_is_not_found(served: Served, method: str, path: str) -> None:
    with served.client() as http:
        reply = http.request(method, f"{WORKFLOWS}/nobody{path}")
    message = _error(reply, 404, "ERR_INSTANCE_ID_NOT_FOUND")
    assert message == "unable to find workflow with the provided instance ID: nobody"


@pytest.mark.parametrize(
    ("method", "path", "code", "message"),
    [
        ("GET", "/", "ERR_INSTANCE_ID_PROVIDED_MISSING", "no instance ID was provided"),
        ("POST", "//pause", "ERR_INSTANCE_ID_PROVIDED_MISSING", "no instance ID was provided"),
        ("POST", "//purge", "ERR_INSTANCE_ID_PROVIDED_MISSING", "no instance ID was provided"),
        ("POST", "//start", "ERR_WORKFLOW_NAME_MISSING", "workflow name is not configured"),
        (
            "POST",
            "/some-id/raiseEvent/",
            "ERR_WORKFLOW_EVENT_NAME_MISSING",
            "missing workflow event name",
        ),
        (
            "POST",
            "/hello/start?instanceID=" + "x" * 65,
            "ERR_INSTANCE_ID_TOO_LONG",
            "workflow instance ID exceeds the max length of 64 characters",
        ),
        (
            "POST",
            "/hello/start?instanceID=a.b",
            "ERR_INSTANCE_ID_INVALID",
            "workflow instance ID 'a.b' is invalid: only alphanumeric and underscore "
            "characters are allowed",
        ),
    ],
)
def test_what_dapr_checks_gets_dapr_s_answer_word_for_word(
    served: Served, method: str, path: str, code: str, message: str
) -> None:
    with served.client() as http:
        reply = http.request(method, f"{WORKFLOWS}{path}")
    assert _error(reply, 400, code) == message


def test_an_unknown_workflow_is_not_found_and_names_the_known(served: Served) -> None:
    with served.client() as http:
        reply = http.post(f"{WORKFLOWS}/helo/start?instanceID=u1")
        message = _error(reply, 404, "ERR_WFKIT_WORKFLOW_NOT_FOUND")
        assert "no workflow named 'helo'" in message
        assert "hello" in message
        assert http.get(f"{WORKFLOWS}/u1").status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"whom": "ana"}, "unknown input 'whom'"),
        ({"who": 3}, "input 'who'"),
    ],
)
def test_an_input_the_definition_refuses_is_a_bad_request(
    served: Served, body: dict[str, object], says: str
) -> None:
    with served.client() as http:
        reply = http.post(f"{WORKFLOWS}/hello/start?instanceID=i1", json=body)
        message = _error(reply, 400, "ERR_WFKIT_INVALID_INPUT")
        assert "invalid input for workflow 'hello'" in message
        assert says in message
        assert http.get(f"{WORKFLOWS}/i1").status_code == 404


def test_refusals_by_state_are_conflicts_with_dapr_s_operation_codes(served: Served) -> None:
    with served.client() as http:
        assert http.post(f"{WORKFLOWS}/approval/start?instanceID=c1").status_code == 202
        again = http.post(f"{WORKFLOWS}/approval/start?instanceID=c1")
        assert _error(again, 409, "ERR_START_WORKFLOW") == (
            "error starting workflow 'approval': an active workflow with ID 'c1' already exists"
        )
        purge = _error(http.post(f"{WORKFLOWS}/c1/purge"), 409, "ERR_PURGE_WORKFLOW")
        assert purge.startswith("error purging workflow c1: workflow 'c1' has not yet completed")
        assert http.post(f"{WORKFLOWS}/c1/terminate").status_code == 202
        wait_status(http, "c1", ENDED)
        pause = _error(http.post(f"{WORKFLOWS}/c1/pause"), 409, "ERR_PAUSE_WORKFLOW")
        assert pause.startswith("error pausing workflow c1: cannot pause workflow 'c1'")
        resume = _error(http.post(f"{WORKFLOWS}/c1/resume"), 409, "ERR_RESUME_WORKFLOW")
        assert resume.startswith("error resuming workflow c1: ")


def test_an_event_name_no_wait_step_could_take_is_refused(served: Served) -> None:
    with served.client() as http:
        assert http.post(f"{WORKFLOWS}/approval/start?instanceID=n1").status_code == 202
        reply = http.post(f"{WORKFLOWS}/n1/raiseEvent/{'e' * 201}")
        message = _error(reply, 400, "ERR_WFKIT_INVALID_EVENT_NAME")
        assert "nothing was sent" in message
        control = http.post(f"{WORKFLOWS}/n1/raiseEvent/a%01b")
        _error(control, 400, "ERR_WFKIT_INVALID_EVENT_NAME")


def test_event_limits(serve_process: Callable[..., Served]) -> None:
    served = serve_process(env={"WFKIT_MAX_BUFFERED_EVENTS": "2", "WFKIT_MAX_OUTPUT_BYTES": "1000"})
    with served.client() as http:
        assert http.post(f"{WORKFLOWS}/approval/start?instanceID=l1").status_code == 202
        big = http.post(f"{WORKFLOWS}/l1/raiseEvent/approved", json={"by": "x" * 2000})
        message = _error(big, 413, "ERR_WFKIT_EVENT_DATA_TOO_LARGE")
        assert "max_output_bytes" in message
        for _ in range(2):
            assert http.post(f"{WORKFLOWS}/l1/raiseEvent/other", json=1).status_code == 202
        full = http.post(f"{WORKFLOWS}/l1/raiseEvent/other", json=1)
        message = _error(full, 409, "ERR_WFKIT_EVENT_BUFFER_FULL")
        assert "max_buffered_events" in message


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1.0/workflows", 404, "ERR_NOT_FOUND"),
        ("GET", "/v2.0/workflows/dapr/x", 404, "ERR_NOT_FOUND"),
        ("POST", "/v1.0/workflows/dapr/x/explode", 404, "ERR_NOT_FOUND"),
        ("GET", "/v1.0/workflows/dapr/hello/start", 405, "ERR_METHOD_NOT_ALLOWED"),
        ("DELETE", "/v1.0/workflows/dapr/x", 405, "ERR_METHOD_NOT_ALLOWED"),
        ("PUT", "/v1.0/workflows/dapr/x/pause", 405, "ERR_METHOD_NOT_ALLOWED"),
    ],
)
def test_unknown_routes_and_wrong_methods(
    served: Served, method: str, path: str, status: int, code: str
) -> None:
    with served.client() as http:
        reply = http.request(method, path)
    _error(reply, status, code)


@pytest.mark.parametrize(
    ("depth", "code"),
    [(150, "ERR_WFKIT_INVALID_INPUT"), (100_000, "ERR_MALFORMED_REQUEST")],
)
def test_an_input_nested_too_deep_is_a_bad_request(served: Served, depth: int, code: str) -> None:
    body = b'{"who": ' + b"[" * depth + b"]" * depth + b"}"
    with served.client() as http:
        reply = http.post(f"{WORKFLOWS}/hello/start?instanceID=deep", content=body)
        message = _error(reply, 400, code)
        assert "deep" in message
        assert http.get(f"{WORKFLOWS}/deep").status_code == 404


def test_event_data_nested_too_deep_is_refused(served: Served) -> None:
    body = b"[" * 150 + b"]" * 150
    with served.client() as http:
        assert http.post(f"{WORKFLOWS}/approval/start?instanceID=dd").status_code == 202
        reply = http.post(f"{WORKFLOWS}/dd/raiseEvent/approved", content=body)
        message = _error(reply, 400, "ERR_WFKIT_INVALID_EVENT_DATA")
        assert "nothing was sent" in message
        assert http.get(f"{WORKFLOWS}/dd").json()["properties"]["wfkit.events_buffered"] == "0"
