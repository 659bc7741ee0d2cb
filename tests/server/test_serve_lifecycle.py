"""``wfkit serve`` as a process: a front end for a separate ``wfkit worker``
(``--no-workers``), a graceful stop on SIGTERM while a step runs, a clear refusal of a
port in use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.server.conftest import Served
from tests.server.dapr_calls import ENDED, WORKFLOWS, reader, wait_running_step, wait_status
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


def test_sigterm_lets_the_running_step_finish_and_be_recorded(
    serve_process: Callable[..., Served],
) -> None:
    served = serve_process("--grace", "30")
    with served.client() as http:
        started = http.post(f"{WORKFLOWS}/slow/start?instanceID=calm", json={"seconds": 1.5})
        assert started.status_code == 202
        wait_running_step(http, "calm", "one")
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
