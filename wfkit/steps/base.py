"""What every step kind shares: the handler protocol, the cancel token, failure helpers.

A step kind is a plugin: an object with a ``kind`` name and a ``run(task, cancel)``
method (:class:`TaskHandler`). A runner looks handlers up in a plain mapping of kind to
handler (:func:`wfkit.steps.default_handlers` builds the built-in one), so adding a kind
never touches the engine or the runner.

Handlers return a :class:`~wfkit.engine.protocols.TaskOutcome` for every result, the
failures included; they do not raise for a failing step.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.errors import OutputTooLarge
from wfkit.steps.process import KILL_GRACE, kill_group_soon

__all__ = [
    "CancelToken",
    "TaskHandler",
    "failure",
    "format_trace",
    "run_handler",
    "step_label",
    "too_large",
    "wait_until",
]

log = logging.getLogger("wfkit.steps")


@runtime_checkable
class TaskHandler(Protocol):
    """Runs the tasks of one step kind (``call``, ``shell``, ``notebook``, ...).

    ``run`` is called on a runner's worker thread. It returns an outcome for success and
    for failure alike, and it watches ``cancel``: a cancelled task's outcome is thrown
    away, so a handler only needs to stop its work (kill its process, return early).
    """

    kind: str

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        """Run one attempt of one step and say what it gave."""
        ...


class CancelToken:
    """A one-way switch, like :class:`threading.Event`, that a runner flips to stop a task.

    Handlers ask :attr:`cancelled`, :meth:`wait` on it, or register what to do on
    cancellation: :meth:`on_cancel` for any callback, :meth:`register_process` for a
    subprocess whose whole process group must be killed. Callbacks run in the thread
    that calls :meth:`cancel` and must be quick (the process kill only sends SIGTERM
    there and escalates to SIGKILL on a background thread).
    """

    __slots__ = ("_callbacks", "_cancelled", "_event", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._event: threading.Event | None = None
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancelled

    def is_set(self) -> bool:
        """The same as :attr:`cancelled` (the :class:`threading.Event` spelling)."""
        return self._cancelled

    def cancel(self) -> None:
        """Flip the switch (idempotent): wake waiters, run the registered callbacks once."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
            event = self._event
        if event is not None:
            event.set()
        for callback in callbacks:
            _call_quietly(callback)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout`` seconds passed; True when cancelled."""
        with self._lock:
            if self._cancelled:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on cancellation (at once if already cancelled).

        Returns a function that unregisters it (call it when the work is over).
        """
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)
                return lambda: self._unregister(callback)
        _call_quietly(callback)
        return _nothing

    def register_process(self, pid: int, grace: float | None = None) -> Callable[[], None]:
        """Kill the process group led by ``pid`` on cancellation.

        The process must have been started in its own session (``start_new_session=True``)
        so that its children die with it: SIGTERM to the group, then SIGKILL after
        ``grace`` seconds if some of it is still alive. Returns the unregister function.
        """
        wait = KILL_GRACE if grace is None else grace
        return self.on_cancel(lambda: kill_group_soon(pid, wait))

    def _unregister(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)


def _nothing() -> None:
    return None


def _call_quietly(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("a cancel callback failed")


def format_trace(exc: BaseException) -> str:
    """An exception's traceback as text (a remote one as the worker sent it)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def run_handler(
    handlers: Mapping[str, TaskHandler], task: TaskSpec, cancel: CancelToken, where: str
) -> TaskOutcome:
    """Run ``task`` through the handler of its kind; a failure outcome when ``where``
    (this runner, a Dask worker) has no such handler or the handler raises, so that the
    thread or process that runs it lives on."""
    handler = handlers.get(task.kind)
    if handler is None:
        known = ", ".join(sorted(handlers)) or "none"
        return failure(
            "UnknownStepKind",
            f"{step_label(task)} is of kind {task.kind!r}, which {where} cannot run "
            f"(it runs: {known})",
        )
    try:
        return handler.run(task, cancel)
    except BaseException as exc:  # whatever a handler raises, its runner lives on
        return failure(
            type(exc).__name__,
            f"{step_label(task)}: the {task.kind} step handler failed unexpectedly: "
            f"{type(exc).__name__}: {exc}",
            stack_trace=format_trace(exc),
            details={"handler_error": True},
        )


def wait_until(lock: threading.Lock, done: Callable[[], bool], timeout: float) -> bool:
    """Look at ``done()`` under ``lock`` every 10 ms until it holds (True) or ``timeout``
    seconds have passed (False): how a runner's drain waits for its running tasks."""
    deadline = time.monotonic() + timeout
    while True:
        with lock:
            if done():
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def step_label(task: TaskSpec) -> str:
    """How messages name a task: ``step 'train'``, ``step 'extract[2]'``."""
    item = "" if task.index is None else f"[{task.index}]"
    return f"step '{task.step}{item}'"


def too_large(task: TaskSpec, size: int, what: str = "") -> TaskOutcome:
    """The failure of a task whose output is ``size`` bytes of JSON, over its limit;
    ``what`` names the output (by default "the output of step '<id>'")."""
    what = what or f"the output of {step_label(task)}"
    error = OutputTooLarge(task.instance_id, task.step, what, size, task.max_output_bytes or 0)
    return failure("OutputTooLarge", str(error))


def failure(
    error_type: str,
    message: str,
    *,
    stack_trace: str = "",
    details: dict[str, Any] | None = None,
) -> TaskOutcome:
    """A failed outcome (a shorthand that keeps handlers short)."""
    return TaskOutcome(
        error_type=error_type,
        error_message=message,
        stack_trace=stack_trace,
        details=details or {},
    )
