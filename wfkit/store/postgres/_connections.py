"""Connections of the PostgreSQL store: a pool shared by the threads, and transactions.

Every store method is one transaction on a connection of a ``psycopg_pool`` pool. The
connections are in autocommit mode, so that a method that is one statement (a read, an
append: :mod:`._appends`) costs one round trip (:meth:`Connections.statement`), with no
``BEGIN`` and ``COMMIT`` around it; the others run in an explicit transaction
(:meth:`Connections.transact`). A transaction that changes an instance also sends a
``NOTIFY`` on the store's channel (PostgreSQL delivers it with the commit, never for a
rollback), and tells this process's waiters at once.

A pooled connection is checked before it is handed out only when the server has sent
something on it while it sat idle (:func:`_check`): a restart or ``pg_terminate_backend``
sends a last message and closes the socket, so a dropped connection is still replaced
before use, without paying a round trip on every method for the healthy ones.

A deadlock or a serialization failure rolls the whole transaction back, so it is run
again, a few times. So is, once, a transaction whose connection the server cut before the
commit was sent (a restart, ``pg_terminate_backend``): the server rolled it back, and a
one-shot command such as ``wfkit get`` should not fail for a connection that sat idle in
the pool when it was cut. A connection lost during the commit is not retried (the commit
may have happened). Any other ``psycopg`` error becomes :class:`StoreError` naming the
store by its redacted URL: ``retryable`` when it comes from the server's or network's
condition (a lost connection, a shutdown, no free connection), not when it comes from
what was written (a constraint, a value the column refuses).

psycopg_pool logs a warning for every connection it discards as closed or broken: dozens
of lines for one server restart. :class:`PoolNoise` turns them into one ``wfkit.store``
line per outage (the details stay at debug level).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
import psycopg_pool
from psycopg import errors

from wfkit.errors import StoreError

__all__ = ["CUTS", "RETRIES", "Connections", "PoolNoise", "as_store_error", "connect"]

T = TypeVar("T")

RETRIES = 5
"""How often a transaction that hit a deadlock or a serialization failure is tried."""

_RECONNECT_FOREVER = 365 * 86400.0
"""How long the pool keeps trying to refill itself while the server is away (psycopg_pool
gives up after 5 min by default, and a store that gave up never recovers): the engine's
outage handling decides how long to wait, not the pool."""

_log = logging.getLogger("wfkit.store")

_ABOUT_THE_DATA = (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError)
_TRY_AGAIN = (errors.DeadlockDetected, errors.SerializationFailure)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A new connection to ``url`` (the real one, with its password)."""
    return psycopg.connect(url, autocommit=autocommit)


def as_store_error(shown: str, doing: str, exc: BaseException) -> StoreError:
    """The :class:`StoreError` for a failure of ``doing``, naming the store as ``shown``."""
    retryable = not isinstance(exc, _ABOUT_THE_DATA)
    said = str(exc).strip() or type(exc).__name__
    said = said if len(said) <= 300 else said[:297] + "..."
    hint = " (is the server running and reachable?)" if _is_connection(exc) else ""
    return StoreError(shown, f"{doing} failed: {said}{hint}", retryable=retryable)


