"""The default store: one SQLite file (WAL), shared by the threads and processes of a host.

:class:`SqliteStore` implements :class:`wfkit.engine.protocols.Store`. Each method is one
transaction; writes start with ``BEGIN IMMEDIATE``, so a version check and the write it
guards are atomic across processes, and a second process waits (up to the busy timeout)
instead of failing. ``":memory:"`` gives a private in-memory database (one connection
shared by all threads). The store knows nothing of steps or definitions: it keeps rows,
events and texts it is handed.

Ownership: :meth:`SqliteStore.claim` takes non-terminal instances that are unowned, whose
lease has run out, or whose owner is a process of this host that no longer exists
(:mod:`wfkit.store._sqlite_claims`). Tables and migrations: :mod:`wfkit.store._sqlite_schema`;
how threads share connections: :mod:`wfkit.store._sqlite_connections`.
"""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Literal

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner
from wfkit.engine.status import TERMINAL_STATUSES
from wfkit.errors import InstanceAlreadyExists, InstanceNotFound, StoreError, VersionConflict
from wfkit.store._sqlite_claims import chunks, claim
from wfkit.store._sqlite_connections import (
    Connections,
    SharedConnection,
    ThreadConnections,
    connect,
)
from wfkit.store._sqlite_schema import ACTIVE, SEQ_BITS, SEQ_MASK, migrate

__all__ = ["SqliteStore"]

_TERMINAL = frozenset(str(status) for status in TERMINAL_STATUSES)
_FIELDS = tuple(field.name for field in fields(InstanceRow))
_VERSION = _FIELDS.index("version")
_OWNER = _FIELDS.index("owner")
_LEASE_UNTIL = _FIELDS.index("lease_until")
_SUMMARY = tuple(_FIELDS.index(name) for name in ("updated_at", "custom_status", "properties"))


# A history row's key is ``instance_no << SEQ_BITS | seq``: an instance's rows are the keys
# from ``instance_no << SEQ_BITS`` (exclusive) up to that plus SEQ_MASK, read by rowid range.
_FIRST_KEY = f"(i.instance_no << {SEQ_BITS})"
_LAST_KEY = f"((i.instance_no << {SEQ_BITS}) + {SEQ_MASK})"
_LAST_EVENT_KEY = (
    f"(SELECT h.event_key FROM history h WHERE h.event_key BETWEEN {_FIRST_KEY} AND "
    f"{_LAST_KEY} ORDER BY h.event_key DESC LIMIT 1)"
)


def _latest_summary(column: str) -> str:
    # walks the instance's history backwards from its end: one row, usually
    return (
        f"(SELECT h.{column} FROM history h WHERE h.event_key BETWEEN {_FIRST_KEY} AND "
        f"{_LAST_KEY} AND h.s_updated_at IS NOT NULL ORDER BY h.event_key DESC LIMIT 1)"
    )


# An instance's row, plus what _assemble needs to finish it: how far the row's summary is
# current, the last event's seq (the version), and the newest summary kept in history.
_SELECT_ROW = (
    f"SELECT {', '.join('i.' + name for name in _FIELDS)}, i.summary_seq, "
    f"{_LAST_EVENT_KEY} & {SEQ_MASK}, "
    + ", ".join(
        _latest_summary(column)
        for column in ("seq", "s_updated_at", "s_custom_status", "s_properties")
    )
    + " FROM instances i"
)
_INSERT_ROW = (
    f"INSERT INTO instances ({', '.join(_FIELDS)}, summary_seq, owner_host, owner_pid) "
    f"VALUES ({', '.join('?' * len(_FIELDS))}, ?, ?, ?)"
)
_INSERT_EVENTS = "INSERT INTO history (event_key, type, at, data, n, ats) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_EVENTS_SUMMARY = (
    "INSERT INTO history (event_key, type, at, data, n, ats, s_updated_at, s_custom_status, "
    "s_properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The instance's number and its last history key (None before its first event).
