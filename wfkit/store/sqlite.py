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
how rows hold instances and histories, and the statements that read and write them:
:mod:`wfkit.store._sqlite_rows`; how threads share connections:
:mod:`wfkit.store._sqlite_connections`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from wfkit.engine.liveness import this_host
from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner, StoreSpace
from wfkit.errors import InstanceAlreadyExists, InstanceNotFound, StoreError, VersionConflict
from wfkit.store._sqlite_changes import ChangeWatch, signal_for
from wfkit.store._sqlite_claims import HAS_FREE, chunks, claim
from wfkit.store._sqlite_connections import (
    Connections,
    SharedConnection,
    ThreadConnections,
    connect,
    is_busy,
)
from wfkit.store._sqlite_errors import explain
from wfkit.store._sqlite_rows import (
    DELETE_HISTORY,
    FIELDS,
    HISTORY_AFTER,
    INSERT_EVENTS,
    INSERT_ROW,
    LAST_EVENT_KEY,
    LEASE_POSITION,
    MAX_INSTANCE_NO,
    OWNER_POSITION,
    SELECT_ROW,
    TERMINAL,
    append_events,
    assemble,
    events_of,
    history_rows,
    key_range,
)
from wfkit.store._sqlite_schema import ACTIVE, SEQ_MASK, migrate
from wfkit.store._sqlite_space import checkpoint, find_ended, reclaim_step, space, vacuum

__all__ = ["SqliteStore"]

_Batch = Sequence[tuple[str, int, Sequence[EventRow], InstanceUpdate]]
_LARGEST_INTEGER = 2**63 - 1


