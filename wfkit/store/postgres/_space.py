"""Finding ended instances to purge, and the space the PostgreSQL store takes and frees.

A purge leaves dead rows behind (MVCC). ``reclaim()`` runs ``VACUUM (ANALYZE)`` on the
store's tables: their space becomes reusable by new rows, and empty pages at the end of
a table go back to the disk; other transactions go on meanwhile. ``reclaim(full=True)``
runs ``VACUUM FULL``, which rewrites the tables without free space, giving all of it back
to the disk, but locks them (every worker waits) while it runs.

The size (``file_bytes``) is ``pg_total_relation_size`` of the store's tables (with their
indexes and TOAST). PostgreSQL keeps no count of free bytes without an extension, so
``free_bytes`` is an estimate: each table's main fork minus its rows as the planner's
statistics (``reltuples``, ``pg_stats.avg_width``, refreshed by ``reclaim``) see them.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from wfkit.engine.protocols import StoreSpace
from wfkit.store.postgres._schema import ACTIVE, TABLES

__all__ = ["find_ended", "space", "vacuum"]

_ROW_OVERHEAD = 28  # a heap tuple's header (24 bytes, aligned) and its line pointer (4)

_SIZES = """
SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), c.reltuples,
       (SELECT sum(s.avg_width) FROM pg_stats s
        WHERE s.schemaname = n.nspname AND s.tablename = c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = ANY(%s) AND c.relkind = 'r'
"""


def space(conn: psycopg.Connection) -> StoreSpace:
    """The :class:`StoreSpace` of the store's tables in ``conn``'s current schema."""
    total = free = 0
    for _name, size, heap, tuples, width in conn.execute(_SIZES, (list(TABLES),)).fetchall():
        total += int(size)
        if tuples is not None and tuples >= 0 and width is not None:
            free += max(0, int(heap) - int(tuples * (float(width) + _ROW_OVERHEAD)))
    return StoreSpace(total, free, incremental=False)


def vacuum(conn: psycopg.Connection, *, full: bool) -> None:
    """VACUUM the store's tables on ``conn``, which must be in autocommit mode (VACUUM
    cannot run inside a transaction)."""
    how = sql.SQL("VACUUM (FULL, ANALYZE) {}" if full else "VACUUM (ANALYZE) {}")
    conn.execute(how.format(sql.SQL(", ").join(sql.Identifier(t) for t in TABLES)))


def find_ended(
    conn: psycopg.Connection, statuses: Sequence[str], before: float, limit: int, after: int
) -> tuple[list[str], int]:
    """Up to ``limit`` ids of terminal instances with one of ``statuses`` (any terminal
    one when empty), last updated before ``before``, numbered above ``after``; and the
    number to go on from (0 when the table is done). A walk by instance number over a
    window of at most ``4 * limit`` rows a call, so a whole purge reads each row once."""
    last_row = conn.execute(
        "SELECT max(instance_no) FROM (SELECT instance_no FROM wfkit_instances "
        "WHERE instance_no > %s ORDER BY instance_no LIMIT %s) AS window_",
        (after, limit * 4),
    ).fetchone()
    if last_row is None or last_row[0] is None:
        return [], 0
    last = int(last_row[0])
    where = f"NOT ({ACTIVE}) AND updated_at < %s AND instance_no > %s AND instance_no <= %s"
    params: list[object] = [before, after, last]
    if statuses:
        where += " AND status = ANY(%s)"
        params.append(list(statuses))
    rows = conn.execute(
        f"SELECT instance_no, instance_id FROM wfkit_instances WHERE {where} "
        "ORDER BY instance_no LIMIT %s",
        [*params, limit],
    ).fetchall()
    if len(rows) == limit:  # the window holds more: go on after the last one taken
        last = int(rows[-1][0])
    return [row[1] for row in rows], last
