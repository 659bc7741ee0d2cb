"""The default store: one SQLite file (WAL), shared by the threads and processes of a host.

:class:`SqliteStore` implements :class:`wfkit.engine.protocols.Store`. Each method is one
transaction; writes start with ``BEGIN IMMEDIATE``, so a version check and the write it
guards are atomic across processes, and a second process waits (up to the busy timeout)
instead of failing. ``":memory:"`` gives a private in-memory database (one connection
shared by all threads). The store knows nothing of steps or definitions: it keeps rows,
events and texts it is handed.

Ownership: :meth:`SqliteStore.claim` takes non-terminal instances that are unowned, whose
lease has run out, or whose owner is a process of this host that no longer exists (the
owner's host name and pid are stored with the claim, and the pid is probed with
``os.kill(pid, 0)``; never on Windows, where that call would kill the process).
"""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import astuple, fields
from pathlib import Path
from typing import Literal

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner
from wfkit.engine.status import TERMINAL_STATUSES
from wfkit.errors import InstanceAlreadyExists, InstanceNotFound, StoreError, VersionConflict
from wfkit.store._sqlite_connections import (
    Connections,
    SharedConnection,
    ThreadConnections,
    connect,
)
from wfkit.store._sqlite_schema import ACTIVE, FREE_AT, migrate

__all__ = ["SqliteStore"]

_TERMINAL = frozenset(str(status) for status in TERMINAL_STATUSES)
_FIELDS = tuple(field.name for field in fields(InstanceRow))
_SELECT_ROW = f"SELECT {', '.join(_FIELDS)} FROM instances"
_INSERT_ROW = (
    f"INSERT INTO instances ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"
)
_INSERT_EVENT = "INSERT INTO history (instance_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)"
_UPDATABLE = ("status", "updated_at", "output", "failure", "custom_status", "properties")
_SET_OWNER = (
    "UPDATE instances SET owner = ?, owner_host = ?, owner_pid = ?, lease_until = ? "
    "WHERE instance_id = ? AND owner IS ? AND " + ACTIVE
)
# Each distinct owner of this host's active instances, with its pid: a loose index scan
# (one index seek per owner, however many instances each owns).
_OWNER_SEEK = (
    "SELECT min(owner) FROM instances WHERE owner_host = :host AND owner IS NOT NULL "
    f"AND {ACTIVE}{{where}}"
)
_OWNERS_OF_HOST = (
    f"WITH RECURSIVE owners(id) AS (SELECT ({_OWNER_SEEK}) UNION ALL "
    f"SELECT ({_OWNER_SEEK} AND owner > owners.id) FROM owners WHERE owners.id IS NOT NULL) "
    "SELECT id, (SELECT owner_pid FROM instances WHERE owner_host = :host AND owner = id "
    f"AND owner IS NOT NULL AND {ACTIVE} LIMIT 1) FROM owners "
    "WHERE id IS NOT NULL AND id != :me"
)
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