class SqliteStore:
    """Instances, histories and definitions in one SQLite database.

    ``path`` is a file (created with its parent folders when missing) or ``":memory:"``.
    ``timeout`` is how long a write waits for another process's transaction, in seconds.
    ``connections`` picks how threads share the database: ``"thread"`` (one connection
    per thread, the default for files) or ``"shared"`` (one connection and a lock; the
    only choice for ``":memory:"``). ``synchronous`` is SQLite's pragma: ``"normal"``
    (the default) survives a process crash but may lose the last commits on power loss;
    ``"full"`` fsyncs every commit and survives power loss too, at about 150-200 µs more
    per commit (store URL option ``?synchronous=full``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 10.0,
        connections: Literal["thread", "shared"] | None = None,
        create: bool = True,
        synchronous: Literal["normal", "full"] = "normal",
    ) -> None:
        self.path = str(path)
        self.synchronous = synchronous
        self.url = f"sqlite:///{self.path}"
        self._host = this_host()
        if not create and self.path != ":memory:" and not os.path.exists(self.path):
            raise StoreError(
                self.url,
                f"there is no store at {self.path} (no such file); a store is made where "
                "the first instance is started",
            )
        self._conns = self._open(timeout, connections)
        signal = signal_for(self.path)
        self._conns.on_commit = signal.changed
        memory = self.path == ":memory:"
        self._changes = ChangeWatch(signal, None if memory else lambda: connect(self.path, timeout))

    def _open(self, timeout: float, connections: str | None) -> Connections:
        """Build or upgrade the schema, then the connections the threads will use."""
        memory = self.path == ":memory:"
        if memory and connections == "thread":
            raise StoreError(self.url, "an in-memory database needs connections='shared'")
        if not memory:
            self._make_parent()

        def factory() -> sqlite3.Connection:
            return connect(self.path, timeout, self.synchronous.upper())

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
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            explained = explain(exc, self.path)
            if explained is not None:
                raise StoreError(self.url, f"cannot open it as a wfkit store: {explained}") from exc
            if isinstance(exc, sqlite3.Error) and is_busy(exc):
                why = f"another process held its write lock for more than {timeout:g} s"
            else:
                why = "is it a damaged file, or another program's?"
            raise StoreError(
                self.url, f"cannot open {self.path} as a wfkit store: {exc} ({why})"
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
            len(events) if name == "version" else getattr(row, name) for name in FIELDS
        ]
        if owner is not None:  # claimed as it is made: one INSERT, not an INSERT + UPDATE
            values[OWNER_POSITION] = owner.id
            values[LEASE_POSITION] = time.time() + lease_seconds
        values.append(len(events))  # summary_seq: the row's summary is the current one
        values += [owner.host, owner.pid] if owner is not None else [None, None]
        with self._conns.write("create") as conn:
            found = conn.execute(
                "SELECT instance_no, status FROM instances WHERE instance_id = ?",
                (row.instance_id,),
            ).fetchone()
            if found is not None:
                if found[1] not in TERMINAL:
                    raise InstanceAlreadyExists(row.instance_id)
                conn.execute(DELETE_HISTORY, key_range(found[0]))
                conn.execute("DELETE FROM instances WHERE instance_id = ?", (row.instance_id,))
            number = conn.execute(INSERT_ROW, values).lastrowid
            if number is None or number >= MAX_INSTANCE_NO:
                raise StoreError(
                    self.url, f"the store holds too many instances to number {row.instance_id}"
                )
            conn.executemany(INSERT_EVENTS, history_rows(number, 0, events))

    def get(self, instance_id: str) -> InstanceRow | None:
        """The instance, or None."""
        with self._conns.read("get") as conn:
            found = conn.execute(SELECT_ROW + " WHERE i.instance_id = ?", (instance_id,)).fetchone()
        return None if found is None else assemble(found)

    def history(self, instance_id: str, after: int = 0, limit: int | None = None) -> list[EventRow]:
        """Events with ``seq > after``, in order; the first ``limit`` of them only (the
        rest is not read) when ``limit`` is given."""
        after = max(after, 0)
        with self._conns.read("history") as conn:
            cursor = conn.execute(HISTORY_AFTER, (instance_id, after))
            if limit is None:
                return events_of(cursor.fetchall(), after)
            rows, count = [], 0
            while count < limit and (found := cursor.fetchone()) is not None:
                rows.append(found)
                count += min(found[4], found[0] - after)  # its events after ``after``
        return events_of(rows, after)[: max(limit, 0)]

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
            return append_events(conn, instance_id, expected_version, events, update)

    def append_many(self, batch: _Batch, *, owner: Owner | None = None) -> list[str]:
        """Several appends in one transaction; returns the ids that conflicted (not
        written; the others are). With ``owner``, an instance it does not hold now
        conflicts too. An error other than a conflict writes nothing."""
        holder = owner.id if owner is not None else None

        def work(conn: sqlite3.Connection) -> list[str]:
            conflicted: list[str] = []
            for instance_id, expected, events, update in batch:
                try:
                    append_events(conn, instance_id, expected, events, update, holder)
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
        after_key: tuple[float, str] | None = None,
    ) -> list[InstanceRow]:
        """Instances, newest first (by ``created_at``, then id), filtered by any of
        ``status`` and by workflow ``name``; ``after`` is the last id of the previous
        page (keyset pagination). An ``after`` that is not stored raises
        :class:`InstanceNotFound`. ``after_key`` (used when ``after`` is None) is that
        row's ``(created_at, instance_id)``: the page after it, whether or not the row
        is still stored."""
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
            else:
                mark = after_key
            if mark is not None:
                where.append("(created_at, instance_id) < (?, ?)")
                params += [float(mark[0]), str(mark[1])]
            sql = SELECT_ROW + (" WHERE " + " AND ".join(where) if where else "")
            sql += " ORDER BY created_at DESC, instance_id DESC LIMIT ?"
            page = min(max(limit, 0), _LARGEST_INTEGER)  # SQLite integers are 64-bit
            rows = conn.execute(sql, [*params, page]).fetchall()
        return [assemble(found) for found in rows]

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
            conn.executemany(DELETE_HISTORY, [key_range(number) for number in numbers])
            return conn.executemany(
                f"DELETE FROM instances WHERE instance_id = ? AND NOT ({ACTIVE})", keys
            ).rowcount

    def find_ended(
        self, *, statuses: Sequence[str] = (), before: float, limit: int = 500, after: int = 0
    ) -> tuple[list[str], int]:
        """Up to about ``limit`` ids of terminal instances with one of ``statuses`` (any
        terminal one when empty) last updated before ``before`` (epoch seconds), from
        position ``after`` (0 at first); returns them and the position to go on from, 0
        when the walk is over. Each call reads a bounded stretch of the table."""
        with self._conns.snapshot("find_ended") as conn:
            return find_ended(conn, statuses, before, max(limit, 1), after)

    def reclaim(self, *, full: bool = False) -> StoreSpace:
        """Give the free pages of the file back to the disk, in short write transactions
        (``full``: one VACUUM, which rebuilds the file and also switches a store made
        by an earlier wfkit to give pages back by itself from then on); returns the
        space after."""
        if full:
            with self._conns.exclusive("vacuum") as conn:
                vacuum(conn)
        else:
            while True:
                with self._conns.exclusive("reclaim") as conn:
                    if not reclaim_step(conn):
                        break
        with self._conns.exclusive("checkpoint") as conn:
            checkpoint(conn)
        return self.space()

    def space(self) -> StoreSpace:
        """How big the file is, how much of it is free, and whether it is given back."""
        with self._conns.read("space") as conn:
            return space(conn, self.path)

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
                    f"SELECT i.instance_id, coalesce({LAST_EVENT_KEY} & {SEQ_MASK}, 0) "
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

    def has_free(self) -> bool:
        """Whether a non-terminal instance is unowned or its lease has run out (one seek
        of the index claims use; no write lock)."""
        with self._conns.read("has_free") as conn:
            found = conn.execute(HAS_FREE, (time.time(),)).fetchone()
        return found is not None

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
        """Give up instances ``owner`` still holds (others are left alone); it becomes
        their last owner, until now."""
        now = time.time()
        with self._conns.write("release") as conn:
            conn.executemany(
                "UPDATE instances SET owner = NULL, owner_host = NULL, owner_pid = NULL, "
                "lease_until = NULL, last_owner = owner, last_owner_until = ? "
                "WHERE instance_id = ? AND owner = ?",
                [(now, instance_id, owner.id) for instance_id in instance_ids],
            )

    def wait_for_change(self, timeout: float, after: int | None = None) -> int:
        """A change token now (``after`` None), or once something was committed since
        ``after`` was returned: at once for commits of this process (on any store object
        of this file), within about 50 ms for other processes' (``PRAGMA data_version``);
        or after ``timeout`` seconds, returning ``after`` unchanged."""
        try:
            return self._changes.wait_for_change(timeout, after)
        except sqlite3.Error as exc:
            raise StoreError(self.url, f"wait_for_change failed: {exc}", retryable=True) from exc

    def close(self) -> None:
        """Close every connection (idempotent); the store cannot be used afterwards."""
        self._conns.close()
        self._changes.close()
