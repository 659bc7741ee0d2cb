"""Coalescing redraws: many updates in, at most a few draws a second out, the last
state always drawn."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Throttle"]

_log = logging.getLogger(__name__)
T = TypeVar("T")
_NOTHING: Any = object()


class Throttle(Generic[T]):
    """Hands the latest submitted value to ``draw``, in a background thread, at most
    once per ``interval`` seconds; values submitted meanwhile replace each other and the
    last one is always drawn.

    With nothing submitted for ``idle_interval`` seconds, ``idle()`` runs in the same
    thread; when it returns False the thread ends (the next :meth:`submit` starts one).
    Without ``idle`` the thread ends as soon as nothing is pending. Errors raised by
    ``draw`` or ``idle`` are logged and swallowed.
    """

    def __init__(
        self,
        draw: Callable[[T], None],
        *,
        interval: float = 0.2,
        idle: Callable[[], bool] | None = None,
        idle_interval: float = 2.0,
        name: str = "wfkit-throttle",
    ) -> None:
        self.interval = interval
        self.idle_interval = idle_interval
        self.draws = 0
        self._draw = draw
        self._idle = idle
        self._name = name
        self._cond = threading.Condition()
        self._pending: Any = _NOTHING
        self._busy = False
        self._polling = True
        self._closed = False
        self._last = float("-inf")
        self._thread: threading.Thread | None = None

    def submit(self, value: T) -> None:
        """Draw ``value`` soon (replacing any value not drawn yet); never blocks."""
        with self._cond:
            if self._closed:
                return
            self._pending = value
            self._polling = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted is drawn; False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._pending is not _NOTHING or self._busy) and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return self._pending is _NOTHING and not self._busy

    def close(self, timeout: float = 2.0) -> None:
        """Drop what is pending and stop the thread (waits up to ``timeout`` for a draw)."""
        with self._cond:
            self._closed = True
            self._pending = _NOTHING
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while (job := self._next()) is not None:
            kind, value = job
            keep = True
            try:
                if kind == "draw":
                    self._draw(value)
                elif self._idle is not None:
                    keep = bool(self._idle())
            except Exception:  # a failing redraw must not kill the thread
                _log.exception("a wfkit widget update failed (ignored)")
            with self._cond:
                self._busy = False
                if kind == "draw":
                    self.draws += 1
                    self._last = time.monotonic()
                else:
                    self._polling = self._polling and keep
                self._cond.notify_all()

    def _next(self) -> tuple[str, Any] | None:
        """The next job (``("draw", value)`` or ``("idle", None)``); None ends the thread."""
        with self._cond:
            while not self._closed:
                if self._pending is not _NOTHING:
                    delay = self._last + self.interval - time.monotonic()
                    if delay > 0:
                        self._cond.wait(delay)
                        continue
                    value, self._pending = self._pending, _NOTHING
                    self._busy = True
                    return "draw", value
                if self._idle is None or not self._polling:
                    break
                if not self._cond.wait(self.idle_interval) and self._pending is _NOTHING:
                    self._busy = not self._closed
                    if self._busy:
                        return "idle", None
            self._thread = None
            return None


# -- details of one step -----------------------------------------------------------------