def _check(conn: psycopg.Connection) -> None:
    """The pool's check of a connection it hands out: a round trip only when the server
    has sent something while the connection sat idle (its last words before closing it:
    a shutdown, a terminated backend), since an idle healthy connection receives nothing
    (pool connections never ``LISTEN``)."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        psycopg_pool.ConnectionPool.check_connection(conn)


def _is_connection(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.OperationalError) and not isinstance(
        exc, errors.QueryCanceled | psycopg_pool.PoolTimeout
    )


class PoolNoise(logging.Filter):
    """A filter of the ``psycopg.pool`` logger: its warnings about discarded connections
    become one ``wfkit.store`` warning per outage (a first one, or one after ``quiet``
    seconds without any), the rest debug lines."""

    NOISE = ("discarding closed connection", "discarding broken connection")

    def __init__(self, quiet: float = 60.0) -> None:
        super().__init__()
        self.quiet = quiet
        #: Pool warnings filtered out so far.
        self.dropped = 0
        self._last = float("-inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING or not str(record.msg).startswith(self.NOISE):
            return True
        self.cut(f"psycopg.pool: {record.getMessage()}")
        return False

    def cut(self, detail: str) -> None:
        """Note a connection the server closed (``detail`` is logged at debug level);
        the first of an outage is said in one warning."""
        now = time.monotonic()
        with self._lock:
            self.dropped += 1
            first, self._last = now - self._last > self.quiet, now
        _log.debug("%s", detail)
        if first:
            _log.warning(
                "connections to the PostgreSQL store were closed by the server (a restart, "
                "or pg_terminate_backend); wfkit opens new ones and retries, and says no "
                "more of it until %g s pass without any",
                self.quiet,
            )


CUTS = PoolNoise()
"""The one filter of this process: connections cut are said once per outage, whichever
store or listener saw them."""
logging.getLogger("psycopg.pool").addFilter(CUTS)


class Connections:
    """A pool of connections to one store, and transactions that notify its waiters.

    ``url`` is the real URL (with any password), ``shown`` the redacted one for errors;
    ``channel`` the ``NOTIFY`` channel of the store; ``size`` the most connections open
    at once; ``on_commit`` is called after each commit that notified."""

    def __init__(
        self, url: str, shown: str, channel: str, size: int, on_commit: Callable[[], None]
    ) -> None:
        self.shown = shown
        self.channel = channel
        self.on_commit = on_commit
        self._closed = False
        self._lock = threading.Lock()
        # check: a connection the server dropped while it sat in the pool (a restart,
        # pg_terminate_backend) is replaced before it is handed out, instead of failing
        # the next transaction; one that breaks during a transaction is discarded on return
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max(size, 1),
            open=True,
            name="wfkit",
            num_workers=1,
            check=_check,
            kwargs={"autocommit": True},
            reconnect_timeout=_RECONNECT_FOREVER,
        )

    def transact(
        self,
        label: str,
        work: Callable[[psycopg.Connection], T],
        changed: Callable[[T], bool] | None = None,
    ) -> T:
        """Run ``work`` in one transaction and commit; returns what it returned.

        ``changed`` says from ``work``'s result whether it changed something (None:
        never; pass ``lambda _: True`` for always): then the transaction notifies the
        store's channel before it commits. Domain errors raised by ``work`` roll back
        and propagate as they are."""
        if self._closed:
            raise StoreError(self.shown, f"{label} failed: the store is closed")
        cut_retried = False
        for attempt in range(1, RETRIES + 1):
            committing = False
            try:
                with self._pool.connection() as conn, conn.transaction():
                    result = work(conn)
                    notify = changed is not None and changed(result)
                    if notify:
                        conn.execute("SELECT pg_notify(%s, '')", (self.channel,))
                    committing = True
            except _TRY_AGAIN as exc:
                if attempt == RETRIES:
                    raise as_store_error(self.shown, label, exc) from exc
                _log.debug("%s: %s; trying again", label, exc)
                continue
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                if attempt < RETRIES and not (committing or cut_retried) and _is_connection(exc):
                    cut_retried = True  # rolled back by the server: safe to run again
                    _log.debug("%s: connection cut (%s); trying again", label, exc)
                    continue
                raise as_store_error(self.shown, label, exc) from exc
            if notify:
                self.on_commit()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def statement(
        self,
        label: str,
        work: Callable[[psycopg.Connection], T],
        wrote: Callable[[T], bool] | None = None,
    ) -> T:
        """Run ``work``, one statement (it is its own transaction: the connection is in
        autocommit mode), with no ``BEGIN`` or ``COMMIT`` round trip; returns what it
        returned. A statement that changes something notifies the channel itself;
        ``wrote`` says from the result whether it did, to tell this process's waiters."""
        if self._closed:
            raise StoreError(self.shown, f"{label} failed: the store is closed")
        for attempt in range(1, RETRIES + 1):
            try:
                with self._pool.connection() as conn:
                    result = work(conn)
            except _TRY_AGAIN as exc:
                if attempt == RETRIES:
                    raise as_store_error(self.shown, label, exc) from exc
                _log.debug("%s: %s; trying again", label, exc)
                continue
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                raise as_store_error(self.shown, label, exc) from exc
            if wrote is not None and wrote(result):
                self.on_commit()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every connection (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()
