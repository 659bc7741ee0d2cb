"""Connections of the SQLite store: how threads share the database, and transactions.

Two strategies, both thread-safe:

* :class:`ThreadConnections` (files): one connection per thread (``threading.local``).
  Reads never wait for each other; writers, whether threads of this process or other
  processes, are serialised by SQLite itself (``BEGIN IMMEDIATE`` and the busy timeout).
  Measured against one connection behind a lock, and against per-thread connections
  behind a process-wide write lock, with 2-3 threads doing many small transactions, this
  had the highest throughput (15-40 % more; ``benchmarks/store.py`` compares the first
  two). Writers of this process also take a process-wide lock (only around write
  transactions): without it a thread that loses the race for SQLite's write lock sleeps
  in SQLite's busy handler (1, 2, 5, 10... ms). When the engine commits every step from
  its step threads while another thread starts instances, those sleeps made each commit
  cost 200 µs on average instead of 40; a Python lock wakes the next writer at once.
  Other processes are still serialised by SQLite's busy handler.
* :class:`SharedConnection` (``:memory:``, where each connection would be a different
  database): one connection, one lock around every transaction.

Both open connections in autocommit mode (transactions are explicit), WAL journal,
``synchronous=NORMAL``, and reopen after a ``fork`` instead of sharing a connection with
the parent process. ``sqlite3.Error`` is turned into :class:`StoreError` naming the store.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import TypeVar

from wfkit.errors import StoreError
from wfkit.store._sqlite_errors import explain

__all__ = [
    "Connections",
    "SharedConnection",
    "ThreadConnections",
    "connect",
    "is_busy",
    "is_retryable",
]

_log = logging.getLogger("wfkit.store")

T = TypeVar("T")


def connect(path: str, timeout: float, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A new connection: autocommit mode, WAL (for files), ``synchronous`` (``NORMAL``:
    safe against a process crash; ``FULL``: against power loss too, an fsync a commit)."""
    conn = sqlite3.connect(
        path, timeout=timeout, isolation_level=None, check_same_thread=False,
        cached_statements=256,
    )  # fmt: skip
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not conn.execute("PRAGMA page_count").fetchone()[0]:
            # a new file: freed pages go back to the disk (see _sqlite_space); only
            # possible before the first table, and before the switch to WAL
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        if path != ":memory:":
            mode = _switch_to_wal(conn, timeout)
            if mode.lower() != "wal":
                _log.warning("%s: SQLite refused WAL mode (journal mode %s)", path, mode)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except BaseException:
        conn.close()
        raise
    return conn


def _switch_to_wal(conn: sqlite3.Connection, timeout: float) -> str:
    """``PRAGMA journal_mode = WAL``, retried for up to ``timeout`` seconds.

    SQLite does not call the busy handler for this pragma when another connection holds
    the write lock of a file still in rollback mode: it fails at once with "database is
    locked". That is exactly what happens when two processes open a new store together
    (the first is switching the file to WAL), so the wait is done here.
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


# Errors that come from what a statement wrote, not from the store's condition: the same
# write fails again whenever it is tried (too big, a constraint, a type mismatch, bad SQL).
_ABOUT_THE_DATA = frozenset(
    {sqlite3.SQLITE_ERROR, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_CONSTRAINT,
     sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_RANGE}
)  # fmt: skip


def is_retryable(exc: sqlite3.Error) -> bool:
    """Whether the error comes from the store's condition (busy, disk full, I/O, read
    only...) so that the same write may succeed later, rather than from what was written
    ("string or blob too big": never). Of the errors without a code, a value Python
    cannot bind is about the data; the others (a closed connection) are not."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return not isinstance(exc, sqlite3.DataError | sqlite3.InterfaceError)
    return code & 0xFF not in _ABOUT_THE_DATA


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether the error is SQLite's "database is locked" (SQLITE_BUSY and its variants)."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction after an error, keeping that error (not one of the
    rollback's own)."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


class _Held:
    """Holds a thread's connection; weakly referenced, so a finished thread's connection
    is closed when the thread's locals go away."""

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.pid = os.getpid()

    def __del__(self) -> None:
        if self.pid == os.getpid():
            self.conn.close()


def _nothing() -> None:
    pass


