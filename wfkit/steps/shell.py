"""``shell`` steps: a program run as a child process, from an argv list (never a shell).

``shell: [python, -m, churn.check]`` runs with ``shell=False`` in the working directory,
with an empty stdin.
The child's environment is this process's, plus the step's ``env`` (values arrive as
given: strings, JSON text for non-string values), plus wfkit's variables
(``WFKIT_OUTPUT``, ``WFKIT_INSTANCE_ID``, ``WFKIT_STEP``, ``WFKIT_ATTEMPT``,
``WFKIT_INDEX``, ``WFKIT_WORKDIR``, ``WFKIT_DEFINITIONS``); the definitions folder comes
first on ``PYTHONPATH`` so that ``python -m`` finds modules beside the definitions.

An ``argv[0]`` of ``python``, ``python3`` or ``python3.N`` (this interpreter's version)
runs :data:`sys.executable`, the interpreter running wfkit (its virtual environment),
not whichever ``python`` comes first on ``PATH``.

The program's output is the JSON it writes to the file named by ``$WFKIT_OUTPUT`` (null
when it writes nothing). A non-zero exit code fails the step with ``ShellStepFailed``.
The process runs in a session of its own: on timeout or terminate its whole process
group (its children too) gets SIGTERM, then SIGKILL after a grace period. The same
happens when the engine process dies while the program runs, even by SIGKILL: a
:class:`~wfkit.steps.watchdog.Watchdog` started with the step kills the group within
milliseconds (SIGKILL after the grace), so the engine that takes the instance over never
runs the step beside an orphan of it. The program is started through ``/bin/sh``, which
execs it (same pid and group, same exit status); an executable file with no ``#!``
line is therefore run by ``/bin/sh``, as shells do, and ``$PWD`` is the working
directory. Descendants that leave the process group (``setsid``) are not killed.
stdout and stderr are captured concurrently; the last
:data:`~wfkit.steps.process.TAIL_BYTES` of each are kept in the outcome's details, with
the number of bytes dropped.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.steps.base import CancelToken, failure, step_label
from wfkit.steps.output import new_output_file, read_output_file
from wfkit.steps.process import (
    KILL_GRACE,
    TAIL_BYTES,
    PipeCapture,
    child_environment,
    kill_group,
    process_text_problem,
)
from wfkit.steps.watchdog import Watchdog, check_program

__all__ = ["ShellHandler", "python_argv"]

_PYTHON_NAMES = frozenset({"python", "python3", f"python3.{sys.version_info[1]}"})
_STDERR_LINES = 10


def python_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with a leading ``python``/``python3``/``python3.N`` replaced by
    :data:`sys.executable` (the interpreter running wfkit)."""
    args = list(argv)
    if args and args[0] in _PYTHON_NAMES:
        args[0] = sys.executable
    return args


