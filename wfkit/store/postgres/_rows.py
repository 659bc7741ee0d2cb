"""How the PostgreSQL store lays instances and histories out in rows, and appends.

An instance is one row of ``wfkit_instances``, numbered (``instance_no``); its version
is a column, rewritten by each append together with the summary. Its history is rows of
``wfkit_history`` keyed ``(instance_no, seq)``, one per event (a purge deletes them with
the instance, ``ON DELETE CASCADE``; a replaced instance gets a new number).

An append is one ``UPDATE ... WHERE version = expected [AND owner = ...]``: the row lock
it takes makes the version check and the write one step, whatever other transactions do
meanwhile, and no separate read is needed unless it conflicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import psycopg

from wfkit.engine.core.status import TERMINAL_STATUSES
from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate
from wfkit.errors import VersionConflict
from wfkit.store.postgres._schema import NOW

__all__ = [
    "FIELDS",
    "SELECT_ROW",
    "TERMINAL",
    "Batch",
    "append_batch",
    "assemble",
    "conflict",
    "insert_row",
]

TERMINAL = frozenset(str(status) for status in TERMINAL_STATUSES)
"""The terminal statuses, as stored."""

FIELDS = tuple(field.name for field in fields(InstanceRow))
"""The columns of ``wfkit_instances`` that are :class:`InstanceRow` fields, in its order."""

SELECT_ROW = f"SELECT {', '.join(FIELDS)} FROM wfkit_instances"
"""SQL: instance rows, for :func:`assemble`. Add a WHERE clause."""

_LEASE = FIELDS.index("lease_until")


def _insert_sql(leased: bool) -> str:
    """The INSERT of an instance row; ``leased``: its lease is the database's clock plus
    the seconds given in its place."""
    marks = ["%s"] * (len(FIELDS) + 2)
    if leased:
        marks[_LEASE] = f"{NOW} + %s"
    return (
        f"INSERT INTO wfkit_instances ({', '.join(FIELDS)}, owner_host, owner_pid) "
        f"VALUES ({', '.join(marks)}) ON CONFLICT (instance_id) DO NOTHING RETURNING instance_no"
    )


_INSERT_ROW = {leased: _insert_sql(leased) for leased in (False, True)}
_INSERT_EVENT = (
    "INSERT INTO wfkit_history (instance_no, seq, type, at, data) VALUES (%s, %s, %s, %s, %s)"
)
_UPDATABLE = ("status", "updated_at", "output", "failure", "custom_status", "properties")
_RELEASED = ("owner", "owner_host", "owner_pid", "lease_until")

Batch = Sequence[tuple[str, int, Sequence[EventRow], InstanceUpdate]]
"""Appends: ``(instance_id, expected_version, events, update)`` each."""


def assemble(found: Sequence[object]) -> InstanceRow:
    """An :class:`InstanceRow` from a :data:`SELECT_ROW` result."""
    return InstanceRow(*found)  # type: ignore[arg-type]


def insert_row(
    conn: psycopg.Connection,
    row: InstanceRow,
    events: Sequence[EventRow],
    owner: tuple[str, str, int] | None,
    lease_seconds: float,
) -> int | None:
    """Insert an instance row (version: the number of ``events``) and its events;
    returns its number, or None when a row with that id exists (made meanwhile).

    With ``owner`` (id, host, pid), the row is claimed by it for ``lease_seconds`` from
    now by the database's clock."""
    values: list[object] = [
        len(events) if name == "version" else getattr(row, name) for name in FIELDS
    ]
    host: str | None = None
    pid: int | None = None
    if owner is not None:
        values[FIELDS.index("owner")], host, pid = owner
        values[_LEASE] = lease_seconds
    inserted = conn.execute(_INSERT_ROW[owner is not None], [*values, host, pid]).fetchone()
    if inserted is None:
        return None
    number = int(inserted[0])
    _insert_events(conn, [(number, 0, events)])
    return number


def append_batch(conn: psycopg.Connection, batch: Batch, owner: str | None) -> list[int | None]:
    """The appends of ``batch`` inside the caller's transaction, in order; returns, for
    each, the new version, or None when it conflicted (then nothing of it is written).

    An append conflicts when the stored version is not the expected one, the instance
    is gone, or (with ``owner``) another owner or none holds it."""
    results: list[int | None] = []
    written: list[tuple[int, int, Sequence[EventRow]]] = []
    for instance_id, expected, events, update in batch:
        sql, params = _update(instance_id, expected, len(events), update, owner)
        found = conn.execute(sql, params).fetchone()
        if found is None:
            results.append(None)
            continue
        results.append(expected + len(events))
        written.append((int(found[0]), expected, events))
    _insert_events(conn, written)
    return results


def conflict(conn: psycopg.Connection, instance_id: str, expected: int) -> VersionConflict:
    """The :class:`VersionConflict` of a refused append, with the version stored now."""
    found = conn.execute(
        "SELECT version FROM wfkit_instances WHERE instance_id = %s", (instance_id,)
    ).fetchone()
    return VersionConflict(instance_id, expected, None if found is None else int(found[0]))


def _update(
    instance_id: str, expected: int, count: int, update: InstanceUpdate, owner: str | None
) -> tuple[str, list[object]]:
    """The fenced UPDATE of one append, setting only the fields given (an unchanged
    ``status`` is left out, so that its indexes are not rewritten)."""
    names = ["version"]
    values: list[object] = [expected + count]
    for name in _UPDATABLE:
        value = getattr(update, name)
        if value is not None:
            names.append(name)
            values.append(value)
    if update.status in TERMINAL:  # an instance that ends is let go in the same write
        names += _RELEASED
        values += [None] * len(_RELEASED)
    sets = ", ".join(f"{name} = %s" for name in names)
    where = "instance_id = %s AND version = %s"
    values += [instance_id, expected]
    if owner is not None:
        where += " AND owner = %s"
        values.append(owner)
    return f"UPDATE wfkit_instances SET {sets} WHERE {where} RETURNING instance_no", values


def _insert_events(
    conn: psycopg.Connection, appends: Sequence[tuple[int, int, Sequence[EventRow]]]
) -> None:
    """Insert the events of several appends (instance number, events' first seq minus
    one, events): one pipelined statement per event."""
    rows = [
        (number, seq, event.type, event.at, event.data)
        for number, start, events in appends
        for seq, event in enumerate(events, start + 1)
    ]
    if rows:
        with conn.cursor() as cursor:
            cursor.executemany(_INSERT_EVENT, rows)
