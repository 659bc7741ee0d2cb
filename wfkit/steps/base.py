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
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from wfkit.engine import jsontext
from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.steps.process import KILL_GRACE, kill_group_soon

__all__ = [
    "CancelToken",
    "TaskHandler",
    "failure",
    "json_problem",
    "step_label",
    "type_name",
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


def step_label(task: TaskSpec) -> str:
    """How messages name a task: ``step 'train'``, ``step 'extract[2]'``."""
    item = "" if task.index is None else f"[{task.index}]"
    return f"step '{task.step}{item}'"


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


def type_name(value: object) -> str:
    """``pandas.core.frame.DataFrame`` style name of a value's type (builtins bare)."""
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


_HINTS = {
    "DataFrame": 'return df.to_dict("records") (a list of row objects) instead',
    "Series": "return series.to_list() or series.to_dict() instead",
    "ndarray": "return array.tolist() instead",
    "set": "return sorted(values) or list(values) instead",
    "frozenset": "return sorted(values) or list(values) instead",
    "datetime": "return value.isoformat() instead",
    "date": "return value.isoformat() instead",
    "Decimal": "return str(value) or float(value) instead",
    "bytes": "return value.decode() or a base64 string instead",
    "Path": "return str(path) instead",
    "PosixPath": "return str(path) instead",
}


def json_problem(value: Any) -> tuple[str | None, str]:
    """Check that ``value`` is JSON (no NaN or infinity): ``(json_text, "")`` or
    ``(None, reason)`` where the reason names the offending type and a likely fix."""
    try:
        return jsontext.check(value), ""
    except ValueError as exc:  # NaN or infinity, or a circular reference
        if "ircular" in str(exc):
            return None, "it refers to itself (a circular reference)"
        return None, "it holds NaN or infinity, which JSON cannot represent; use None instead"
    except TypeError:
        culprit = _first_non_json(value)
        name = type_name(culprit)
        hint = _HINTS.get(
            type(culprit).__name__,
            "convert it to dicts, lists, strings, numbers, booleans and None",
        )
        where = "it is" if culprit is value else "it holds"
        return None, f"{where} a {name}, which is not JSON; {hint}"


def _first_non_json(value: Any, depth: int = 0) -> Any:
    """The first value (depth first) that :func:`json.dumps` cannot encode."""
    if depth > 100:
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                return key
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for item in value:
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return None
    return value
