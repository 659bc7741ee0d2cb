"""Change notification of the PostgreSQL store: ``wait_for_change`` by ``LISTEN``/``NOTIFY``.

Every transaction that changes an instance sends ``NOTIFY`` on the store's channel
(:func:`channel_for`: one per database and schema), delivered by PostgreSQL when it
commits, to every listening connection, on any machine. A store listens on a connection
of its own, opened at the first ``wait_for_change`` (so a store that is never waited on
costs no connection), and a thread of its own turns each notification into a bump of the
store's :class:`~wfkit.store._change_signal.ChangeSignal`. This process's commits bump
it directly too, at once. A lost listening connection bumps the token (waiters look
again) and is opened anew at the next wait.

A busy channel wakes the thread at most once per :data:`GAP`: after a bump it pauses,
then takes every notification that arrived meanwhile as one more bump. The first commit
after a quiet spell is passed on at once; under load, waiters hear of commits at most
``GAP`` late. Woken at each notification, the thread cost a 200-step chain on one
engine about 90 µs a step (a wake-up and a turn of the GIL for each commit, its own
included), a quarter of the step.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from wfkit.errors import StoreError
from wfkit.store._change_signal import ChangeSignal
from wfkit.store.postgres._connections import CUTS, as_store_error, connect

__all__ = ["ChangeListener", "channel_for"]


_POLL = 0.5  # seconds between two looks at the stop flag while nothing is notified
GAP = 0.01
"""Seconds the listening thread pauses after passing a notification on."""
_CHANNEL_BYTES = 63  # PostgreSQL's longest identifier


def channel_for(schema: str) -> str:
    """The NOTIFY channel of a store whose tables live in ``schema``."""
    return f"wfkit_changes:{schema}".encode()[:_CHANNEL_BYTES].decode(errors="ignore")


class ChangeListener:
    """Listens on ``channel`` of ``url`` (the real URL; ``shown`` for errors) and bumps
    ``signal`` at each notification."""

    def __init__(self, url: str, shown: str, channel: str, signal: ChangeSignal) -> None:
        self._url = url
        self._shown = shown
        self._channel = channel
        self.signal = signal
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def wait_for_change(self, timeout: float, after: int | None) -> int:
        """The token now (``after`` None), or once it differs from ``after``, or after
        ``timeout`` seconds (then it may equal ``after``)."""
        self._ensure_listening()
        if after is None:
            return self.signal.token
        deadline = time.monotonic() + max(0.0, timeout)
        while self.signal.token == after:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.signal.wait(after, left)
        return self.signal.token

    def _ensure_listening(self) -> None:
        """Open the listening connection and its thread, unless they run; ``LISTEN`` is
        in effect when this returns, so no commit after it goes unseen."""
        with self._lock:
            if self._stop.is_set():
                raise StoreError(self._shown, "wait_for_change failed: the store is closed")
            if self._thread is not None and self._thread.is_alive():
                return
            try:
                conn = connect(self._url, autocommit=True)
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            except psycopg.Error as exc:
                raise as_store_error(self._shown, "listening for changes", exc) from exc
            self._thread = threading.Thread(
                target=self._listen, args=(conn,), name="wfkit-pg-listen", daemon=True
            )
            self._thread.start()

    def _listen(self, conn: psycopg.Connection) -> None:
        try:
            while not self._stop.is_set():
                if self._heard(conn, _POLL):
                    self.signal.changed()
                    while not self._stop.wait(GAP) and self._heard(conn, 0.0):
                        self.signal.changed()  # commits during the pause: one more bump
        except psycopg.Error as exc:
            if not self._stop.is_set():  # one line per outage, with the pool's cuts
                said = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                CUTS.cut(f"{self._shown}: listening for changes stopped: {said}")
                self.signal.changed()  # waiters look again; the next wait listens anew
        finally:
            conn.close()

    @staticmethod
    def _heard(conn: psycopg.Connection, timeout: float) -> bool:
        """Whether notifications arrived (within ``timeout`` seconds): all of those
        already received are taken, so that they count once."""
        heard = False
        for _ in conn.notifies(timeout=timeout, stop_after=None if timeout == 0 else 1):
            heard = True
        if heard and timeout:
            for _ in conn.notifies(timeout=0):
                pass
        return heard

    def close(self, wake: Callable[[], None] | None = None) -> None:
        """Stop listening (idempotent): ``wake`` (a NOTIFY on the channel) ends the
        thread's wait at once instead of at its next poll; waits briefly for it."""
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is None or not thread.is_alive():
            return
        if wake is not None:
            with contextlib.suppress(StoreError):  # or it sees the flag at its next poll
                wake()
        if thread is not threading.current_thread():
            thread.join(_POLL * 4)