class ShellHandler:
    """Runs ``shell`` steps as child processes (see the module docstring).

    ``tail_bytes`` is how much of stdout and of stderr is kept; ``kill_grace`` the seconds
    between SIGTERM and SIGKILL when the process group is killed.
    """

    kind = "shell"

    def __init__(self, *, tail_bytes: int = TAIL_BYTES, kill_grace: float = KILL_GRACE) -> None:
        self.tail_bytes = tail_bytes
        self.kill_grace = kill_grace

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        """Run the program to its end (or its timeout, or cancellation)."""
        argv = _check_argv(task)
        if isinstance(argv, TaskOutcome):
            return argv
        if cancel.cancelled:
            return failure("Canceled", f"{step_label(task)} was cancelled before it started")
        output_path = new_output_file(task)
        try:
            return self._run(task, argv, output_path, cancel)
        finally:
            if os.path.exists(output_path):
                os.unlink(output_path)

    def _run(
        self, task: TaskSpec, argv: list[str], output_path: str, cancel: CancelToken
    ) -> TaskOutcome:
        env = child_environment(task, output_path, [os.path.abspath(task.definitions_dir)])
        started = time.monotonic()
        problem = _check_start(task, argv, env)
        if problem is not None:
            return problem
        with Watchdog.start(self.kill_grace) as watchdog:
            process = _start(task, argv, env, watchdog)
            if isinstance(process, TaskOutcome):
                return process
            unregister = cancel.register_process(process.pid, self.kill_grace)
            assert process.stdout is not None and process.stderr is not None
            capture = PipeCapture(process.stdout, process.stderr, self.tail_bytes)
            timed_out = False
            try:
                process.wait(timeout=task.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_group(process.pid, self.kill_grace)
                process.wait()
            finally:
                unregister()
        # The watchdog is released: the program has ended, so what it left running in
        # the background (which the step does not wait for) is no longer the step's.
        complete = capture.finish(timeout=2.0 if timed_out or cancel.cancelled else 1.0)
        details = _details(process.returncode, capture, time.monotonic() - started, complete)
        if cancel.cancelled:
            return failure("Canceled", f"{step_label(task)} was cancelled", details=details)
        if timed_out:
            return failure(
                "TimeoutError",
                f"{step_label(task)}: `{_show(task.target)}` ran over its timeout of "
                f"{task.timeout:g} s and was killed with its process group",
                details=details,
            )
        if process.returncode != 0:
            return failure("ShellStepFailed", _exit_message(task, details), details=details)
        value, problem = read_output_file(output_path, task)
        if problem is not None:
            return dataclasses.replace(problem, details=details)
        return TaskOutcome(output=value, details=details)


def _check_argv(task: TaskSpec) -> list[str] | TaskOutcome:
    target = task.target
    if (
        isinstance(target, str)
        or not isinstance(target, Sequence)
        or not target
        or not all(isinstance(arg, str) for arg in target)
    ):
        return failure(
            "InvalidStepTarget",
            f"{step_label(task)}: a shell step takes a non-empty argv list of strings "
            f"(for example [python, -m, mypkg.check]), not {target!r}",
        )
    problem = process_text_problem(task.env, target)
    if problem:
        return failure("InvalidStepInput", f"{step_label(task)}: {problem}")
    return python_argv(target)


def _check_start(task: TaskSpec, argv: list[str], env: dict[str, str]) -> TaskOutcome | None:
    """Say clearly why the program cannot start (no workdir, no such program, not
    executable), or None; the errors Popen would raise, checked before the watchdog."""
    workdir = os.path.abspath(task.workdir)
    if not os.path.isdir(workdir):
        return failure(
            "WorkdirNotFound",
            f"{step_label(task)}: the working directory {workdir} does not exist",
        )
    try:
        check_program(argv[0], env, workdir)
    except OSError as exc:
        return _cannot_start(task, argv, exc)
    return None


def _start(
    task: TaskSpec, argv: list[str], env: dict[str, str], watchdog: Watchdog
) -> subprocess.Popen[bytes] | TaskOutcome:
    """Start the process in a new session, through the watchdog's launcher."""
    try:
        return subprocess.Popen(
            watchdog.command(argv),
            cwd=os.path.abspath(task.workdir),
            env=env,
            stdin=watchdog.stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            shell=False,
        )
    except OSError as exc:
        return _cannot_start(task, argv, exc)


def _cannot_start(task: TaskSpec, argv: list[str], exc: OSError) -> TaskOutcome:
    if isinstance(exc, FileNotFoundError):
        where = "" if os.sep in argv[0] else " on PATH"
        return failure(
            "ExecutableNotFound",
            f"{step_label(task)}: cannot run {argv[0]!r}: no such program{where} (argv[0] of "
            f"`{_show(task.target)}`); install it, or give its full path",
        )
    if isinstance(exc, PermissionError):
        return failure(
            "ExecutableNotFound",
            f"{step_label(task)}: cannot run {argv[0]!r}: permission denied (is it "
            "executable? chmod +x, or run it through its interpreter: [sh, script.sh])",
        )
    return failure("ExecutableNotFound", f"{step_label(task)}: cannot run {argv[0]!r}: {exc}")


def _details(code: int, capture: PipeCapture, duration: float, complete: bool) -> dict[str, Any]:
    details: dict[str, Any] = {
        "exit_code": code,
        "stdout": capture.text("stdout"),
        "stderr": capture.text("stderr"),
        "stdout_dropped": capture.dropped("stdout"),
        "stderr_dropped": capture.dropped("stderr"),
        "duration": round(duration, 6),
    }
    if not complete:
        details["capture_incomplete"] = (
            "stdout/stderr were still open after the process ended (a background process "
            "it started kept them); capture stopped there"
        )
    return details


def _exit_message(task: TaskSpec, details: dict[str, Any]) -> str:
    code = details["exit_code"]
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        head = f"`{_show(task.target)}` was killed by {name} (exit code {code})"
    else:
        head = f"`{_show(task.target)}` exited with code {code}"
    lines = [line for line in details["stderr"].splitlines() if line.strip()]
    if not lines:
        return f"{step_label(task)}: {head}; stderr was empty (see stdout in the details)"
    tail = "\n".join(lines[-_STDERR_LINES:])[-2000:]
    return f"{step_label(task)}: {head}; last lines of stderr:\n{tail}"


def _show(argv: Sequence[str]) -> str:
    text = shlex.join(argv)
    return text if len(text) <= 200 else text[:197] + "..."
