"""``notebook`` steps: a Jupyter notebook executed by a fresh kernel, with parameters.

``notebook: report/summary.ipynb`` (relative to the definitions folder, or absolute) is
read with nbformat and its parameters are injected the way papermill does it: a new code
cell tagged ``injected-parameters`` right after the cell tagged ``parameters`` (or at the
top when there is none) assigns each ``with`` key its value as a Python literal. Then
nbclient runs it on a new ``python3`` kernel.

- **Working directory**: the notebook's own folder, as when a person opens it in
  Jupyter, so relative paths in the notebook mean what they meant to its author. The
  run's working directory is in ``$WFKIT_WORKDIR``; the definitions folder and the
  working directory are first on the kernel's ``PYTHONPATH``.
- **Environment**: this process's, plus the step's ``env``, plus wfkit's variables
  (``WFKIT_OUTPUT`` and the rest, as for shell steps). nbclient hands ``env`` to
  jupyter_client's ``KernelManager.start_kernel``, whose provisioner uses it as the
  kernel's whole environment (so it is passed complete, not as a difference).
- **Output**: the JSON the notebook writes to ``$WFKIT_OUTPUT``, most simply with
  ``wfkit.output(value)``; null when it writes nothing.
- **The executed notebook** (outputs included, also when a cell fails or the run is
  stopped) is saved as ``<workdir>/.wfkit/notebooks/<instance>/<step>[<index>]-<attempt>.ipynb``;
  its path is ``details["notebook"]``. What the kernel process itself printed (not
  the cells' output, which is in the notebook) is ``details["kernel_log"]`` (its tail).
- **Kernel channels** are encrypted (CurveZMQ) when jupyter_client supports it.
- **Timeout and terminate** kill the kernel's process group (SIGTERM, then SIGKILL).
  So does the death of the engine process, SIGKILL included: the kernel starts through
  a :class:`~wfkit.steps.watchdog.Watchdog`'s launcher. (ipykernel's own parent poller
  only ends the kernel itself, about a second later, and leaves the processes the
  notebook started running.)

nbformat and nbclient come with the ``jupyter`` extra; without them the step fails with
the ``pip install`` command to run.
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import os
import re
import tempfile
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.steps.base import CancelToken, failure, step_label
from wfkit.steps.output import new_output_file, read_output_file
from wfkit.steps.process import (
    KILL_GRACE,
    child_environment,
    kill_group_soon,
    process_text_problem,
)
from wfkit.steps.watchdog import Watchdog, check_program

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager

__all__ = ["NotebookHandler", "inject_parameters", "saved_notebook_path"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
INSTALL_HINT = "pip install 'wfkit[jupyter]'"
KERNEL_LOG_BYTES = 16 * 1024
"""How much of the kernel process's own stdout/stderr (not the cells') is kept."""


def saved_notebook_path(task: TaskSpec) -> str:
    """Where the executed notebook of ``task`` is saved (absolute)."""
    item = "" if task.index is None else f"[{task.index}]"
    name = f"{task.step}{item}-{task.attempt}.ipynb"
    return os.path.join(
        os.path.abspath(task.workdir), ".wfkit", "notebooks", task.instance_id, name
    )


def inject_parameters(nb: Any, values: dict[str, Any]) -> None:
    """Insert the ``injected-parameters`` cell into ``nb`` (an nbformat v4 notebook).

    It goes right after the cell tagged ``parameters``, or first when none is tagged; an
    earlier injected cell is removed. Keys must be Python identifiers (a ValueError says
    which are not); values must be JSON and are written as Python literals.
    """
    import nbformat

    bad = [k for k in values if not _identifier(k)]
    if bad:
        raise ValueError(
            f"notebook parameters must be Python identifiers; {', '.join(map(repr, bad))} "
            "cannot be assigned in a cell (rename the `with` keys)"
        )
    plain = json.loads(json.dumps(values, allow_nan=False))
    lines = ["# Parameters injected by wfkit"]
    lines += [f"{name} = {value!r}" for name, value in plain.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines) + "\n")  # type: ignore[no-untyped-call]
    cell.metadata["tags"] = ["injected-parameters"]
    if nb.get("nbformat_minor", 5) < 5:
        cell.pop("id", None)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in _tags(c)]
    after = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in _tags(c)), 0)
    nb.cells.insert(after, cell)


def _identifier(name: object) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


class _Stopped(Exception):
    """Raised from nbclient's hooks to stop a run that was timed out or cancelled."""


