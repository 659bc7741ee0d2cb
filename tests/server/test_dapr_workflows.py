"""Dapr's workflow HTTP API against a real ``wfkit serve``: every route, under every API
version, with Dapr's statuses and bodies, and each kind of request body."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.server.conftest import Served
from tests.server.dapr_calls import ENDED, WORKFLOWS, reader, wait_running_step, wait_status

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.mark.parametrize("version", ["v1.0", "v1.0-beta1", "v1.0-alpha1"])
def test_start_and_get_under_every_version(served: Served, version: str) -> None:
    base = f"/{version}/workflows/any-component"
    with served.client() as http:
        started = http.post(f"{base}/hello/start?instanceID=greet-1", json={"who": "ana"})
        assert started.status_code == 202
        assert started.headers["content-type"] == "application/json"
        assert started.json() == {"instanceID": "greet-1"}
        body = wait_status(http, "greet-1", ENDED)
        again = http.get(f"{base}/greet-1")
    assert again.status_code == 200
    assert again.json() == body
    assert set(body) == {
        "instanceID",
        "workflowName",
        "createdAt",
        "lastUpdatedAt",
        "runtimeStatus",
        "properties",
    }
    assert body["instanceID"] == "greet-1"
    assert body["workflowName"] == "hello"
    assert body["runtimeStatus"] == "COMPLETED"
    for key in ("createdAt", "lastUpdatedAt"):
        assert RFC3339_UTC.fullmatch(body[key]), body[key]
    created = datetime.fromisoformat(body["createdAt"])
    assert created <= datetime.fromisoformat(body["lastUpdatedAt"])
    assert body["properties"]["dapr.workflow.input"] == '{"who":"ana"}'
    assert body["properties"]["dapr.workflow.output"] == '"hello, ana"'
    assert all(isinstance(v, str) for v in body["properties"].values())


def test_start_without_instance_id_gets_a_fresh_one(served: Served) -> None:
    with served.client() as http:
        first = http.post(f"{WORKFLOWS}/hello/start")
        second = http.post(f"{WORKFLOWS}/hello/start?instanceID=")
        assert first.status_code == second.status_code == 202
        ids = {first.json()["instanceID"], second.json()["instanceID"]}
        assert len(ids) == 2
        for instance_id in ids:
            assert re.fullmatch(r"[0-9a-f-]{36}", instance_id)
            done = wait_status(http, instance_id, ENDED)
            assert done["properties"]["dapr.workflow.output"] == '"hello, world"'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"who": "ana"}'),
        ("application/json; charset=utf-8", b'{"who": "ana"}'),
        ("application/octet-stream", b'{"who": "ana"}'),
        ("application/x-www-form-urlencoded", b'{"who": "ana"}'),  # curl -d's default
        ("text/plain", b'{"who": "ana"}'),
        (None, b'{"who": "ana"}'),
    ],
)
def test_a_json_body_is_the_input_whatever_its_content_type(
    served: Served, content_type: str | None, body: bytes
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    with served.client() as http:
        started = http.post(f"{WORKFLOWS}/hello/start?instanceID=b1", content=body, headers=headers)
        assert started.status_code == 202, started.text
        done = wait_status(http, "b1", ENDED)
    assert done["properties"]["dapr.workflow.output"] == '"hello, ana"'


@pytest.mark.parametrize(
    ("content_type", "body", "shown"),
    [
        ("text/plain", b"ana", 'text "ana"'),  # the Dapr JS SDK sends a string so
        ("text/plain", b"3", "JSON int 3"),
        ("application/json", b"[1, 2]", "JSON list [1, 2]"),
        ("application/octet-stream", b'"ana"', 'text "ana"'),
    ],
)
def test_an_input_that_is_not_an_object_is_refused(
    served: Served, content_type: str, body: bytes, shown: str
) -> None:
    with served.client() as http:
        reply = http.post(
            f"{WORKFLOWS}/hello/start?instanceID=b2",
            content=body,
            headers={"content-type": content_type},
        )
        assert reply.status_code == 400
        assert reply.json()["errorCode"] == "ERR_WFKIT_INVALID_INPUT"
        assert "must be a JSON object of named inputs" in reply.json()["message"]
        assert shown in reply.json()["message"]
        assert http.get(f"{WORKFLOWS}/b2").status_code == 404  # nothing was started


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("application/json", b'{"who": ana}', "line 1, column 9"),
        ("application/octet-stream", b"\xff\xfe binary", "not utf-8 text"),
        ("application/json", b'{"who": NaN}', "NaN is not JSON"),
        ("text/plain", b'{"who": ', "line 1, column 9"),  # looks like JSON: must be
    ],
)
def test_a_body_that_is_not_json_is_a_malformed_request(
    served: Served, content_type: str, body: bytes, reason: str
) -> None:
    with served.client() as http:
        reply = http.post(
            f"{WORKFLOWS}/hello/start?instanceID=b3",
            content=body,
            headers={"content-type": content_type},
        )
        assert reply.status_code == 400
        assert reply.json()["errorCode"] == "ERR_MALFORMED_REQUEST"
        message = reply.json()["message"]
        assert message.startswith("failed deserializing HTTP body: ")
        assert reason in message
        assert http.get(f"{WORKFLOWS}/b3").status_code == 404


@pytest.mark.parametrize(
    ("content_type", "body", "data"),
    [
        ("application/json", b'{"by": "ana"}', {"by": "ana"}),
        ("application/octet-stream", b'{"by": "ana"}', {"by": "ana"}),
        ("text/plain", b"ana", "ana"),  # text that is not JSON: the text itself
        ("text/plain; charset=latin-1", "Zoë".encode("latin-1"), "Zoë"),
        ("text/plain", b"42", 42),  # text that is JSON: its value
        ("application/json", b"", None),  # no body: no data
    ],
)
def test_raise_event_data_by_content_type(
    served: Served, content_type: str, body: bytes, data: object
) -> None:
    with served.client() as http:
        assert http.post(f"{WORKFLOWS}/approval/start?instanceID=ev").status_code == 202
        raised = http.post(
            f"{WORKFLOWS}/ev/raiseEvent/APPROVED",  # event names are case-insensitive
            content=body,
            headers={"content-type": content_type},
        )
        assert raised.status_code == 202
        assert raised.json() == {}
        wait_status(http, "ev", ENDED)
    with reader(served) as runtime:
        assert runtime.instance("ev").steps["approve"].output == data


def test_pause_resume_terminate_and_purge(served: Served) -> None:
    with served.client() as http:
        assert http.post(f"{WORKFLOWS}/slow/start?instanceID=s1").status_code == 202
        wait_running_step(http, "s1", "one")
        paused = http.post(f"{WORKFLOWS}/s1/pause")
        assert (paused.status_code, paused.json()) == (202, {})
        assert http.get(f"{WORKFLOWS}/s1").json()["runtimeStatus"] == "SUSPENDED"
        assert http.post(f"{WORKFLOWS}/s1/pause").status_code == 202  # twice: a no-op
        assert http.post(f"{WORKFLOWS}/s1/resume").status_code == 202
        assert http.get(f"{WORKFLOWS}/s1").json()["runtimeStatus"] in {"RUNNING", "PENDING"}
        assert http.post(f"{WORKFLOWS}/s1/terminate").status_code == 202
        assert wait_status(http, "s1", ENDED)["runtimeStatus"] == "TERMINATED"
        assert http.post(f"{WORKFLOWS}/s1/terminate").status_code == 202  # ended: a no-op
        purged = http.post(f"{WORKFLOWS}/s1/purge")
        assert (purged.status_code, purged.json()) == (202, {})
        gone = http.get(f"{WORKFLOWS}/s1")
    assert gone.status_code == 404
    assert gone.json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"


def test_a_finished_id_can_be_started_again(served: Served) -> None:
    with served.client() as http:
        assert http.post(f"{WORKFLOWS}/hello/start?instanceID=r1").status_code == 202
        wait_status(http, "r1", ENDED)
        again = http.post(f"{WORKFLOWS}/hello/start?instanceID=r1", json={"who": "bo"})
        assert again.status_code == 202
        done = wait_status(http, "r1", ENDED)
    assert done["properties"]["dapr.workflow.output"] == '"hello, bo"'
