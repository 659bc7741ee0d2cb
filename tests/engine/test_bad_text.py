"""Text no store or process can take is refused where it comes in, with a clear message.

A lone surrogate (``"a\\ud800b"``: what ``errors='surrogateescape'`` decoding or a JSON
``\\ud800`` escape gives) cannot be encoded as UTF-8: it reached the input validator as a
raw UnicodeEncodeError, and step outputs that held one were stored and then broke the
steps that used them. A NUL character cannot be put in a process's environment or
arguments: it failed a shell step with "the shell step handler failed unexpectedly".
Each is now a clear error that names where the bad character is.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from wfkit.engine.core.inputs import prepare_input
from wfkit.errors import InvalidEventData, InvalidInput

ECHO = """
inputs:
  v: {type: string}
  w: {default: {}}
steps:
  a: {call: "STEPS:echo", with: {v: "${{ inputs.v }}"}}
"""

SHELL = """
inputs:
  v: {type: string}
steps:
  a: {shell: [python, -c, "pass"], env: {BAD_VALUE: "${{ inputs.v }}"}}
"""

STEPS = r"""
def surrogate_value():
    return {"rows": ["fine", "a\ud800b"]}


def surrogate_key():
    return {"k\udc80": 1}
"""

SURROGATE_MESSAGE = "holds a lone surrogate ('\\\\ud800', character 2)"


def wfkit_cli(env: Any, *words: str) -> subprocess.CompletedProcess[str]:
    """A real ``wfkit`` process on the test's store and definitions."""
    return subprocess.run(
        [sys.executable, "-m", "wfkit", *words, "--store", env.store,
         "--definitions", str(env.definitions)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_an_input_with_a_lone_surrogate_is_invalid_input_naming_where(env: Any) -> None:
    env.define("echo", ECHO)
    rt = env.runtime()
    with pytest.raises(InvalidInput, match=r"input 'v' .*the text at inputs\.v \('a\\ud800b'\)"):
        rt.start("echo", v="a\ud800b")
    with pytest.raises(InvalidInput, match=r"the text at inputs\.w\.rows\[1\]") as info:
        rt.start("echo", v="fine", w={"rows": ["ok", "x\udfffy"]})
    assert "lone surrogate" in str(info.value) and "errors='replace'" in str(info.value)
    with pytest.raises(InvalidInput, match=r"a key of inputs\.w \('k\\udc80'\)"):
        rt.start("echo", v="fine", w={"k\udc80": 1})
    with pytest.raises(InvalidInput, match="lone surrogate"):  # JSON text, as Dapr's start
        prepare_input(rt.definition("echo"), '{"v": "a\\ud800b"}')
    assert rt.instances() == []  # nothing was stored


def test_the_cli_says_which_input_holds_a_lone_surrogate(env: Any) -> None:
    env.define("echo", ECHO)
    done = wfkit_cli(env, "run", "echo", "--input", '{"v": "a\\ud800b"}')
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "UnicodeEncodeError" not in done.stderr
    assert "wfkit run: invalid input for workflow 'echo'" in done.stderr
    assert "input 'v' is not JSON: the text at inputs.v" in done.stderr
    assert "lone surrogate" in done.stderr


def test_event_data_with_a_lone_surrogate_is_refused(env: Any) -> None:
    env.define("waits", "steps:\n  w: {wait: {event: go}}\n")
    rt = env.runtime()
    job = rt.start("waits", instance_id="waiting")
    with pytest.raises(InvalidEventData, match=r"the text at data\.x \('a\\ud800b'\)"):
        job.raise_event("go", {"x": "a\ud800b"})
    done = wfkit_cli(env, "raise-event", "waiting", "go", '{"x": "a\\ud800b"}')
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot send event 'go'" in done.stderr and "the text at data.x" in done.stderr
    job.raise_event("go", {"x": "fine"})
    assert job.wait(10).steps["w"].output == {"x": "fine"}


def test_a_step_output_with_a_lone_surrogate_fails_that_step(env: Any) -> None:
    (env.definitions / "badtext.py").write_text(STEPS)
    env.define("value", 'steps:\n  a: {call: "badtext:surrogate_value"}\n')
    env.define("key", 'steps:\n  a: {call: "badtext:surrogate_key"}\n')
    writes = 'import os; open(os.environ["WFKIT_OUTPUT"], "w").write(\'{"x": "a\\\\ud800b"}\')'
    env.define("shell", f"steps:\n  a: {{shell: [python, -c, {json.dumps(writes)}]}}\n")
    rt = env.runtime()
    expected = {
        "value": r"returned a value that is not JSON: the text at output\.rows\[1\]",
        "key": r"returned a value that is not JSON: a key of output \('k\\udc80'\)",
        "shell": r"wrote to \$WFKIT_OUTPUT a value wfkit cannot take: the text at output\.x",
    }
    for name, message in expected.items():
        run = rt.run(name, timeout=30)
        error = run.steps["a"].error
        assert error is not None, name
        assert error.type == "OutputNotJSON", (name, error)
        assert re.search(message, error.message), (name, error.message)
        assert "lone surrogate" in error.message
    done = wfkit_cli(env, "run", "value")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert "OutputNotJSON" in done.stdout and "lone surrogate" in done.stdout


def test_a_nul_in_a_shell_env_value_fails_the_step_naming_the_variable(env: Any) -> None:
    env.define("shell", SHELL)
    rt = env.runtime()
    run = rt.run("shell", v="a\x00b", timeout=30)
    error = run.steps["a"].error
    assert error is not None
    assert error.type == "InvalidStepInput"
    assert "unexpectedly" not in error.message
    assert error.message.startswith("step 'a': env BAD_VALUE: its value ('a\\x00b') holds a NUL")
    done = wfkit_cli(env, "run", "shell", "--input", '{"v": "a\\u0000b"}')
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert "InvalidStepInput: step 'a': env BAD_VALUE: its value" in done.stdout
    assert rt.run("shell", v="fine", timeout=30).steps["a"].status == "completed"


def test_a_nul_in_a_shell_argv_item_fails_the_step_naming_it(env: Any) -> None:
    env.define("argv", 'steps:\n  a: {shell: [python, -c, "pass", "x\\0y"]}\n')
    argv = env.runtime().run("argv", timeout=30).steps["a"].error
    assert argv is not None and argv.type == "InvalidStepInput"
    assert argv.message.startswith("step 'a': argv item 3 ('x\\x00y') holds a NUL character")


def test_a_nul_in_a_notebook_env_value_fails_the_step_naming_the_variable(env: Any) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(notebook, env.definitions / "nb.ipynb")
    env.define(
        "nb",
        'inputs:\n  v: {type: string}\nsteps:\n  a: {notebook: nb.ipynb, env: {BAD: "${{ inputs.v }}"}}\n',
    )
    error = env.runtime().run("nb", v="a\x00b", timeout=60).steps["a"].error
    assert error is not None and error.type == "InvalidStepInput"
    assert error.message.startswith("step 'a': env BAD: its value ('a\\x00b') holds a NUL")