class _Watch:
    """Stops a notebook run from another thread: marks why and kills the kernel group."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.reason: str | None = None
        self.cell_index: int | None = None
        self.client: Any = None
        self._lock = threading.Lock()

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        km = getattr(self.client, "km", None)
        process = getattr(getattr(km, "provisioner", None), "process", None)
        pid = getattr(process, "pid", None)
        if isinstance(pid, int):
            kill_group_soon(pid, self.grace)

    def execute(
        self,
        timeout: float | None,
        cancel: CancelToken,
        *,
        cwd: str,
        env: dict[str, str],
        log: IO[bytes],
        stdin: int,
    ) -> Exception | None:
        """Run the client's notebook, stopped by ``timeout`` or ``cancel``; the error
        nbclient raised, or None. The kernel's own stdout and stderr go to ``log``; its
        stdin is ``stdin`` (the watchdog's pipe, which its launcher reads from)."""
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, self.stop, args=("timeout",))
            timer.daemon = True
            timer.start()
        unregister = cancel.on_cancel(lambda: self.stop("cancel"))
        fd = log.fileno()
        try:
            self.client.execute(
                cwd=cwd, env=env, stdin=stdin, stdout=fd, stderr=fd, **_kernel_options()
            )
        except Exception as exc:
            return exc
        finally:
            unregister()
            if timer is not None:
                timer.cancel()
        return None

    def on_notebook_start(self, **_: Any) -> None:
        if self.reason is not None:
            raise _Stopped(self.reason)

    def on_cell_start(self, *, cell_index: int, **_: Any) -> None:
        self.cell_index = cell_index
        if self.reason is not None:
            raise _Stopped(self.reason)


