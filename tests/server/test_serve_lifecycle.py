"""``wfkit serve`` as a process: a front end for a separate ``wfkit worker``
(``--no-workers``), a graceful stop on SIGTERM while a step runs, a clear refusal of a
port in use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.server.conftest import Served
from tests.server.dapr_calls import ENDED, WORKFLOWS, reader, wait_status
from wfkit.engine.core.history import TaskCompleted


def test_no_workers_serves_instances_that_a_worker_runs(
    serve_process: Callable[..., Served], worker: Callable[[], subprocess.Popen[str]]
) -> None:
    served = serve_process("--no-workers")
    assert "(no workers)" in served.log_text()
    with served.client() as http:
        started = http.post(f"{WORKFLOWS}/hello/start?instanceID=far", json={"who": "far"})
        assert started.status_code == 202
        stored = http.get(f"{WORKFLOWS}/far").json()
        assert stored["runtimeStatus"] == "PENDING"  # nobody here claims it
        assert stored["properties"]["wfkit.owner.state"] == "unclaimed"
        worker()
        done = wait_status(http, "far", ENDED)
    assert done["runtimeStatus"] == "COMPLETED"
    assert done["properties"]["dapr.workflow.output"] == '"hello, far"'
    assert served.stop() == 0


MARKED = """\
wfkit: 1
name: marked
description: A step that says when it begins running (a file), then one more step.
inputs:
  seconds: {type: number, default: 1.5}
  mark: {type: string}
steps:
  one:
    call: server_steps:nap_after_mark
    with: {seconds: "${{ inputs.seconds }}", mark: "${{ inputs.mark }}"}
  two:
    call: server_steps:nap
    with: {seconds: 0.1}
    needs: [one]
"""


def test_sigterm_lets_the_running_step_finish_and_be_recorded(
    serve_process: Callable[..., Served], tmp_path: Path
) -> None:
    (tmp_path / "definitions" / "marked.yaml").write_text(MARKED)
    served = serve_process("--grace", "30")
    mark = served.folder / "one-began"
    with served.client() as http:
        body = {"seconds": 1.5, "mark": str(mark)}
        started = http.post(f"{WORKFLOWS}/marked/start?instanceID=calm", json=body)
        assert started.status_code == 202
        # running in a thread, not only handed to the runner: a task still waiting for a
        # thread is dropped by the stop (the next worker runs it), which is not this test
        deadline = time.monotonic() + 30
        while not mark.exists():
            assert time.monotonic() < deadline, "step one never began"
            time.sleep(0.01)
    assert served.stop(timeout=60) == 0
    log = served.log_text()
    assert "running step(s) get up to 30 s to finish" in log
    assert "Traceback" not in log
    with reader(served) as runtime:
        instance = runtime.instance("calm")
        completed = [e.step for e in instance.history() if isinstance(e, TaskCompleted)]
        assert completed == ["one"]  # recorded, and nothing new started
        assert instance.row().status not in ENDED  # free for the next worker


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "wfkit", "serve", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "WFKIT_API_TOKEN"},
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"wfkit serve: cannot listen on 127.0.0.1:{port}: the port is in use (another wfkit "
        "serve, or a Dapr sidecar?); stop that server or choose another --port"
    ]
    assert not (tmp_path / ".wfkit").exists()  # refused before the store was opened


def test_port_zero_picks_a_free_port_and_says_which(tmp_path: Path) -> None:
    (tmp_path / "definitions").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "wfkit", "serve", "--port", "0", "--definitions", "definitions"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("wfkit serving on http://127.0.0.1:")
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
