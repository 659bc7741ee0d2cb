"""Deep data is refused where it comes in, and data stored deep before is still shown.

Inputs, event data and step outputs may nest at most 100 levels (jsontext.MAX_DEPTH):
deeper data reached Python's recursion limit (a raw RecursionError at start, a history
that could no longer be read) and the CEL interpreter's.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from typing import Any

import pytest

from wfkit.common.jsontext import MAX_DEPTH
from wfkit.engine.core.inputs import prepare_input
from wfkit.errors import InvalidEventData, InvalidInput

ECHO = """
inputs:
  v: {}
steps:
  a: {call: "STEPS:echo", with: {v: "${{ inputs.v }}"}}
output: "${{ steps.a.output.v }}"
"""


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_an_input_nested_past_the_limit_is_invalid_input(env: Any) -> None:
    env.define("echo", ECHO)
    rt = env.runtime()
    # the step's output {"v": ...} is one level deeper than its input
    assert rt.run("echo", v=nested(MAX_DEPTH - 1), timeout=10).output == nested(MAX_DEPTH - 1)
    for levels in (MAX_DEPTH + 1, 1000, 5000):
        with pytest.raises(InvalidInput, match=r"input 'v' .*nests more than 100 levels"):
            rt.start("echo", v=nested(levels))
    text = json.dumps({"v": "X"}).replace('"X"', "[" * 5000 + "]" * 5000)
    with pytest.raises(InvalidInput, match="nests more than 100 levels"):
        prepare_input(rt.definition("echo"), text)  # JSON text, as the contract's start takes


def test_event_data_nested_past_the_limit_is_refused(env: Any) -> None:
    env.define("waits", "steps:\n  w: {wait: {event: go}}\n")
    rt = env.runtime()
    job = rt.start("waits")
    with pytest.raises(InvalidEventData, match="nests more than 100 levels"):
        job.raise_event("go", nested(MAX_DEPTH + 1))
    job.raise_event("go", nested(MAX_DEPTH))
    assert job.wait(10).steps["w"].output == nested(MAX_DEPTH)


def test_a_step_output_nested_past_the_limit_fails_that_step(env: Any) -> None:
    env.define("deep", 'steps:\n  a: {call: "STEPS:echo", with: {v: 1}}\n')
    (env.definitions / "deepout.py").write_text(
        "def make(n):\n    v = 1\n    for _ in range(n):\n        v = [v]\n    return v\n"
    )
    env.define("out", f'steps:\n  a: {{call: "deepout:make", with: {{n: {MAX_DEPTH + 1}}}}}\n')
    run = env.runtime().run("out", timeout=10)
    error = run.steps["a"].error
    assert error is not None
    assert error.type == "OutputNotJSON"
    assert "deepout:make returned a value that is not JSON: it nests more than 100 levels" in (
        error.message
    )


def test_a_deep_value_stored_by_older_code_is_shown_shortened(env: Any) -> None:
    env.define("echo", ECHO)
    rt = env.runtime()
    rt.run("echo", instance_id="old", v="PLACEHOLDER", timeout=10)
    rt.close()
    deep = json.dumps(nested(900))
    db = env.store.removeprefix("sqlite:///")
    with sqlite3.connect(db) as raw:  # as the code before the depth limit stored it
        for table, column in (("instances", "input"), ("instances", "output"), ("history", "data")):
            raw.execute(
                f"UPDATE {table} SET {column} = replace({column}, '\"PLACEHOLDER\"', ?)", (deep,)
            )
    for command in (
        ["history", "old"],
        ["history", "old", "--json"],
        ["get", "old"],
        ["get", "old", "--json"],
        ["list"],
    ):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "wfkit",
                *command,
                "--store",
                env.store,
                "--definitions",
                str(env.definitions),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (command, done.stderr[-800:])
        assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr, command
        if command[-1] == "--json":
            assert "nested too deep to show" in done.stdout, command
