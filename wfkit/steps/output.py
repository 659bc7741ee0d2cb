"""A step's result file: ``$WFKIT_OUTPUT``, written by shell and notebook steps.

Inside a running shell or notebook step, the environment variable ``WFKIT_OUTPUT`` names
a fresh, empty file. Whatever JSON the step writes there becomes the step's output
(``steps.<id>.output``); an empty file means the output is null. :func:`output` writes
it for you::

    import wfkit
    wfkit.output({"score": 0.93, "rows": 1200})
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any

from wfkit.common import jsontext
from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.errors import OutputError
from wfkit.steps.base import failure, step_label, too_large

__all__ = ["OUTPUT_VARIABLE", "OutputError", "new_output_file", "output", "read_output_file"]

OUTPUT_VARIABLE = "WFKIT_OUTPUT"
"""The environment variable naming the file a step writes its JSON result to."""


def output(value: Any) -> None:
    """Make ``value`` the result of the running shell or notebook step.

    Writes ``value`` as JSON to the file named by ``$WFKIT_OUTPUT`` (replacing anything
    written before: the last call wins). Raises :class:`OutputError` when the code is not
    running as a wfkit step (the variable is unset), or when ``value`` is not JSON
    (a pandas DataFrame, a set, NaN...), with the likely fix.
    """
    path = os.environ.get(OUTPUT_VARIABLE, "")
    if not path:
        raise OutputError(
            "wfkit.output() only works inside a running shell or notebook step: "
            f"${OUTPUT_VARIABLE} is not set. Run this code as a step (wfkit run ...), "
            "or guard the call with `if os.environ.get('WFKIT_OUTPUT'):` to run it by hand"
        )
    text, problem = jsontext.json_problem(value)
    if text is None:
        raise OutputError(f"wfkit.output() needs a JSON value, but {problem}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def new_output_file(task: TaskSpec) -> str:
    """Create an empty temporary file for a task's ``$WFKIT_OUTPUT``; returns its path."""
    handle, path = tempfile.mkstemp(prefix=f"wfkit-{task.step}-", suffix=".json")
    os.close(handle)
    return path


def read_output_file(path: str, task: TaskSpec) -> tuple[Any, TaskOutcome | None]:
    """Read a task's ``$WFKIT_OUTPUT`` file and remove it.

    Returns ``(value, None)``: the JSON value, or None for an empty or missing file; or
    ``(None, failure)`` when the file does not hold valid JSON (the message shows the
    first bytes), or is bigger than the task's output limit (then it is not read).
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            limit = task.max_output_bytes
            if limit is not None and size > limit:
                return None, too_large(
                    task, size, f"the ${OUTPUT_VARIABLE} file that {step_label(task)} wrote"
                )
            raw = handle.read()
    except FileNotFoundError:
        return None, None
    finally:
        _remove(path)
    if not raw.strip():
        return None, None
    try:
        value = json.loads(raw, parse_constant=_no_constant)
        problem = jsontext.depth_problem(value) or jsontext.text_problem(value, "output")
    except RecursionError:  # deeper than Python's JSON reads
        value, problem = None, jsontext.too_deep()
    except ValueError as exc:  # also UnicodeDecodeError and json.JSONDecodeError
        head = raw[:200].decode("utf-8", errors="replace")
        more = "..." if len(raw) > 200 else ""
        return None, failure(
            "OutputNotJSON",
            f"{step_label(task)} wrote {len(raw)} bytes to ${OUTPUT_VARIABLE} that are not "
            f"valid JSON ({exc}); the file starts with: {head!r}{more}. Write JSON, for "
            "example with json.dump(value, file) or wfkit.output(value)",
        )
    if problem:
        return None, failure(
            "OutputNotJSON",
            f"{step_label(task)} wrote to ${OUTPUT_VARIABLE} a value wfkit cannot take: {problem}",
        )
    return value, None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
