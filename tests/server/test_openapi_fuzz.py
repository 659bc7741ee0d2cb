"""A schema-based fuzzer (schemathesis) against a real ``wfkit serve`` through its OpenAPI
document: no 500, and no reply that breaks its own schema, status list or content type.

Bounded (a fixed seed, 15 examples per operation, two workers): about 40 s here for
each store, SQLite and PostgreSQL. Path parameters are drawn half of the time from instances that exist
in every state (completed, waiting for an event, failed) and from the workflows of the
folder, so that the fuzzer reaches past the 404s. The event stream is left out: it stays
open while its instance runs (tests/server/test_wfkit_stream.py tests it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import Served

FAILS = """\
wfkit: 1
name: fails
description: One call step whose function does not exist.
steps:
  broken:
    call: server_steps:no_such_function
"""

BROKEN = """\
wfkit: 1
name: broken
steps:
  one: {call: server_steps:greet, unknown_key: 1}
"""

CONFIG = """\
[dictionaries.instances]
values = ["fuzz-done", "fuzz-waiting", "fuzz-failed"]

[dictionaries.workflows]
values = ["hello", "approval", "slow", "fails", "broken"]

[parameters]
"path.instanceID" = {{ dictionary = "instances", probability = 0.5 }}
"path.name" = {{ dictionary = "workflows", probability = 0.5 }}
"""

CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)


def _until(http: httpx.Client, instance_id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = http.get(f"/v1.0/wfkit/instances/{instance_id}")
        if got.status_code == 200 and got.json()["runtimeStatus"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never became {status}")


def _seed(served: Served) -> None:
    """An instance in each state the fuzzer's ids name."""
    with served.client() as http:
        for name, instance_id in (
            ("hello", "fuzz-done"),
            ("approval", "fuzz-waiting"),
            ("fails", "fuzz-failed"),
        ):
            started = http.post(f"/v1.0/workflows/wfkit/{name}/start?instanceID={instance_id}")
            assert started.status_code == 202, started.text
        _until(http, "fuzz-done", "COMPLETED")
        _until(http, "fuzz-failed", "FAILED")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_fuzzer_finds_no_server_error_nor_reply_off_its_schema(
    serve_process: Callable[..., Served],
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    (tmp_path / "definitions" / "fails.yaml").write_text(FAILS)
    (tmp_path / "definitions" / "broken.yaml").write_text(BROKEN)
    store = [] if backend == "sqlite" else ["--store", request.getfixturevalue("postgres_url")]
    served = serve_process(*store)
    _seed(served)
    (tmp_path / "schemathesis.toml").write_text(CONFIG.format())
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{served.url}/v1.0/wfkit/openapi.json",
            "--checks",
            CHECKS,
            "--exclude-path-regex",
            "/stream$",
            "--max-examples",
            "15",
            "--seed",
            "14",
            "--workers",
            "2",
            "--request-timeout",
            "20",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "passed" in run.stdout, report
    assert " 500 " not in served.log_text(), served.log_text()
