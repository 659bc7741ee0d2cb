"""Step outputs have a size limit (max_output_bytes), checked where each kind of output
is encoded, and a commit the store refuses for one instance does not block the others.
Real engines, real SQLite files, real subprocesses for shell steps."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

import pytest

from wfkit.engine.core.status import RuntimeStatus
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.store import sqlite as sqlite_store

LIMIT = 2000


def _runtime(env: Any, **limits: Any) -> Runtime:
    settings = Settings(definitions=str(env.definitions), store=env.store, workers=2)
    runtime = Runtime(replace(settings, **limits))
    env.runtimes.append(runtime)
    return runtime


def _echo(env: Any) -> None:
    env.define(
        "sized",
        """
inputs:
  n: {type: integer}
steps:
  make: {call: "STEPS:strings", with: {n: "${{ inputs.n }}"}}
""",
    )
    module = env.definitions / f"{env.module}.py"
    module.write_text(module.read_text() + "\n\ndef strings(n):\n    return 'x' * n\n")


def test_a_call_output_just_under_the_limit_is_kept_and_just_over_fails_the_step(
    env: Any,
) -> None:
    _echo(env)
    runtime = _runtime(env, max_output_bytes=LIMIT)
    under = runtime.run("sized", n=LIMIT - 2, timeout=20)  # "x...x" is n + 2 bytes of JSON
    assert under.status is RuntimeStatus.COMPLETED
    assert under.steps["make"].output == "x" * (LIMIT - 2)
    over = runtime.run("sized", n=LIMIT - 1, timeout=20)
    assert over.status is RuntimeStatus.FAILED
    error = over.steps["make"].error
    assert error is not None and error.type == "OutputTooLarge"
    assert "step 'make'" in error.message and "max_output_bytes" in error.message
    assert over.failure is not None and over.failure.type == "OutputTooLarge"


@pytest.mark.parametrize(("size", "ok"), [(LIMIT, True), (LIMIT + 1, False)])
def test_a_shell_output_file_over_the_limit_fails_the_step(env: Any, size: int, ok: bool) -> None:
    # a JSON string of `size` bytes: the quotes and size - 2 letters
    script = (
        f"import os; open(os.environ['WFKIT_OUTPUT'], 'w').write('\"' + 'y' * {size - 2} + '\"')"
    )
    env.define("writes", f"steps:\n  out: {{shell: [python, -c, {json.dumps(script)}]}}\n")
    run = _runtime(env, max_output_bytes=LIMIT).run("writes", timeout=30)
    if ok:
        assert run.status is RuntimeStatus.COMPLETED
        assert run.steps["out"].output == "y" * (size - 2)
    else:
        error = run.steps["out"].error
        assert error is not None and error.type == "OutputTooLarge"
        assert "$WFKIT_OUTPUT" in error.message


def test_a_child_workflow_output_over_the_limit_fails_the_child_and_its_step(env: Any) -> None:
    _echo(env)
    env.define(
        "twice",
        """
steps:
  a: {call: "STEPS:strings", with: {n: 1200}}
  b: {call: "STEPS:strings", with: {n: 1200}}
output: "${{ steps.a.output + steps.b.output }}"
""",
    )
    env.define("parent", "steps:\n  kid: {workflow: twice}\n")
    run = _runtime(env, max_output_bytes=LIMIT).run("parent", timeout=30)
    assert run.status is RuntimeStatus.FAILED
    error = run.steps["kid"].error
    assert error is not None and error.type == "OutputTooLarge"
    assert "the workflow's output" in error.message


def test_a_value_over_sqlites_own_limit_fails_its_instance_and_the_other_completes(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's length limit, lowered on every connection of the store, stands for its
    1 GB one: the engine's own limit is set above it, so the store refuses the commit."""
    real_connect = sqlite_store.connect

    def small_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 50_000)
        return conn

    monkeypatch.setattr(sqlite_store, "connect", small_connect)
    _echo(env)
    env.define(
        "pair",
        """
inputs:
  n: {type: integer}
steps:
  wait_both: {call: "STEPS:gate", with: {name: both}}
  make: {call: "STEPS:strings", with: {n: "${{ inputs.n }}"}, needs: [wait_both]}
  after: {call: "STEPS:echo", needs: [make]}
""",
    )
    runtime = _runtime(env, max_output_bytes=10 << 20, workers=4)
    big = runtime.start("pair", {"n": 60_000})
    small = runtime.start("pair", {"n": 10})
    env.eventually(lambda: len(env.notes("both")) == 2)
    env.open_gate("both")  # both `make` steps run now and report together, or nearly
    assert small.wait(30).status is RuntimeStatus.COMPLETED
    assert big.wait(30).status is RuntimeStatus.FAILED
    failure = big.failure
    assert failure is not None and failure.type == "CommitFailed"
    assert "string or blob too big" in failure.message