class NotebookHandler:
    """Runs ``notebook`` steps with nbclient (see the module docstring).

    ``kernel_name`` is the Jupyter kernel to start; ``startup_timeout`` the seconds a
    kernel may take to start; ``kill_grace`` the seconds between SIGTERM and SIGKILL.
    """

    kind = "notebook"

    def __init__(
        self,
        *,
        kernel_name: str = "python3",
        startup_timeout: float = 60.0,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.kill_grace = kill_grace

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        """Inject the parameters, execute the notebook, save it, read its output."""
        try:
            import nbclient  # noqa: F401
            import nbformat
        except ImportError as exc:
            return failure(
                "MissingDependency",
                f"{step_label(task)} is a notebook step, which needs nbformat and nbclient "
                f"({exc}); install them with: {INSTALL_HINT}",
            )
        bad_env = process_text_problem(task.env)
        if bad_env:
            return failure("InvalidStepInput", f"{step_label(task)}: {bad_env}")
        path = os.path.join(task.definitions_dir, str(task.target))
        try:
            nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        except FileNotFoundError:
            return failure(
                "NotebookNotFound",
                f"{step_label(task)}: no notebook at {os.path.abspath(path)} (notebook paths "
                "are relative to the definitions folder)",
            )
        except Exception as exc:
            return failure(
                "InvalidNotebook",
                f"{step_label(task)}: cannot read {os.path.abspath(path)} as a notebook: "
                f"{type(exc).__name__}: {exc}",
            )
        problem = _inject(task, nb)
        if problem is not None:
            return problem
        output_path = new_output_file(task)
        try:
            return self._execute(task, nb, os.path.abspath(path), output_path, cancel)
        finally:
            if os.path.exists(output_path):
                os.unlink(output_path)

    def _execute(
        self, task: TaskSpec, nb: Any, path: str, output_path: str, cancel: CancelToken
    ) -> TaskOutcome:
        from nbclient import NotebookClient

        folder = os.path.dirname(path)
        imports = [os.path.abspath(task.definitions_dir), os.path.abspath(task.workdir)]
        env = child_environment(task, output_path, imports)
        watch = _Watch(self.kill_grace)
        started = time.monotonic()
        with tempfile.TemporaryFile() as kernel_log:
            with Watchdog.start(self.kill_grace) as watchdog:
                watch.client = NotebookClient(
                    nb,
                    timeout=None,
                    kernel_name=self.kernel_name,
                    kernel_manager_class=_watched_kernel_manager(watchdog, env, folder),
                    startup_timeout=int(self.startup_timeout),
                    resources={"metadata": {"path": folder}},
                    on_notebook_start=watch.on_notebook_start,
                    on_cell_start=watch.on_cell_start,
                )
                error = watch.execute(
                    task.timeout, cancel, cwd=folder, env=env, log=kernel_log, stdin=watchdog.stdin
                )
            details = {
                "notebook": _save(nb, saved_notebook_path(task)),
                "duration": round(time.monotonic() - started, 6),
                "kernel_log": _tail(kernel_log),
            }
        if error is not None or watch.reason == "cancel":
            return _stopped_or_failed(task, watch, error, details)
        value, problem = read_output_file(output_path, task)
        if problem is not None:
            return dataclasses.replace(problem, details=details)
        return TaskOutcome(output=value, details=details)


def _watched_kernel_manager(
    watchdog: Watchdog, env: dict[str, str], cwd: str
) -> type[AsyncKernelManager]:
    """nbclient's kernel manager, whose kernel command goes through the watchdog's
    launcher (which execs it: the kernel keeps the pid and process group it had)."""
    from jupyter_client.manager import AsyncKernelManager

    class WatchedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            command = super().format_kernel_cmd(extra_arguments)
            if watchdog.armed and command:
                check_program(command[0], env, cwd)  # Popen's errors, not exit code 127
            return watchdog.command(command)

    return WatchedKernelManager


def _kernel_options() -> dict[str, Any]:
    """Encrypt the kernel's channels (CurveZMQ) where jupyter_client can (8.10 and later)."""
    from jupyter_client.manager import KernelManager

    if "transport_encryption" in KernelManager.class_trait_names():
        return {"transport_encryption": "auto"}
    return {}


def _inject(task: TaskSpec, nb: Any) -> TaskOutcome | None:
    values = task.input if task.input is not None else {}
    if not isinstance(values, dict):
        return failure(
            "InvalidStepInput",
            f"{step_label(task)}: a notebook step's `with` must be a mapping of parameter "
            f"names to values, not a {type(values).__name__}",
        )
    try:
        inject_parameters(nb, values)
    except (TypeError, ValueError) as exc:
        return failure("InvalidStepInput", f"{step_label(task)}: {exc}")
    return None


def _tail(log: IO[bytes]) -> str:
    """The last :data:`KERNEL_LOG_BYTES` of what the kernel process printed."""
    size = log.seek(0, os.SEEK_END)
    log.seek(max(0, size - KERNEL_LOG_BYTES))
    return log.read().decode("utf-8", errors="replace")


def _save(nb: Any, path: str) -> str:
    import nbformat

    os.makedirs(os.path.dirname(path), exist_ok=True)
    nbformat.write(nb, path)  # type: ignore[no-untyped-call]
    return path


def _stopped_or_failed(
    task: TaskSpec, watch: _Watch, error: BaseException | None, details: dict[str, Any]
) -> TaskOutcome:
    from nbclient.exceptions import CellExecutionError

    label = step_label(task)
    details["cell_index"] = watch.cell_index
    where = (
        "while the kernel started" if watch.cell_index is None else f"in cell {watch.cell_index}"
    )
    if watch.reason == "cancel":
        message = f"{label} was cancelled; its kernel was shut down"
        return failure("Canceled", message, details=details)
    if watch.reason == "timeout":
        return failure(
            "TimeoutError",
            f"{label}: the notebook ran over its timeout of {task.timeout:g} s ({where}) and "
            f"its kernel was killed; the partly executed notebook is {details['notebook']}",
            details=details,
        )
    if isinstance(error, CellExecutionError):
        trace = _ANSI.sub("", str(error.traceback))
        return failure(
            error.ename,
            f"{label}: cell {watch.cell_index} of the notebook raised {error.ename}: "
            f"{_ANSI.sub('', error.evalue)} (the executed notebook is {details['notebook']})",
            stack_trace=trace,
            details=details,
        )
    name = type(error).__name__
    return failure(
        name,
        f"{label}: running the notebook failed ({where}): {name}: {error}",
        stack_trace=_ANSI.sub("", "".join(_format(error))),
        details=details,
    )


def _format(error: BaseException | None) -> list[str]:
    import traceback

    if error is None:
        return []
    return traceback.format_exception(type(error), error, error.__traceback__)
