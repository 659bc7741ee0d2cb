"""What the Dapr route tests share: waiting for an instance over HTTP, and reading one
with the Python API on the server's own store."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.server.conftest import Served
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

WORKFLOWS = "/v1.0/workflows/dapr"

ENDED = frozenset({"COMPLETED", "FAILED", "TERMINATED", "CANCELED"})


def wait_status(
    http: httpx.Client, instance_id: str, statuses: set[str] | frozenset[str], timeout: float = 30
) -> dict[str, Any]:
    """GET the instance until its runtime status is one of ``statuses``; its last body.

    HTTP has no change to wait on (the event stream is wfkit's own route), so this asks
    again every 20 ms until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        reply = http.get(f"{WORKFLOWS}/{instance_id}")
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        if body["runtimeStatus"] in statuses:
            return body
        assert time.monotonic() < deadline, f"still {body['runtimeStatus']}: {body}"
        time.sleep(0.02)


def wait_running_step(
    http: httpx.Client, instance_id: str, step: str, timeout: float = 30
) -> dict[str, Any]:
    """GET the instance until step ``step`` is running (its ``wfkit.steps.running_now``)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = http.get(f"{WORKFLOWS}/{instance_id}").json()
        if step in body["properties"]["wfkit.steps.running_now"].split(","):
            return body
        assert time.monotonic() < deadline, f"{step} never ran: {body}"
        time.sleep(0.02)


def reader(served: Served) -> Runtime:
    """The Python API on the server's store, running nothing (close it after use)."""
    settings = Settings.from_properties(
        {
            "definitions": str(served.folder / "definitions"),
            "store": f"sqlite:///{served.folder / 'wfkit.db'}",
            "workers": "0",
        }
    )
    return Runtime(settings, run_engine=False, create_store=False)