class Connections:
    """Base of the strategies: hands out a connection for a read or a write transaction."""

    def __init__(self, url: str, factory: Callable[[], sqlite3.Connection]) -> None:
        self.url = url
        self._factory = factory
        self._closed = False
        #: Serialises this process's write transactions (see the module docstring).
        self._writer = threading.Lock()
        #: Called after each write transaction commits (the store's change signal).
        self.on_commit: Callable[[], None] = _nothing

    def _acquire(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _turn(self) -> AbstractContextManager[object]:
        """Held around each transaction (a lock when threads share one connection)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close every connection; later calls raise :class:`StoreError`."""
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(
                self.url, "the store is closed; open it again to use it", retryable=True
            )

    @contextmanager
    def read(self, operation: str) -> Iterator[sqlite3.Connection]:
        """A connection for a one-statement read (which is its own transaction)."""
        with self._turn(), self._errors(operation):
            yield self._acquire()

    def _enter(self) -> None:
        """Begin a turn (what :meth:`_turn` does on entry), as a plain call."""
        raise NotImplementedError

    def _leave(self) -> None:
        """End a turn begun by :meth:`_enter`."""
        raise NotImplementedError

    def transact(self, operation: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` inside ``BEGIN IMMEDIATE``, committed when it returns, rolled
        back when it raises: :meth:`write` as one plain call, for the engine's commit of
        every step, where three nested generator context managers cost more than the
        INSERT (about 5 µs a commit)."""
        self._check_open()
        self._enter()
        try:
            conn = self._acquire()
            with self._writer:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            self.on_commit()
            return result
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise self._error(operation, exc) from exc
        finally:
            self._leave()

    @contextmanager
    def write(self, operation: str) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE``: committed when the block ends, rolled
        back when it raises (the exception then propagates unchanged)."""
        with self._turn(), self._errors(operation), self._writer:
            conn = self._acquire()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            self.on_commit()

    @contextmanager
    def exclusive(self, operation: str) -> Iterator[sqlite3.Connection]:
        """A connection outside any transaction, while this process's other writers
        wait: for statements that make their own (VACUUM, a script)."""
        with self._turn(), self._errors(operation), self._writer:
            yield self._acquire()

    @contextmanager
    def snapshot(self, operation: str) -> Iterator[sqlite3.Connection]:
        """A connection inside a read transaction (``BEGIN``), for multi-statement reads."""
        with self.read(operation) as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        self._check_open()
        try:
            yield
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise self._error(operation, exc) from exc

    def _error(self, operation: str, exc: sqlite3.Error | UnicodeDecodeError) -> StoreError:
        """The StoreError for ``exc``, said plainly when the file is read-only or damaged
        (UnicodeDecodeError: SQLite's message quoted the damaged bytes). Only an error
        about what was written is not retryable (see :func:`is_retryable`): a read-only
        or damaged file is the store's condition, which a person may mend."""
        said = explain(exc, self.url.removeprefix("sqlite:///")) or str(exc)
        retryable = is_retryable(exc) if isinstance(exc, sqlite3.Error) else True
        return StoreError(self.url, f"{operation} failed: {said}", retryable=retryable)


class SharedConnection(Connections):
    """One connection used by every thread in turn (the strategy for ``:memory:``)."""

    def __init__(self, url: str, factory: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(url, factory)
        self._lock = threading.RLock()
        self._conn = factory()
        self._pid = os.getpid()

    def _acquire(self) -> sqlite3.Connection:
        # Forked: a file's connection must not be shared with the parent (its locks are
        # the parent's); an in-memory database was copied with the process and is ours.
        if self._pid != os.getpid() and not self.url.endswith(":memory:"):
            self._conn, self._pid = self._factory(), os.getpid()
        return self._conn

    def _turn(self) -> AbstractContextManager[object]:
        return self._lock

    def _enter(self) -> None:
        self._lock.acquire()

    def _leave(self) -> None:
        self._lock.release()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()


class ThreadConnections(Connections):
    """One connection per thread; SQLite serialises the writers."""

    def __init__(self, url: str, factory: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(url, factory)
        self._local = threading.local()
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._mutex = threading.Lock()  # taken directly on the hot path: no Python frame
        self._guard = threading.Condition(self._mutex)
        self._busy = 0

    def _acquire(self) -> sqlite3.Connection:
        held: _Held | None = getattr(self._local, "held", None)
        if held is None or held.pid != os.getpid():
            held = _Held(self._factory())
            with self._guard:
                self._check_open()
                self._held.add(held)
            self._local.held = held
        return held.conn

    @contextmanager
    def _turn(self) -> Iterator[None]:
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def _enter(self) -> None:
        # Counted, so that close() never closes a connection another thread is using:
        # SQLite crashes the process when a connection is closed under a running query.
        with self._mutex:
            self._check_open()
            self._busy += 1

    def _leave(self) -> None:
        with self._mutex:
            self._busy -= 1
            if self._closed and self._busy == 0:  # close() waits for this
                self._guard.notify_all()

    def close(self, timeout: float = 10.0) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True  # no new transaction starts from now on
            if not self._guard.wait_for(lambda: self._busy == 0, timeout):
                return  # still in use: each connection closes when its thread ends
            held = list(self._held)
        for item in held:
            if item.pid == os.getpid():
                item.conn.close()
