"""wfkit's own routes against a real ``wfkit serve``: instances page by page, an instance
with its steps, history and graph, retry, the definitions; bounded parameters, errors in
Dapr's form, user data returned as data, never as HTML."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.server.conftest import Served

API = "/v1.0/wfkit"

FLAKY = """\
wfkit: 1
name: flaky
description: Fails until the file ready.txt exists in the working directory.
steps:
  check:
    call: api_steps:check
    with: {path: ready.txt}
"""

API_STEPS = """\
import os


def check(path):
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is not there yet")
    return "ready"
"""

BROKEN = """\
wfkit: 1
name: broken
steps:
  one: {call: server_steps:greet, unknown_key: 1}
"""


def start(http: httpx.Client, name: str, instance_id: str, body: Any = None) -> None:
    reply = http.post(f"/v1.0/workflows/wfkit/{name}/start?instanceID={instance_id}", json=body)
    assert reply.status_code == 202, reply.text


def until(http: httpx.Client, instance_id: str, *statuses: str) -> dict[str, Any]:
    """The instance once its status is one of ``statuses`` (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = http.get(f"{API}/instances/{instance_id}")
        if reply.status_code == 200 and reply.json()["runtimeStatus"] in statuses:
            body: dict[str, Any] = reply.json()
            return body
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never became {statuses}")


def ids(page: dict[str, Any]) -> list[str]:
    return [row["instanceID"] for row in page["instances"]]


def test_instances_come_page_by_page_newest_first_even_when_a_row_goes(served: Served) -> None:
    with served.client() as http:
        names = [f"i{n}" for n in range(7)]
        for instance_id in names:
            start(http, "hello", instance_id)
        start(http, "approval", "waits")
        for instance_id in names:
            until(http, instance_id, "COMPLETED")
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3, "name": "hello"}
            if cursor:
                params["cursor"] = cursor
            page = http.get(f"{API}/instances", params=params).json()
            seen += ids(page)
            cursor = page["nextCursor"]
            if cursor is None:
                break
            # the row the cursor points after goes before the next page is asked for
            assert http.post(f"/v1.0/workflows/wfkit/{seen[-1]}/purge").status_code == 202
        assert seen == names[::-1]
        statuses = {"status": ["running", "PENDING"]}
        assert ids(http.get(f"{API}/instances", params=statuses).json()) == ["waits"]
        whole = http.get(f"{API}/instances").json()
        assert whole["nextCursor"] is None and ids(whole)[0] == "waits"


def test_bad_parameters_are_refused_with_400_and_say_which(served: Served) -> None:
    with served.client() as http:
        for params in (
            {"limit": "0"},
            {"limit": "501"},
            {"limit": "ten"},
            {"limit": "9" * 40},
            {"cursor": "not-a-cursor"},
            {"cursor": "W10"},  # base64 of "[]": not a key
            {"status": "SLEEPING"},
        ):
            reply = http.get(f"{API}/instances", params=params)
            assert reply.status_code == 400, (params, reply.text)
            assert reply.json()["errorCode"] == "ERR_WFKIT_INVALID_ARGUMENT"
            assert next(iter(params)) in reply.json()["message"] or "status" in reply.text
        unknown = http.get(f"{API}/instances", params={"status": "X" * 5000})
        assert unknown.status_code == 400 and len(unknown.json()["message"]) < 400
        start(http, "hello", "h")
        until(http, "h", "COMPLETED")
        for params in ({"limit": "5001"}, {"after": "-1"}, {"after": "x"}):
            reply = http.get(f"{API}/instances/h/history", params=params)
            assert reply.status_code == 400, (params, reply.text)


def test_an_unknown_id_is_404_with_the_id_cut_short(served: Served) -> None:
    long_id = "x" * 5000
    with served.client() as http:
        for path in ("", "/history", "/steps", "/graph.svg", "/stream"):
            reply = http.get(f"{API}/instances/{long_id}{path}")
            assert reply.status_code == 404, path
            assert reply.json()["errorCode"] == "ERR_WFKIT_NOT_FOUND"
            assert len(reply.json()["message"]) < 400
        assert http.post(f"{API}/instances/nope/retry").status_code == 404
        assert http.get(f"{API}/definitions/nope").status_code == 404
        assert http.get(f"{API}/definitions/nope/graph.svg").status_code == 404