_CHECK_VERSION = f"SELECT i.instance_no, {_LAST_EVENT_KEY} FROM instances i WHERE i.instance_id = ?"
_NEWEST_SUMMARY = (
    f"SELECT event_key & {SEQ_MASK}, s_updated_at, s_custom_status, s_properties FROM history "
    "WHERE event_key BETWEEN ? AND ? AND s_updated_at IS NOT NULL ORDER BY event_key DESC LIMIT 1"
)
_HISTORY_AFTER = (
    f"SELECT h.event_key & {SEQ_MASK}, h.type, h.at, h.data, h.n, h.ats "
    f"FROM instances i JOIN history h ON h.event_key BETWEEN {_FIRST_KEY} + ?2 + 1 AND "
    f"{_LAST_KEY} WHERE i.instance_id = ?1 ORDER BY h.event_key"
)
_UPDATABLE = ("status", "updated_at", "output", "failure", "custom_status", "properties")
_RELEASED = ("owner", "owner_host", "owner_pid", "lease_until")


def _assemble(found: Sequence[object]) -> InstanceRow:
    """An :class:`InstanceRow` from a :data:`_SELECT_ROW` result: the version is the last
    event's seq, and the summary the newest of the row's and the history's."""
    values = list(found[: len(_FIELDS)])
    summary_seq, last, seq, *summary = found[len(_FIELDS) :]
    if last is not None:
        values[_VERSION] = last
    if seq is not None and seq > summary_seq:  # type: ignore[operator]
        for index, value in zip(_SUMMARY, summary, strict=True):
            values[index] = value
    return InstanceRow(*values)  # type: ignore[arg-type]


_Batch = Sequence[tuple[str, int, Sequence[EventRow], InstanceUpdate]]


