"""How the SQLite store lays instances and histories out in rows: the statements that
read and write them, and one append inside a caller's transaction.

An instance is one row of ``instances``, numbered (``instance_no``). Its history is rows
of ``history`` keyed ``instance_no << SEQ_BITS | seq``, in a rowid table, so a running
instance's new rows go at the end of the tree. One history row holds the events of one
append: ``n`` events numbered ``seq - n + 1 .. seq``, their types, texts and times one
per line. An append that changes only the instance's summary (its time, status line and
properties: every step of a running instance) stores the summary on its last history
row instead of rewriting the instance row; reads take the newer of the two.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import fields

from wfkit.engine.core.status import TERMINAL_STATUSES
from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate
from wfkit.errors import StoreError, VersionConflict
from wfkit.store._sqlite_schema import SEQ_BITS, SEQ_MASK

__all__ = [
    "DELETE_HISTORY",
    "FIELDS",
    "HISTORY_AFTER",
    "INSERT_EVENTS",
    "INSERT_ROW",
    "LAST_EVENT_KEY",
    "LEASE_POSITION",
    "MAX_INSTANCE_NO",
    "OWNER_POSITION",
    "SELECT_ROW",
    "TERMINAL",
    "append_events",
    "assemble",
    "events_of",
    "history_rows",
    "key_range",
]

TERMINAL = frozenset(str(status) for status in TERMINAL_STATUSES)
"""The terminal statuses, as stored."""

FIELDS = tuple(field.name for field in fields(InstanceRow))
"""The columns of ``instances`` that are :class:`InstanceRow` fields, in its order."""

OWNER_POSITION = FIELDS.index("owner")
"""Where the owner is in a row of :data:`FIELDS` values."""

LEASE_POSITION = FIELDS.index("lease_until")
"""Where the lease's end is in a row of :data:`FIELDS` values."""

_VERSION = FIELDS.index("version")
_SUMMARY = tuple(FIELDS.index(name) for name in ("updated_at", "custom_status", "properties"))


# A history row's key is ``instance_no << SEQ_BITS | seq``: an instance's rows are the keys
# from ``instance_no << SEQ_BITS`` (exclusive) up to that plus SEQ_MASK, read by rowid range.
_FIRST_KEY = f"(i.instance_no << {SEQ_BITS})"
_LAST_KEY = f"((i.instance_no << {SEQ_BITS}) + {SEQ_MASK})"
LAST_EVENT_KEY = (
    f"(SELECT h.event_key FROM history h WHERE h.event_key BETWEEN {_FIRST_KEY} AND "
    f"{_LAST_KEY} ORDER BY h.event_key DESC LIMIT 1)"
)
"""SQL: the key of instance ``i``'s last history row (NULL before its first event)."""


def _latest_summary(column: str) -> str:
    # walks the instance's history backwards from its end, down to the row's own summary
    # only (older ones never win): one row, usually, and none after an append that
    # rewrote the row (a pause, say), however many of those came in a row
    return (
        f"(SELECT h.{column} FROM history h WHERE h.event_key BETWEEN "
        f"{_FIRST_KEY} + i.summary_seq + 1 AND {_LAST_KEY} AND h.s_updated_at IS NOT NULL "
        "ORDER BY h.event_key DESC LIMIT 1)"
    )


SELECT_ROW = (
    f"SELECT {', '.join('i.' + name for name in FIELDS)}, i.summary_seq, "
    f"{LAST_EVENT_KEY} & {SEQ_MASK}, "
    + ", ".join(
        _latest_summary(column)
        for column in ("seq", "s_updated_at", "s_custom_status", "s_properties")
    )
    + " FROM instances i"
)
"""SQL: instance rows (``i``) with what :func:`assemble` needs to finish them: how far the
row's summary is current, the last event's seq (the version), and the newest summary
kept in history. Add a WHERE clause."""

INSERT_ROW = (
    f"INSERT INTO instances ({', '.join(FIELDS)}, summary_seq, owner_host, owner_pid) "
    f"VALUES ({', '.join('?' * len(FIELDS))}, ?, ?, ?)"
)
"""SQL: a new instance row (its number is given by SQLite)."""

INSERT_EVENTS = "INSERT INTO history (event_key, type, at, data, n, ats) VALUES (?, ?, ?, ?, ?, ?)"
"""SQL: a history row without a summary, from a :func:`history_rows` row."""