def test_an_instance_says_what_it_waits_for_and_matches_the_cli(served: Served) -> None:
    with served.client() as http:
        start(http, "approval", "ap", {"title": "q3"})
        deadline = time.monotonic() + 60
        while not (body := until(http, "ap", "RUNNING"))["awaiting"]:
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
        assert body["awaiting"] == [{"step": "approve", "event": "approved"}]
        assert body["steps"]["prepare"]["status"] == "completed"
        assert body["steps"]["prepare"]["output"] == "hello, q3"
        waiting_graph = body["graphVersion"]
        raised = http.post("/v1.0/workflows/wfkit/ap/raiseEvent/approved", json={"by": "ana"})
        assert raised.status_code == 202
        done = until(http, "ap", "COMPLETED")
        assert done["awaiting"] == [] and done["graphVersion"] != waiting_graph
        assert done["version"] > body["version"]
        steps = http.get(f"{API}/instances/ap/steps").json()["steps"]
        assert steps == done["steps"]
        assert [s["status"] for s in steps.values()] == ["completed"] * 3
    cli = subprocess.run(
        [sys.executable, "-m", "wfkit", "get", "ap", "--json"],
        cwd=served.folder,
        env={"WFKIT_STORE": f"sqlite:///{served.folder / 'wfkit.db'}", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(cli.stdout)
    assert {k: v for k, v in done.items() if k not in ("awaiting", "graphVersion", "version")} == (
        shown
    )


def test_history_comes_in_pages_after_a_seq(served: Served) -> None:
    with served.client() as http:
        start(http, "slow", "s", {"seconds": 0})
        until(http, "s", "COMPLETED")
        everything = http.get(f"{API}/instances/s/history").json()
        assert everything["next"] is None
        events = everything["events"]
        assert events[0]["type"] == "ExecutionStarted"
        assert events[-1]["type"] == "ExecutionCompleted"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        walked: list[dict[str, Any]] = []
        after = 0
        while after is not None:
            page = http.get(f"{API}/instances/s/history", params={"after": after, "limit": 2})
            walked += page.json()["events"]
            after = page.json()["next"]
        assert walked == events


def test_graphs_are_svg_coloured_by_status_and_cannot_run_script(served: Served) -> None:
    with served.client() as http:
        start(http, "hello", "g")
        until(http, "g", "COMPLETED")
        drawn = http.get(f"{API}/instances/g/graph.svg")
        assert drawn.status_code == 200
        assert drawn.headers["content-type"].startswith("image/svg+xml")
        assert "default-src 'none'" in drawn.headers["content-security-policy"]
        assert "<svg" in drawn.text and "status-completed" in drawn.text
        plain = http.get(f"{API}/definitions/approval/graph.svg")
        assert plain.status_code == 200 and "status-pending" in plain.text
        assert "status-completed" not in plain.text


def test_retry_runs_a_failed_instance_again(
    serve_process: Callable[..., Served], tmp_path: Path
) -> None:
    (tmp_path / "definitions" / "flaky.yaml").write_text(FLAKY)
    (tmp_path / "definitions" / "api_steps.py").write_text(API_STEPS)
    served = serve_process()
    with served.client() as http:
        start(http, "flaky", "f")
        failed = until(http, "f", "FAILED")
        assert "not there yet" in failed["steps"]["check"]["error"]["message"]
        refused = http.post(f"{API}/instances/f/retry")  # still failing: retried, fails again
        assert refused.status_code == 202 and refused.json() == {}
        until(http, "f", "FAILED")
        (tmp_path / "ready.txt").write_text("")
        assert http.post(f"{API}/instances/f/retry").status_code == 202
        assert until(http, "f", "COMPLETED")["steps"]["check"]["output"] == "ready"
        again = http.post(f"{API}/instances/f/retry")
        assert again.status_code == 409
        assert again.json()["errorCode"] == "ERR_WFKIT_FAILED_PRECONDITION"


def test_definitions_list_the_valid_and_the_broken(
    serve_process: Callable[..., Served], tmp_path: Path
) -> None:
    (tmp_path / "definitions" / "broken.yaml").write_text(BROKEN)
    (tmp_path / "definitions" / "garbage.yaml").write_text(": : [\n")
    served = serve_process()
    with served.client() as http:
        listed = http.get(f"{API}/definitions").json()["definitions"]
        by_file = {item["file"]: item for item in listed}
        assert sorted(by_file) == [
            "approval.yaml",
            "broken.yaml",
            "garbage.yaml",
            "hello.yaml",
            "slow.yaml",
        ]
        approval = by_file["approval.yaml"]
        assert approval["valid"] and approval["problems"] == []
        assert approval["events"] == ["approved"]
        assert approval["inputs"] == {
            "title": {"type": "string", "default": "quarterly", "required": False}
        }
        broken = by_file["broken.yaml"]
        assert broken["name"] == "broken" and not broken["valid"]
        assert broken["problems"][0]["line"] == 4 and "unknown_key" in json.dumps(broken)
        assert by_file["garbage.yaml"]["name"] is None
        assert not by_file["garbage.yaml"]["valid"]
        one = http.get(f"{API}/definitions/broken").json()
        assert one["yaml"] == BROKEN and one["problems"] == broken["problems"]
        assert http.get(f"{API}/definitions/hello").json()["yaml"].startswith("wfkit: 1")
        refused = http.get(f"{API}/definitions/broken/graph.svg")
        assert refused.status_code == 400 and "unknown_key" in refused.json()["message"]
        assert "broken.yaml:4:" in refused.text and str(tmp_path) not in refused.text


def test_user_data_comes_back_as_json_data_never_html(served: Served) -> None:
    script = "<script>alert('x')</script>&amp;"
    with served.client() as http:
        start(http, "hello", "html", {"who": script})
        until(http, "html", "COMPLETED")
        start(http, "approval", "html2")
        until(http, "html2", "RUNNING")
        raised = http.post("/v1.0/workflows/wfkit/html2/raiseEvent/<b>bold<b>", json=script)
        assert raised.status_code == 202, raised.text
        for path in ("/instances/html", "/instances/html/steps", "/instances/html2/history"):
            reply = http.get(API + path)
            assert reply.headers["content-type"] == "application/json"
            assert reply.headers["x-content-type-options"] == "nosniff"
            assert "<" not in reply.text and ">" not in reply.text, path
        assert http.get(f"{API}/instances/html").json()["output"] == f"hello, {script}"
        events = http.get(f"{API}/instances/html2/history").json()["events"]
        assert script in json.dumps([e.get("data") for e in events], ensure_ascii=False)


def test_the_routes_over_postgresql_page_and_refuse_nul(
    serve_process: Callable[..., Served], postgres_url: str
) -> None:
    served = serve_process("--store", postgres_url)
    with served.client() as http:
        names = [f"p{n}" for n in range(5)]
        for instance_id in names:
            start(http, "hello", instance_id)
        for instance_id in names:
            until(http, instance_id, "COMPLETED")
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = http.get(f"{API}/instances", params=params).json()
            seen += ids(page)
            if page["nextCursor"] is None:
                break
            params["cursor"] = page["nextCursor"]
        assert seen == names[::-1]
        # no stored id or name holds a NUL: PostgreSQL cannot even compare one
        for path in ("/instances/a%00b", "/instances/a%00b/history", "/instances/a%00b/stream"):
            reply = http.get(API + path)
            assert reply.status_code == 404, (path, reply.text)
        # Dapr's routes too, for every operation (the engine refuses the id before the store)
        dapr = "/v1.0/workflows/wfkit/a%00b"
        assert http.get(dapr).json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"
        for action in ("pause", "resume", "terminate", "purge", "raiseEvent/go"):
            reply = http.post(f"{dapr}/{action}")
            assert reply.status_code == 404, (action, reply.text)
            assert reply.json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"
        named = http.get(f"{API}/instances", params={"name": "a\x00b"})
        assert named.status_code == 400 and "NUL" in named.json()["message"]


SLOW_RENDERER = """\
#!/bin/sh
# A Graphviz-compatible renderer that says it started, then waits for leave to go on.
input=$(cat)
touch "$WFKIT_TEST_DIR/started"
n=0  # at most a minute, should the test fail before it says go
while [ ! -e "$WFKIT_TEST_DIR/go" ] && [ $n -lt 6000 ]; do sleep 0.01; n=$((n + 1)); done
printf '%s' "$input" | exec "$WFKIT_TEST_REAL_DOT" "$@"
"""


def test_drawing_a_graph_does_not_hold_the_server_up(
    serve_process: Callable[..., Served], tmp_path: Path
) -> None:
    from wfkit.views.render import find_renderer

    renderer = tmp_path / "slow-dot"
    renderer.write_text(SLOW_RENDERER)
    renderer.chmod(0o755)
    env = {
        "WFKIT_DOT": str(renderer),
        "WFKIT_TEST_DIR": str(tmp_path),
        "WFKIT_TEST_REAL_DOT": find_renderer(),
    }
    served = serve_process(env=env)
    drawn: list[httpx.Response] = []
    with served.client() as http:
        drawing = threading.Thread(
            target=lambda: drawn.append(http.get(f"{API}/definitions/hello/graph.svg"))
        )
        drawing.start()
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline, served.log_text()
            time.sleep(0.01)
        with served.client() as other:  # the renderer runs: the server still answers
            assert other.get("/v1.0/healthz").status_code == 204
            assert other.get(f"{API}/definitions").status_code == 200
            start(other, "hello", "meanwhile")
        assert not drawn
        (tmp_path / "go").touch()
        drawing.join(30)
    assert drawn[0].status_code == 200 and "<svg" in drawn[0].text
