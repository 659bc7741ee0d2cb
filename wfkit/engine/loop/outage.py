"""How an engine lives through a store that keeps failing (a full disk, a lost mount).

The engine's loop and its runner threads report each failed round here and each good
one. The first failure is said once, in one log line; the tries that follow are quiet,
each after a longer pause (doubling up to a ceiling); the first good round after them says
that the store recovered and after how long. :meth:`Outage.failing_for` lets a caller that
cannot wait forever (``wfkit run``) give up after a bounded time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from wfkit.errors import StoreError

__all__ = ["Outage"]

_log = logging.getLogger("wfkit.engine")


class Outage:
    """Whether rounds of an engine fail, since when, and how long to wait before the next."""

    def __init__(
        self, first_delay: float, max_delay: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._first = max(first_delay, 0.01)
        self._max = max(max_delay, self._first)
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._delay = self._first
        self._failures = 0
        #: The last error's message ("" while the store works).
        self.last_error = ""

    def failed(self, exc: BaseException) -> float:
        """Note a failed round; returns how long to wait before the next try. Logs the
        first failure of an outage (with its traceback when it is not a store error: a
        bug, not the store's condition), and nothing for the ones that follow."""
        with self._lock:
            self._failures += 1
            self.last_error = str(exc)
            if self._since is not None:
                self._delay = min(self._delay * 2, self._max)
                _log.debug("engine round failed again (%d in a row): %s", self._failures, exc)
                return self._delay
            self._since = self._clock()
            self._delay = self._first
        if isinstance(exc, StoreError):
            _log.warning(
                "the store is failing: %s; nothing is lost: the engine keeps what it could "
                "not record and tries again, with pauses of up to %g s, quietly until it "
                "works again (free disk space, or fix the store)",
                exc,
                self._max,
            )
        else:
            _log.error(
                "an engine round failed; it is tried again, quietly, with pauses of up to %g s",
                self._max,
                exc_info=exc,
            )
        return self._delay

    def succeeded(self) -> None:
        """Note a good round; logs the recovery when rounds were failing."""
        with self._lock:
            if self._since is None:
                return
            lasted, tries = self._clock() - self._since, self._failures
            self._since, self._failures, self._delay, self.last_error = None, 0, self._first, ""
        _log.warning("the store recovered after %.1f s (%d failed tries); going on", lasted, tries)

    def failing_for(self) -> float:
        """Seconds since the rounds began to fail (0.0 while they work)."""
        since = self._since
        return 0.0 if since is None else self._clock() - since