_INSERT_EVENTS_SUMMARY = (
    "INSERT INTO history (event_key, type, at, data, n, ats, s_updated_at, s_custom_status, "
    "s_properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The instance's number, its last history key (None before its first event) and owner.
_CHECK_VERSION = (
    f"SELECT i.instance_no, {LAST_EVENT_KEY}, i.owner FROM instances i WHERE i.instance_id = ?"
)
_NEWEST_SUMMARY = (
    f"SELECT event_key & {SEQ_MASK}, s_updated_at, s_custom_status, s_properties FROM history "
    "WHERE event_key BETWEEN ? AND ? AND s_updated_at IS NOT NULL ORDER BY event_key DESC LIMIT 1"
)
HISTORY_AFTER = (
    f"SELECT h.event_key & {SEQ_MASK}, h.type, h.at, h.data, h.n, h.ats "
    f"FROM instances i JOIN history h ON h.event_key BETWEEN {_FIRST_KEY} + ?2 + 1 AND "
    f"{_LAST_KEY} WHERE i.instance_id = ?1 ORDER BY h.event_key"
)
"""SQL: the history rows of instance ``?1`` whose last seq is above ``?2``, for
:func:`events_of`."""

DELETE_HISTORY = "DELETE FROM history WHERE event_key BETWEEN ? AND ?"
"""SQL: delete the history rows in a :func:`key_range`."""

MAX_INSTANCE_NO = 1 << (63 - SEQ_BITS)
"""Instance numbers stay below this, so that history keys stay below 2**63."""

_UPDATABLE = ("status", "updated_at", "output", "failure", "custom_status", "properties")
_RELEASED = ("owner", "owner_host", "owner_pid", "lease_until")


def assemble(found: Sequence[object]) -> InstanceRow:
    """An :class:`InstanceRow` from a :data:`SELECT_ROW` result: the version is the last
    event's seq, and the summary the newest of the row's and the history's."""
    values = list(found[: len(FIELDS)])
    summary_seq, last, seq, *summary = found[len(FIELDS) :]
    if last is not None:
        values[_VERSION] = last
    if seq is not None and seq > summary_seq:  # type: ignore[operator]
        for index, value in zip(_SUMMARY, summary, strict=True):
            values[index] = value
    return InstanceRow(*values)  # type: ignore[arg-type]


def append_events(
    conn: sqlite3.Connection,
    instance_id: str,
    expected: int,
    events: Sequence[EventRow],
    update: InstanceUpdate,
    owner: str | None = None,
) -> int:
    """One append inside the caller's transaction; writes nothing on a conflict (a
    version other than ``expected``, or, when ``owner`` is given, another owner or none).

    An append that changes only the summary (time, status line, properties: every step
    of a running instance) stores it on its last event row and leaves the instance row
    alone, so the commit writes the history's pages only. Any other append rewrites the
    instance row, bringing its summary up to date first."""
    found = conn.execute(_CHECK_VERSION, (instance_id,)).fetchone()
    if found is None:
        raise VersionConflict(instance_id, expected, None)
    number, last, held_by = found
    actual = 0 if last is None else last & SEQ_MASK
    if actual != expected or (owner is not None and held_by != owner):
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
        rows = history_rows(number, expected, events)
        if len(rows) > 1:
            conn.executemany(INSERT_EVENTS, rows[:-1])
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
        row_seq = conn.execute(
            "SELECT summary_seq FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()[0]
        first, last_key = key_range(number)
        newest = conn.execute(_NEWEST_SUMMARY, (first + row_seq + 1, last_key)).fetchone()
        if newest is not None:
            seq, *summary = newest
            if seq > row_seq:  # the history's summary is newer: the row takes it over
                for position, value in zip((1, 4, 5), summary, strict=True):
                    if ordered[position] is None:
                        ordered[position] = value
    given = tuple(
        name for name, value in zip(_UPDATABLE, ordered, strict=True) if value is not None
    )
    values: list[object] = [value for value in ordered if value is not None]
    if update.status in TERMINAL:  # an instance that ends is let go in the same write
        given += _RELEASED
        values += [None] * len(_RELEASED)
    conn.execute(_update_sql(given), (version, version, *values, instance_id))
    conn.executemany(INSERT_EVENTS, history_rows(number, expected, events))
    return version


@functools.cache
def _update_sql(names: tuple[str, ...]) -> str:
    """The UPDATE of an append that rewrites the instance row, setting only the columns
    given: an unchanged ``status`` is left out so that its indexes are not rewritten."""
    columns = "".join(f", {name} = ?" for name in names)
    return f"UPDATE instances SET version = ?, summary_seq = ?{columns} WHERE instance_id = ?"


_HistoryRow = tuple[int, str, float, str, int, str | None]


def key_range(number: int) -> tuple[int, int]:
    """The first and last history key an instance numbered ``number`` can have."""
    base = number << SEQ_BITS
    return base, base + SEQ_MASK


def history_rows(number: int, start: int, events: Sequence[EventRow]) -> list[_HistoryRow]:
    """The history rows of ``events`` numbered from ``start + 1`` (their own seq is
    ignored) for the instance numbered ``number``: one row holding them all, or, when a
    type or a text has a line break (the separator), one row each."""
    base = number << SEQ_BITS
    if len(events) == 1:
        event = events[0]
        return [(base + start + 1, event.type, event.at, event.data, 1, None)]
    if any("\n" in e.data or "\n" in e.type for e in events):
        return [
            (base + seq, e.type, e.at, e.data, 1, None) for seq, e in enumerate(events, start + 1)
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


def events_of(
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
