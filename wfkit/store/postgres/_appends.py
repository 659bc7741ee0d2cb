"""Appends of the PostgreSQL store in one statement: a single round trip to the server.

A step's append is on the engine's critical path, so its cost is counted in round
trips: a transaction of ``BEGIN``, a fenced ``UPDATE`` per instance, the history
``INSERT``, a ``pg_notify`` and ``COMMIT`` makes five, where a raw ``INSERT`` + ``COMMIT``
makes two. :data:`APPEND` does it all in one statement, run in autocommit mode (one
statement is one transaction): the batch arrives as two JSON texts (``json_to_recordset``:
one parameter each is dumped and parsed in C, where a dozen array parameters cost
psycopg about 100 µs of Python per append), the fenced
``UPDATE`` (version, and the owner when one is named) returns the rows it wrote, the
history rows of those, and only those, are inserted, and the channel is notified when
at least one was written. The fence and the write stay one atomic statement; an error
writes nothing. The SQL text is the same for any batch, so psycopg prepares it once per
connection.

A batch naming one instance twice (the second append expecting the first's version) is
left to :func:`~wfkit.store.postgres._rows.append_batch`, statement by statement.
"""

from __future__ import annotations

import json

import psycopg

from wfkit.store.postgres._rows import TERMINAL, Batch

__all__ = ["APPEND", "append_params", "append_together"]

_TERMINAL_LIST = ", ".join(f"'{status}'" for status in sorted(TERMINAL))
_UPDATABLE = ("status", "updated_at", "output", "failure", "custom_status", "properties")
_COLUMNS = ", ".join(
    f"{name} {'float8' if name == 'updated_at' else 'text'}" for name in _UPDATABLE
)
_ENDS = f"b.status IN ({_TERMINAL_LIST})"  # an instance that ends is let go in the same write

APPEND = f"""
WITH b AS (
    SELECT * FROM json_to_recordset(%(batch)s::json)
    AS b(instance_id text, expected int, added int, {_COLUMNS})
), u AS (
    UPDATE wfkit_instances i SET version = b.expected + b.added,
        {", ".join(f"{name} = coalesce(b.{name}, i.{name})" for name in _UPDATABLE)},
        owner = CASE WHEN {_ENDS} THEN NULL ELSE i.owner END,
        owner_host = CASE WHEN {_ENDS} THEN NULL ELSE i.owner_host END,
        owner_pid = CASE WHEN {_ENDS} THEN NULL ELSE i.owner_pid END,
        lease_until = CASE WHEN {_ENDS} THEN NULL ELSE i.lease_until END
    FROM b WHERE i.instance_id = b.instance_id AND i.version = b.expected
        AND (%(owner)s::text IS NULL OR i.owner = %(owner)s::text)
    RETURNING i.instance_no, b.instance_id
), e AS (
    SELECT * FROM json_to_recordset(%(events)s::json)
    AS e(instance_id text, seq int, type text, at float8, data text)
), ins AS (
    INSERT INTO wfkit_history (instance_no, seq, type, at, data)
    SELECT u.instance_no, e.seq, e.type, e.at, e.data FROM u JOIN e USING (instance_id)
), n AS (
    SELECT pg_notify(%(channel)s, '') FROM (SELECT 1 FROM u LIMIT 1) AS one
)
SELECT instance_id, (SELECT count(*) FROM n) FROM u
"""
"""SQL: the appends of a batch, fenced, with their events and a notification; returns
the ids written (:func:`append_params` gives its parameters)."""


def append_params(batch: Batch, owner: str | None, channel: str) -> dict[str, object]:
    """The parameters of :data:`APPEND` for ``batch`` (distinct instance ids)."""
    rows = [
        {
            "instance_id": instance_id,
            "expected": expected,
            "added": len(events),
            **{name: getattr(update, name) for name in _UPDATABLE},
        }
        for instance_id, expected, events, update in batch
    ]
    events = [
        {"instance_id": instance_id, "seq": seq, "type": e.type, "at": e.at, "data": e.data}
        for instance_id, expected, appended, _ in batch
        for seq, e in enumerate(appended, expected + 1)
    ]
    params: dict[str, object] = {"owner": owner, "channel": channel}
    params["batch"], params["events"] = json.dumps(rows), json.dumps(events)
    return params


def append_together(
    conn: psycopg.Connection, batch: Batch, owner: str | None, channel: str
) -> list[int | None]:
    """The appends of ``batch`` (distinct ids) in one statement on ``conn`` (autocommit:
    the statement is the transaction); for each, the new version, or None when it
    conflicted (nothing of it is written)."""
    written = {row[0] for row in conn.execute(APPEND, append_params(batch, owner, channel))}
    return [
        expected + len(rows) if instance_id in written else None
        for instance_id, expected, rows, _ in batch
    ]
