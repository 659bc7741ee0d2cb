"""An existing Dapr client that knows nothing of wfkit drives ``wfkit serve``.

The Dapr JavaScript SDK, ``@dapr/dapr`` from npm, unmodified (pinned with its whole tree
by ``tests/server/js/package-lock.json``), runs ``tests/server/js/dapr_workflow.js``: a
``DaprClient`` over HTTP that finds the "sidecar" through ``DAPR_HTTP_PORT`` (and its
token through ``DAPR_API_TOKEN``) and calls ``client.workflow.*``. What the SDK sends:

* ``GET /v1.0/metadata`` once, before its first call (its "is the sidecar started" probe,
  retried every 0.5 s for 30 s; any 2xx or 3xx reply with a body passes, even ``{}``: an
  empty body counts as not started);
* the workflow routes under ``/v1.0-beta1/workflows/dapr/``: ``{name}/start?instanceID=``
  (the SDK makes a uuid when none is given), ``GET {id}``, ``{id}/raiseEvent/{event}``,
  ``{id}/pause|resume|terminate|purge`` (no body). A start's input and an event's data go
  as the body: ``application/json`` for an object or array, ``text/plain`` for a string,
  number or boolean, ``application/octet-stream`` for bytes;
* ``dapr-api-token`` on every request when ``DAPR_API_TOKEN`` is set. It never calls
  ``/v1.0/healthz``.

The script prints one JSON line per SDK call; the test checks those, then the store:
through the server's own get (on the ``/v1.0`` prefix) and, after the server stopped,
through wfkit's Python API on the same SQLite file (the pause held the event back).

``npm ci`` installs the SDK once into ``.cache/dapr-js/<hash of the lock file>/``: in the
checkout rather than the test's temporary folder so that later runs, and a CI job that
keeps ``.cache/``, need neither the 20 s install nor the registry; a changed lock file
gets a new folder. Needs ``node`` and ``npm`` (``tests/system_packages.py`` installs
Debian's ``npm``, which brings ``nodejs``); without them the test fails, never skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Served
from wfkit.engine.core.history import (
    EventRaised,
    ExecutionResumed,
    ExecutionSuspended,
    TaskScheduled,
)
from wfkit.errors import InstanceNotFound
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
JS = Path(__file__).parent / "js"
SCRIPT = JS / "dapr_workflow.js"
CACHE = ROOT / ".cache" / "dapr-js"
MANIFESTS = ("package.json", "package-lock.json")
INSTALL_NODE = "python tests/system_packages.py  (or: apt-get install -y nodejs npm)"

pytestmark = pytest.mark.slow


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed, and this test runs the Dapr JavaScript SDK under "
            f"Node.js; run: {INSTALL_NODE}",
            pytrace=False,
        )
    return found


def node_modules() -> Path:
    """The SDK's ``node_modules``, installed by ``npm ci`` from the lock file on first use."""
    digest = hashlib.sha256(b"".join((JS / name).read_bytes() for name in MANIFESTS))
    target = CACHE / digest.hexdigest()[:16]
    if (target / "node_modules" / "@dapr" / "dapr" / "package.json").is_file():
        return target / "node_modules"
    npm = _tool("npm")
    CACHE.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=CACHE, prefix="installing-"))
    try:
        for name in MANIFESTS:
            shutil.copy(JS / name, scratch / name)
        # --ignore-scripts: nothing needs building, and no package's code runs at install.
        try:  # within pytest's 300 s timeout, to say what was slow
            done = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=240,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("npm ci took over 240 s: is the npm registry reachable?", pytrace=False)
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {scratch}:\n{done.stdout}\n{done.stderr}", pytrace=False)
        try:
            scratch.rename(target)  # atomic: a half-done install is never taken as cached
        except OSError:
            assert target.is_dir(), f"could not move {scratch} to {target}"  # a parallel run won
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target / "node_modules"