class SqliteStore:
    """Instances, histories and definitions in one SQLite database.

    ``path`` is a file (created with its parent folders when missing) or ``":memory:"``.
    ``timeout`` is how long a write waits for another process's transaction, in seconds.
    ``connections`` picks how threads share the database: ``"thread"`` (one connection
    per thread, the default for files) or ``"shared"`` (one connection and a lock; the
    only choice for ``":memory:"``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 10.0,
        connections: Literal["thread", "shared"] | None = None,
    ) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._host = socket.gethostname()
        self._conns = self._open(timeout, connections)

    def _open(self, timeout: float, connections: str | None) -> Connections:
        """Build or upgrade the schema, then the connections the threads will use."""
        memory = self.path == ":memory:"
        if memory and connections == "thread":
            raise StoreError(self.url, "an in-memory database needs connections='shared'")
        if not memory:
            self._make_parent()

        def factory() -> sqlite3.Connection:
            return connect(self.path, timeout)

        try:
            if memory:  # each connection would be another database: build it in this one
                shared = SharedConnection(self.url, factory)
                with shared.read("open") as conn:
                    migrate(conn, self.url)
                return shared
            probe = factory()  # check (and build or upgrade) the file before sharing it
            try:
                migrate(probe, self.url)
            finally:
                probe.close()
            if connections == "shared":
                return SharedConnection(self.url, factory)
            return ThreadConnections(self.url, factory)
        except sqlite3.Error as exc:
            raise StoreError(
                self.url,
                f"cannot open {self.path} as a wfkit store: {exc} (is it a damaged file, "
                "or another program's?)",
            ) from exc

    def _make_parent(self) -> None:
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(self.url, f"cannot create the folder for {self.path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- definitions ---------------------------------------------------------------------

    def save_definition(self, definition_hash: str, name: str, text: str) -> None:
        """Keep a definition's text under its hash (a second save of a hash is a no-op)."""
        with self._conns.write("save_definition") as conn:
            conn.execute(
                "INSERT OR IGNORE INTO definitions (hash, name, text) VALUES (?, ?, ?)",
                (definition_hash, name, text),
            )

    def load_definition(self, definition_hash: str) -> tuple[str, str] | None:
        """``(name, text)`` of a saved definition, or None."""
        with self._conns.read("load_definition") as conn:
            row = conn.execute(
                "SELECT name, text FROM definitions WHERE hash = ?", (definition_hash,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    # -- instances and histories ---------------------------------------------------------

    def create(
        self,
        row: InstanceRow,
        events: Sequence[EventRow],
        *,
        owner: Owner | None = None,
        lease_seconds: float = 0.0,
    ) -> None:
        """Create an instance with its first events (numbered 1, 2, ...), claimed by
        ``owner`` for ``lease_seconds`` when one is given.

        The stored version is ``len(events)`` whatever ``row.version`` says. A terminal
        instance with the same id is replaced with its history; an active one raises
        :class:`InstanceAlreadyExists`.
        """
        values: list[object] = [
            len(events) if name == "version" else getattr(row, name) for name in _FIELDS
        ]
        if owner is not None:  # claimed as it is made: one INSERT, not an INSERT + UPDATE
            values[_OWNER] = owner.id
            values[_LEASE_UNTIL] = time.time() + lease_seconds
        values.append(len(events))  # summary_seq: the row's summary is the current one
        values += [owner.host, owner.pid] if owner is not None else [None, None]
        with self._conns.write("create") as conn:
            found = conn.execute(
                "SELECT instance_no, status FROM instances WHERE instance_id = ?",
                (row.instance_id,),
            ).fetchone()
            if found is not None:
                if found[1] not in _TERMINAL:
                    raise InstanceAlreadyExists(row.instance_id)
                conn.execute(_DELETE_HISTORY, _key_range(found[0]))
                conn.execute("DELETE FROM instances WHERE instance_id = ?", (row.instance_id,))
            number = conn.execute(_INSERT_ROW, values).lastrowid
            if number is None or number >= _MAX_INSTANCE_NO:
                raise StoreError(
                    self.url, f"the store holds too many instances to number {row.instance_id}"
                )
            conn.executemany(_INSERT_EVENTS, _history_rows(number, 0, events))

    def get(self, instance_id: str) -> InstanceRow | None:
        """The instance, or None."""
        with self._conns.read("get") as conn:
            found = conn.execute(
                _SELECT_ROW + " WHERE i.instance_id = ?", (instance_id,)
            ).fetchone()
        return None if found is None else _assemble(found)

    def history(self, instance_id: str, after: int = 0) -> list[EventRow]:
        """Events with ``seq > after``, in order."""
        with self._conns.read("history") as conn:
            rows = conn.execute(_HISTORY_AFTER, (instance_id, max(after, 0))).fetchall()
        return _events_of(rows, after)

    def append(
        self,
        instance_id: str,
        expected_version: int,
        events: Sequence[EventRow],
        update: InstanceUpdate,
    ) -> int:
        """Append events numbered ``expected_version + 1 ...`` and apply ``update``'s
        non-None fields; returns the new version.

        Raises :class:`VersionConflict` (``actual`` None when the instance is gone).
        """
        with self._conns.write("append") as conn:
            return _append(conn, instance_id, expected_version, events, update)

    def append_many(self, batch: _Batch) -> list[str]:
        """Several appends in one transaction; returns the ids that conflicted (not
        written; the others are). An error other than a conflict writes nothing."""

        def work(conn: sqlite3.Connection) -> list[str]:
            conflicted: list[str] = []
            for instance_id, expected, events, update in batch:
                try:
                    _append(conn, instance_id, expected, events, update)
                except VersionConflict:
                    conflicted.append(instance_id)
            return conflicted

        return self._conns.transact("append_many", work)

    def list_instances(
        self,
        *,
        status: Sequence[str] = (),
        name: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[InstanceRow]:
        """Instances, newest first (by ``created_at``, then id), filtered by any of
        ``status`` and by workflow ``name``; ``after`` is the last id of the previous
        page (keyset pagination). An ``after`` that is not stored raises
        :class:`InstanceNotFound`."""
        where: list[str] = []
        params: list[object] = []
        if status:
            where.append(f"status IN ({', '.join('?' * len(status))})")
            params += [str(value) for value in status]
        if name is not None:
            where.append("workflow_name = ?")
            params.append(name)
        with self._conns.snapshot("list_instances") as conn:
            if after is not None:
                mark = conn.execute(
                    "SELECT created_at, instance_id FROM instances WHERE instance_id = ?",
                    (after,),
                ).fetchone()
                if mark is None:
                    raise InstanceNotFound(after)
                where.append("(created_at, instance_id) < (?, ?)")
                params += mark
            sql = _SELECT_ROW + (" WHERE " + " AND ".join(where) if where else "")
            sql += " ORDER BY created_at DESC, instance_id DESC LIMIT ?"
            rows = conn.execute(sql, [*params, max(limit, 0)]).fetchall()
        return [_assemble(found) for found in rows]

    def children(self, instance_id: str) -> list[str]:
        """Ids of the instances whose parent is ``instance_id``, oldest first."""
        with self._conns.read("children") as conn:
            rows = conn.execute(
                "SELECT instance_id FROM instances WHERE parent_id = ? "
                "ORDER BY created_at, instance_id",
                (instance_id,),
            ).fetchall()
        return [found[0] for found in rows]

    def purge(self, instance_ids: Sequence[str]) -> int:
        """Delete terminal instances and their histories; returns how many were deleted.

        An instance that is not terminal (say, replaced by a new run since the caller
        looked) is left alone, in the same transaction that checks it."""
        keys = [(instance_id,) for instance_id in dict.fromkeys(instance_ids)]
        with self._conns.write("purge") as conn:
            numbers = [
                found[0]
                for key in keys
                for found in conn.execute(
                    f"SELECT instance_no FROM instances WHERE instance_id = ? AND NOT ({ACTIVE})",
                    key,
                )
            ]
            conn.executemany(_DELETE_HISTORY, [_key_range(number) for number in numbers])
            return conn.executemany(
                f"DELETE FROM instances WHERE instance_id = ? AND NOT ({ACTIVE})", keys
            ).rowcount

    def versions(self, instance_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each instance that exists (unknown ids are left out)."""
        found: dict[str, int] = {}
        groups = list(chunks(instance_ids))
        # Several statements need one snapshot; one statement is one already.
        opener = self._conns.snapshot if len(groups) > 1 else self._conns.read
        with opener("versions") as conn:
            for group in groups:
                marks = ", ".join("?" * len(group))
                sql = (
                    f"SELECT i.instance_id, coalesce({_LAST_EVENT_KEY} & {SEQ_MASK}, 0) "
                    f"FROM instances i WHERE i.instance_id IN ({marks})"
                )
                found.update(conn.execute(sql, group).fetchall())
        return found

    # -- ownership -----------------------------------------------------------------------

    def claim(
        self,
        owner: Owner,
        lease_seconds: float,
        limit: int = 100,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Take up to ``limit`` non-terminal instances, oldest first: unowned ones, those
        whose lease has run out, then those owned by a dead process of this host (see
        :mod:`wfkit.store._sqlite_claims`). With ``ids``, only those are considered.
        Returns the ids newly claimed."""
        now = time.time()
        with self._conns.write("claim") as conn:
            return claim(
                conn, owner, host=self._host, now=now, lease_seconds=lease_seconds,
                limit=limit, ids=ids,
            )  # fmt: skip

    def renew(self, owner: Owner, instance_ids: Sequence[str], lease_seconds: float) -> list[str]:
        """Extend the leases ``owner`` still holds; returns those ids (in the given order)."""
        until = time.time() + lease_seconds
        held: list[str] = []
        with self._conns.write("renew") as conn:
            for instance_id in dict.fromkeys(instance_ids):
                if conn.execute(
                    "UPDATE instances SET lease_until = ? WHERE instance_id = ? AND owner = ?",
                    (until, instance_id, owner.id),
                ).rowcount:
                    held.append(instance_id)
        return held

    def release(self, owner: Owner, instance_ids: Sequence[str]) -> None:
        """Give up instances ``owner`` still holds (others are left alone)."""
        with self._conns.write("release") as conn:
            conn.executemany(
                "UPDATE instances SET owner = NULL, owner_host = NULL, owner_pid = NULL, "
                "lease_until = NULL WHERE instance_id = ? AND owner = ?",
                [(instance_id, owner.id) for instance_id in instance_ids],
            )

    def close(self) -> None:
        """Close every connection (idempotent); the store cannot be used afterwards."""
        self._conns.close()


def _append(
    conn: sqlite3.Connection,
    instance_id: str,
    expected: int,
    events: Sequence[EventRow],
    update: InstanceUpdate,
) -> int:
    """One append inside the caller's transaction; writes nothing on a conflict.

    An append that changes only the summary (time, status line, properties: every step
    of a running instance) stores it on its last event row and leaves the instance row
    alone, so the commit writes the history's pages only. Any other append rewrites the
    instance row, bringing its summary up to date first."""
    found = conn.execute(_CHECK_VERSION, (instance_id,)).fetchone()
    if found is None:
        raise VersionConflict(instance_id, expected, None)
    number, last = found
    actual = 0 if last is None else last & SEQ_MASK
    if actual != expected:
        raise VersionConflict(instance_id, expected, actual)
    version = expected + len(events)
    if version > SEQ_MASK:
        raise StoreError(f"instance {instance_id}", f"more than {SEQ_MASK} events in one history")
    if (
        events
        and update.status is None
        and update.output is None
        and update.failure is None
        and update.updated_at is not None
        and update.custom_status is not None
        and update.properties is not None
    ):
        rows = _history_rows(number, expected, events)
        if len(rows) > 1:
            conn.executemany(_INSERT_EVENTS, rows[:-1])
        conn.execute(
            _INSERT_EVENTS_SUMMARY,
            (*rows[-1], update.updated_at, update.custom_status, update.properties),
        )
        return version
    ordered = [
        update.status,
        update.updated_at,
        update.output,
        update.failure,
        update.custom_status,
        update.properties,
    ]  # in the order of _UPDATABLE
    if update.updated_at is None or update.custom_status is None or update.properties is None:
        newest = conn.execute(_NEWEST_SUMMARY, _key_range(number)).fetchone()
        if newest is not None:
            seq, *summary = newest
            row_seq = conn.execute(
                "SELECT summary_seq FROM instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()[0]
            if seq > row_seq:  # the history's summary is newer: the row takes it over
                for position, value in zip((1, 4, 5), summary, strict=True):
                    if ordered[position] is None:
                        ordered[position] = value
    given = tuple(
        name for name, value in zip(_UPDATABLE, ordered, strict=True) if value is not None
    )
    values: list[object] = [value for value in ordered if value is not None]
    if update.status in _TERMINAL:  # an instance that ends is let go in the same write
        given += _RELEASED
        values += [None] * len(_RELEASED)
    conn.execute(_update_sql(given), (version, version, *values, instance_id))
    conn.executemany(_INSERT_EVENTS, _history_rows(number, expected, events))
    return version


@functools.cache
def _update_sql(names: tuple[str, ...]) -> str:
    """The UPDATE of an append that rewrites the instance row, setting only the columns
    given: an unchanged ``status`` is left out so that its indexes are not rewritten."""
    columns = "".join(f", {name} = ?" for name in names)
    return f"UPDATE instances SET version = ?, summary_seq = ?{columns} WHERE instance_id = ?"


_HistoryRow = tuple[int, str, float, str, int, str | None]

_MAX_INSTANCE_NO = 1 << (63 - SEQ_BITS)  # history keys stay below 2**63
_DELETE_HISTORY = "DELETE FROM history WHERE event_key BETWEEN ? AND ?"


def _key_range(number: int) -> tuple[int, int]:
    """The first and last history key an instance numbered ``number`` can have."""
    base = number << SEQ_BITS
    return base, base + SEQ_MASK


def _history_rows(number: int, start: int, events: Sequence[EventRow]) -> list[_HistoryRow]:
    """The history rows of ``events`` numbered from ``start + 1`` (their own seq is
    ignored) for the instance numbered ``number``: one row holding them all, or, when a
    type or a text has a line break (the separator), one row each."""
    base = number << SEQ_BITS
    if len(events) == 1:
        event = events[0]
        return [(base + start + 1, event.type, event.at, event.data, 1, None)]
    if any("\n" in e.data or "\n" in e.type for e in events):
        return [
            (base + seq, e.type, e.at, e.data, 1, None)
            for seq, e in enumerate(events, start + 1)
        ]
    if not events:
        return []
    last = events[-1]
    return [
        (
            base + start + len(events),
            "\n".join(e.type for e in events),
            last.at,
            "\n".join(e.data for e in events),
            len(events),
            "\n".join(repr(float(e.at)) for e in events),
        )
    ]


def _events_of(
    rows: Sequence[tuple[int, str, float, str, int, str | None]], after: int
) -> list[EventRow]:
    """The events of stored history rows whose seq is above ``after``, in order."""
    found: list[EventRow] = []
    for seq, kind, at, data, count, ats in rows:
        if count == 1:
            if seq > after:
                found.append(EventRow(seq, kind, at, data))
            continue
        first = seq - count + 1
        times = (ats or "").split("\n")
        for offset, (one_kind, one_data) in enumerate(
            zip(kind.split("\n"), data.split("\n"), strict=True)
        ):
            if first + offset > after:
                found.append(EventRow(first + offset, one_kind, float(times[offset]), one_data))
    return found