_Batch = Sequence[tuple[str, int, Sequence[EventRow], InstanceUpdate]]
_Scope = tuple[str, dict[str, object]]  # an SQL condition (" AND ...") and its parameters


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
        memory = self.path == ":memory:"
        self.url = "sqlite:///:memory:" if memory else f"sqlite:///{self.path}"
        self._host = socket.gethostname()
        kind = "shared" if memory else (connections or "thread")
        if memory and connections == "thread":
            raise StoreError(self.url, "an in-memory database needs connections='shared'")
        if not memory:
            self._make_parent()

        def factory() -> sqlite3.Connection:
            return connect(self.path, timeout)

        try:
            if not memory:  # check (and build or upgrade) the file before sharing it
                probe = factory()
                try:
                    migrate(probe, self.url)
                finally:
                    probe.close()
            self._conns: Connections = (
                SharedConnection(self.url, factory)
                if kind == "shared"
                else ThreadConnections(self.url, factory)
            )
            if memory:
                with self._conns.read("open") as conn:
                    migrate(conn, self.url)
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

    def create(self, row: InstanceRow, events: Sequence[EventRow]) -> None:
        """Create an instance with its first events (numbered 1, 2, ...).

        The stored version is ``len(events)`` whatever ``row.version`` says. A terminal
        instance with the same id is replaced with its history; an active one raises
        :class:`InstanceAlreadyExists`.
        """
        values = list(astuple(row))
        values[_FIELDS.index("version")] = len(events)
        with self._conns.write("create") as conn:
            found = conn.execute(
                "SELECT status FROM instances WHERE instance_id = ?", (row.instance_id,)
            ).fetchone()
            if found is not None:
                if found[0] not in _TERMINAL:
                    raise InstanceAlreadyExists(row.instance_id)
                conn.execute("DELETE FROM history WHERE instance_id = ?", (row.instance_id,))
                conn.execute("DELETE FROM instances WHERE instance_id = ?", (row.instance_id,))
            conn.execute(_INSERT_ROW, values)
            conn.executemany(_INSERT_EVENT, _numbered(row.instance_id, 0, events))

    def get(self, instance_id: str) -> InstanceRow | None:
        """The instance, or None."""
        with self._conns.read("get") as conn:
            found = conn.execute(
                _SELECT_ROW + " WHERE instance_id = ?", (instance_id,)
            ).fetchone()
        return None if found is None else InstanceRow(*found)

    def history(self, instance_id: str, after: int = 0) -> list[EventRow]:
        """Events with ``seq > after``, in order."""
        with self._conns.read("history") as conn:
            rows = conn.execute(
                "SELECT seq, type, at, data FROM history WHERE instance_id = ? AND seq > ? "
                "ORDER BY seq",
                (instance_id, after),
            ).fetchall()
        return [EventRow(*found) for found in rows]

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
        conflicted: list[str] = []
        with self._conns.write("append_many") as conn:
            for instance_id, expected, events, update in batch:
                try:
                    _append(conn, instance_id, expected, events, update)
                except VersionConflict:
                    conflicted.append(instance_id)
        return conflicted

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
        return [InstanceRow(*found) for found in rows]

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
        """Delete instances and their histories (whatever their status); returns how
        many instances were deleted."""
        keys = [(instance_id,) for instance_id in dict.fromkeys(instance_ids)]
        with self._conns.write("purge") as conn:
            conn.executemany("DELETE FROM history WHERE instance_id = ?", keys)
            return conn.executemany("DELETE FROM instances WHERE instance_id = ?", keys).rowcount

    def versions(self, instance_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each instance that exists (unknown ids are left out)."""
        ids = list(dict.fromkeys(instance_ids))
        found: dict[str, int] = {}
        with self._conns.snapshot("versions") as conn:
            for chunk in _chunks(ids):
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT instance_id, version FROM instances WHERE instance_id IN ({marks})"
                found.update(conn.execute(sql, chunk).fetchall())
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
        whose lease has run out, then those owned by a dead process of this host. With
        ``ids``, only those instances are considered. Returns the ids newly claimed.

        Pids are probed inside the write transaction, and each row is updated only if
        its owner is still the one seen, so a live owner is never robbed.
        """
        now = time.time()
        scopes = [("", {})] if ids is None else [_scope(chunk) for chunk in _chunks(list(ids))]
        with self._conns.write("claim") as conn:
            seen: list[tuple[str, str | None]] = []
            for where, params in scopes:
                # Unscoped, the planner would walk every instance by age: name the index.
                source = "instances" if where else "instances INDEXED BY instances_free"
                seen += conn.execute(
                    f"SELECT instance_id, owner FROM {source} "
                    f"WHERE {ACTIVE} AND {FREE_AT} < :now{where} "
                    "ORDER BY created_at, instance_id LIMIT :limit",
                    {**params, "now": now, "limit": max(limit - len(seen), 0)},
                ).fetchall()
            for scope in scopes:
                seen += self._orphans(conn, owner, limit - len(seen), scope)
            claimed: list[str] = []
            for instance_id, old_owner in seen:
                changed = conn.execute(
                    _SET_OWNER,
                    (owner.id, owner.host, owner.pid, now + lease_seconds, instance_id, old_owner),
                ).rowcount
                if changed:
                    claimed.append(instance_id)
        return claimed

    def _orphans(
        self, conn: sqlite3.Connection, owner: Owner, limit: int, scope: _Scope
    ) -> list[tuple[str, str | None]]:
        """Up to ``limit`` instances whose owner is a process of this host that has
        exited (``scope`` narrows the search to some ids)."""
        if limit <= 0:
            return []
        where, params = scope
        params = {**params, "host": self._host, "me": owner.id}
        found: list[tuple[str, str | None]] = []
        for dead_owner, pid in conn.execute(_OWNERS_OF_HOST.format(where=where), params):
            if len(found) >= limit or not _process_is_gone(pid):
                continue
            rows = conn.execute(
                f"SELECT instance_id FROM instances WHERE owner_host = :host AND owner = :owner "
                f"AND owner_pid = :pid AND owner IS NOT NULL AND {ACTIVE}{where} "
                "ORDER BY created_at, instance_id LIMIT :limit",
                {**params, "owner": dead_owner, "pid": pid, "limit": limit - len(found)},
            ).fetchall()
            found += [(instance_id, dead_owner) for (instance_id,) in rows]
        return found

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
    """One append inside the caller's transaction; writes nothing on a conflict."""
    version = expected + len(events)
    given = tuple(name for name in _UPDATABLE if getattr(update, name) is not None)
    values = [getattr(update, name) for name in given]
    changed = conn.execute(_update_sql(given), (version, *values, instance_id, expected)).rowcount
    if not changed:
        found = conn.execute(
            "SELECT version FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        raise VersionConflict(instance_id, expected, None if found is None else found[0])
    conn.executemany(_INSERT_EVENT, _numbered(instance_id, expected, events))
    return version


@functools.cache
def _update_sql(names: tuple[str, ...]) -> str:
    """The UPDATE of an append, setting only the columns given: an unchanged ``status``
    is left out so that its indexes are not rewritten (a third of an append's cost)."""
    columns = "".join(f", {name} = ?" for name in names)
    return f"UPDATE instances SET version = ?{columns} WHERE instance_id = ? AND version = ?"


def _numbered(
    instance_id: str, start: int, events: Sequence[EventRow]
) -> Iterator[tuple[str, int, str, float, str]]:
    """History rows for ``events``, numbered from ``start + 1`` (their own seq is ignored)."""
    for seq, event in enumerate(events, start + 1):
        yield instance_id, seq, event.type, event.at, event.data


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _scope(ids: list[str]) -> _Scope:
    """The condition "one of these ids", with named parameters."""
    names = [f"id{n}" for n in range(len(ids))]
    condition = f" AND instance_id IN ({', '.join(':' + name for name in names)})"
    return condition, dict(zip(names, ids, strict=True))


def _process_is_gone(pid: int | None) -> bool:
    """True only when no process has this pid on this host (so its leases are void).

    Any doubt (no pid, pid 0 or below, a process of another user, Windows) is "alive":
    the instance then waits for its lease to run out instead of being taken.
    """
    if pid is None or pid <= 0 or sys.platform == "win32":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists, under another user
        return False
    return False
