"""The live stream of an instance, ``GET /v1.0/wfkit/instances/{id}/stream``: its steps
completing, live, in order, then ``end``; changes made by a worker in another process;
fifty streams at once without a thread each; a client that goes away frees everything."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.server.conftest import DEFINITIONS, Served, free_port
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.server.app import create_app
from wfkit.server.context import ServerContext
from wfkit.server.stream import StreamHub

API = "/v1.0/wfkit"


def sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """``(event, data)`` of each Server-Sent Event in ``lines`` (comments skipped)."""
    event, data = "message", ""
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data += line[len("data: ") :]


def start(http: httpx.Client, name: str, instance_id: str, body: Any = None) -> None:
    reply = http.post(f"/v1.0/workflows/wfkit/{name}/start?instanceID={instance_id}", json=body)
    assert reply.status_code == 202, reply.text


def completed(body: dict[str, Any]) -> list[str]:
    return [sid for sid, step in body["steps"].items() if step["status"] == "completed"]


def test_the_stream_shows_the_steps_completing_live_in_order_then_ends(served: Served) -> None:
    with served.client() as http:
        start(http, "slow", "s", {"seconds": 0.4})
        seen: list[dict[str, Any]] = []
        with http.stream("GET", f"{API}/instances/s/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = list(sse(stream.iter_lines()))  # to the end: the server closes it
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "end" and set(kinds[:-1]) == {"instance"}
    assert events[-1][1] == {"instanceID": "s", "purged": False}
    seen = [body for _, body in events[:-1]]
    assert seen[-1]["runtimeStatus"] == "COMPLETED"
    progress = [completed(body) for body in seen]
    for done in progress:  # the steps complete in their order, one after another
        assert done == ["one", "two", "three"][: len(done)]
    assert [len(done) for done in progress] == sorted(len(done) for done in progress)
    assert {1, 2} <= {len(done) for done in progress}, "seen while it ran, not only at the end"
    versions = [body["version"] for body in seen]
    assert versions == sorted(set(versions)), "each body newer than the one before"


def test_a_stream_follows_a_worker_in_another_process(
    serve_process: Callable[..., Served], worker: Callable[[], subprocess.Popen[str]]
) -> None:
    served = serve_process("--no-workers")
    with served.client() as http:
        start(http, "approval", "ap")
        with http.stream("GET", f"{API}/instances/ap/stream") as stream:
            events = sse(stream.iter_lines())
            kind, first = next(events)
            assert kind == "instance" and completed(first) == []  # no worker yet
            running = worker()
            try:
                for _, body in events:
                    if body.get("awaiting"):
                        break
                assert body["awaiting"] == [{"step": "approve", "event": "approved"}]
                raised = http.post("/v1.0/workflows/wfkit/ap/raiseEvent/approved", json={"by": "x"})
                assert raised.status_code == 202
                rest = list(events)
            finally:
                running.send_signal(signal.SIGTERM)
                running.wait(30)
    assert rest[-1][0] == "end"
    assert rest[-2][1]["runtimeStatus"] == "COMPLETED"
    assert rest[-2][1]["output"] == "hello, x"


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


async def _first_event(lines: AsyncIterator[str]) -> dict[str, Any]:
    data = ""
    async for line in lines:
        if line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and data:
            found: dict[str, Any] = json.loads(data)
            return found
    raise AssertionError("the stream ended before its first event")


async def _last_event(lines: AsyncIterator[str]) -> str:
    kind = ""
    async for line in lines:
        if line.startswith("event: "):
            kind = line[len("event: ") :]
    return kind


def test_fifty_streams_at_once_take_no_thread_each(served: Served) -> None:
    instances = [f"w{n}" for n in range(10)]
    with served.client() as http:
        for instance_id in instances:
            start(http, "approval", instance_id)
        http.get(f"{API}/instances/w0")  # the thread pool's first thread

    async def run() -> tuple[int, int, list[str]]:
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            before = _threads(served.process.pid)
            streams = []
            for n in range(50):
                request = client.build_request("GET", f"{API}/instances/{instances[n % 10]}/stream")
                response = await client.send(request, stream=True)
                lines = response.aiter_lines()
                body = await _first_event(lines)
                assert body["instanceID"] == instances[n % 10]
                streams.append((response, lines))
            during = _threads(served.process.pid)
            for instance_id in instances:
                url = f"/v1.0/workflows/wfkit/{instance_id}/raiseEvent/approved"
                assert (await client.post(url, json={"by": "ana"})).status_code == 202
            ends = await asyncio.gather(*(_last_event(lines) for _, lines in streams))
            for response, _ in streams:
                await response.aclose()
            return before, during, list(ends)

    before, during, ends = asyncio.run(run())
    assert ends == ["end"] * 50
    assert during - before < 10, (before, during)


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    """A runtime and its server in this process (to look inside it), on a free port."""
    shutil.copytree(DEFINITIONS, tmp_path / "definitions")
    settings = Settings.from_environment(
        definitions=str(tmp_path / "definitions"),
        store=f"sqlite:///{tmp_path / 'w.db'}",
        workers="1",
    )
    runtime = Runtime(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(ServerContext(runtime=runtime)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield runtime, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        runtime.close()


def test_a_client_that_goes_away_frees_its_stream(in_process: tuple[Runtime, str]) -> None:
    runtime, url = in_process
    runtime.start("approval", instance_id="gone")
    assert not runtime.changes.watching
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(3):  # three clients, one after another
            with http.stream("GET", f"{API}/instances/gone/stream") as stream:
                events = sse(stream.iter_lines())  # held: dropping it closes the connection
                kind, body = next(events)
                assert kind == "instance" and body["instanceID"] == "gone"
                assert runtime.changes.watching  # the stream follows the instance
                runtime.instance("gone").pause()  # the stream goes on: it is still open
                kind, body = next(events)
                assert body["runtimeStatus"] == "SUSPENDED"
                runtime.instance("gone").resume()
                assert next(events)[1]["runtimeStatus"] == "RUNNING"
    deadline = time.monotonic() + 20
    while runtime.changes.watching:  # the server hears of the disconnects on its own time
        assert time.monotonic() < deadline, "the streams were never let go"
        time.sleep(0.02)
    with httpx.Client(base_url=url, timeout=30) as http:  # and a new one works
        with http.stream("GET", f"{API}/instances/gone/stream") as stream:
            assert next(sse(stream.iter_lines()))[0] == "instance"
        assert http.get(f"{API}/instances/nope/stream").status_code == 404


def test_an_idle_stream_pings_and_a_change_wakes_it(tmp_path: Path) -> None:
    shutil.copytree(DEFINITIONS, tmp_path / "definitions")
    settings = Settings.from_environment(
        definitions=str(tmp_path / "definitions"),
        store=f"sqlite:///{tmp_path / 'w.db'}",
        workers="1",
    )
    with Runtime(settings) as runtime:
        runtime.start("approval", instance_id="p").wait(30, until="waiting")

        async def run() -> list[bytes]:
            hub = StreamHub(runtime)
            feed, waiter = await hub.join("p")
            chunks = hub.events(feed, waiter, ping=0.05)
            got = [await anext(chunks), await anext(chunks)]
            await asyncio.to_thread(runtime.instance("p").raise_event, "approved", {"by": "z"})
            got += [chunk async for chunk in chunks]  # to the end
            assert hub.open == 0 and hub.feeds == {}
            return got

        chunks = asyncio.run(run())
        assert not runtime.changes.watching
    assert chunks[0].startswith(b"event: instance\ndata: ")
    assert chunks[1] == b": ping\n\n"  # nothing changed meanwhile
    bodies = [json.loads(c.split(b"data: ", 1)[1]) for c in chunks if c.startswith(b"event: ")]
    assert bodies[-1] == {"instanceID": "p", "purged": False}
    assert bodies[-2]["runtimeStatus"] == "COMPLETED" and bodies[-2]["output"] == "hello, z"


def test_a_stopping_server_ends_its_streams_and_is_not_held_back(served: Served) -> None:
    with served.client() as http:
        start(http, "approval", "open")
        with http.stream("GET", f"{API}/instances/open/stream") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: instance"
            served.process.send_signal(signal.SIGTERM)
            rest = list(lines)  # the server ends the stream as it stops
    assert ": the server is stopping" in rest
    assert served.process.wait(30) == 0
    log = served.log_text()
    assert "graceful shutdown exceeded" not in log and "Exception" not in log, log