def run_sdk(served: Served, *args: str, token: str | None = None) -> list[dict[str, Any]]:
    """Run the SDK script against ``served``; the JSON lines it printed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DAPR_") and key != "NODE_PATH"
    }
    env["NODE_PATH"] = str(node_modules())
    env["DAPR_HTTP_PORT"] = served.url.rsplit(":", 1)[1]
    if token is not None:
        env["DAPR_API_TOKEN"] = token
    done = subprocess.run(
        [_tool("node"), str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, (
        f"the SDK script failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
        f"server log:\n{served.log_text()}"
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def output(record: dict[str, Any]) -> Any:
    """The workflow output in a get's properties (JSON text, as Dapr gives it)."""
    return json.loads(record["properties"]["dapr.workflow.output"])


def test_the_dapr_js_sdk_drives_all_seven_operations(served: Served) -> None:
    records = run_sdk(served, "operations")
    assert [r["op"] for r in records] == [
        "start", "get",
        "start", "get", "pause", "get", "raiseEvent", "raiseEvent", "get", "resume", "get",
        "start", "get", "terminate", "get", "purge", "get-purged",
    ]  # fmt: skip
    hello, hello_done = records[0], records[1]
    assert len(hello["instanceID"]) == 36  # the SDK's own uuid
    assert hello_done["instanceID"] == hello["instanceID"]
    assert hello_done["workflowName"] == "hello"
    assert hello_done["runtimeStatus"] == "COMPLETED"
    assert output(hello_done) == "hello, dapr"
    assert hello_done["createdAt"] <= hello_done["lastUpdatedAt"]

    approval = records[2:11]
    assert approval[0]["instanceID"] == "js-approval-1"
    assert approval[3]["runtimeStatus"] == "SUSPENDED"  # paused
    assert approval[6]["runtimeStatus"] == "SUSPENDED"  # the events did not resume it
    assert approval[8]["runtimeStatus"] == "COMPLETED"
    assert output(approval[8]) == "hello, js"

    assert records[14]["runtimeStatus"] == "TERMINATED"
    purged = records[16]
    assert purged["status"] == 404
    assert purged["body"]["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"

    with served.client() as http:  # the store, through the server's own get on /v1.0
        for instance_id in (hello["instanceID"], "js-approval-1"):
            reply = http.get(f"/v1.0/workflows/dapr/{instance_id}")
            assert reply.status_code == 200, reply.text
            assert reply.json()["runtimeStatus"] == "COMPLETED"
        assert http.get("/v1.0/workflows/dapr/js-terminate-1").status_code == 404

    assert served.stop() == 0
    settings = Settings(
        str(served.folder / "definitions"), f"sqlite:///{served.folder / 'wfkit.db'}"
    )
    with Runtime(settings, run_engine=False, create_store=False) as runtime:
        assert runtime.instance(hello["instanceID"]).output == "hello, dapr"
        history = runtime.instance("js-approval-1").history()
        with pytest.raises(InstanceNotFound):
            runtime.instance("js-terminate-1")

    def first(kind: type, **fields: object) -> int:
        return next(
            n
            for n, event in enumerate(history)
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in fields.items())
        )

    # Paused, the raised event was held; the step after the wait was scheduled only on resume.
    approved = first(EventRaised, name="approved")
    assert first(ExecutionSuspended) < approved < first(ExecutionResumed)
    assert first(ExecutionResumed) < first(TaskScheduled, step="publish")
    events = {e.name: e.data for e in history if isinstance(e, EventRaised)}
    assert events == {"approved": {"by": "js"}, "note": "shipped, in review"}  # JSON and text


def test_the_dapr_js_sdk_sends_the_servers_token(serve_process: Any) -> None:
    served: Served = serve_process("--token", "js-sdk-secret")
    with served.client() as http:
        assert http.get("/v1.0/metadata").status_code == 401
    records = run_sdk(served, "latency", "20", token="js-sdk-secret")
    assert records[-1]["op"] == "latency"
    assert records[-1]["calls"] == 20
