"""Finding ended instances to purge, and giving the space they took back to the disk.

New store files are made with ``auto_vacuum = INCREMENTAL`` (set by
:func:`wfkit.store._sqlite_connections.connect` before the first table): after a purge,
:func:`reclaim` moves free pages to the end of the file and cuts them off, a few
thousand pages per write transaction, so that other writers wait milliseconds, not the
whole reclaim. A store made before (``auto_vacuum = NONE``) keeps its free pages for
reuse until one full ``VACUUM`` (:func:`vacuum`, ``wfkit db vacuum``), which also
switches it to incremental: SQLite can change that mode only by rebuilding the file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

from wfkit.engine.protocols import StoreSpace
from wfkit.store._sqlite_schema import ACTIVE

__all__ = [
    "RECLAIM_PAGES",
    "checkpoint",
    "find_ended",
    "reclaim_step",
    "space",
    "vacuum",
]

RECLAIM_PAGES = 2000
"""Pages freed per write transaction of a reclaim (8 MB with 4 KB pages)."""


def space(conn: sqlite3.Connection, path: str) -> StoreSpace:
    """The :class:`StoreSpace` of the database ``conn`` has open (the file at ``path``)."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    mode = conn.execute("PRAGMA auto_vacuum").fetchone()[0]
    size = os.path.getsize(path) if path != ":memory:" else 0
    return StoreSpace(size, free * page_size, mode == 2)


def find_ended(
    conn: sqlite3.Connection, statuses: Sequence[str], before: float, limit: int, after: int
) -> tuple[list[str], int]:
    """Up to ``limit`` ids of terminal instances with one of ``statuses`` (any terminal
    one when empty), last updated before ``before``, numbered above ``after``; and the
    number to go on from (0 when the table is done). A walk by instance number: each
    call starts where the last stopped, so a whole purge reads each row once."""
    where = [f"NOT ({ACTIVE})", "updated_at < ?", "instance_no > ?"]
    params: list[object] = [before, after]
    if statuses:
        where.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += list(statuses)
    # walk a window of numbers, so that a table of active instances is not read whole
    # for each batch: the window's end is where the next call starts
    last = conn.execute(
        "SELECT max(instance_no) FROM (SELECT instance_no FROM instances "
        "WHERE instance_no > ? ORDER BY instance_no LIMIT ?)",
        (after, limit * 4),
    ).fetchone()[0]
    if last is None:
        return [], 0
    where.append("instance_no <= ?")
    params.append(last)
    rows = conn.execute(
        f"SELECT instance_no, instance_id FROM instances WHERE {' AND '.join(where)} "
        "ORDER BY instance_no LIMIT ?",
        [*params, limit],
    ).fetchall()
    if len(rows) == limit:  # the window holds more: go on after the last one taken
        last = rows[-1][0]
    return [row[1] for row in rows], last


def reclaim_step(conn: sqlite3.Connection) -> bool:
    """Give up to :data:`RECLAIM_PAGES` free pages back to the disk, in one short write
    transaction; False when there is nothing (more) to give, or the store is not in
    incremental mode (only :func:`vacuum` frees its pages)."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        return False
    if not conn.execute("PRAGMA freelist_count").fetchone()[0]:
        return False
    # executescript runs the pragma to its end (execute() would free one page only)
    conn.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({RECLAIM_PAGES}); COMMIT;")
    return True


def vacuum(conn: sqlite3.Connection) -> None:
    """Rebuild the file without its free pages, switching it to incremental auto-vacuum
    (a store made before this wfkit version). Holds the write lock while it runs (about
    a second per 100 MB here)."""
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("VACUUM")


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the write-ahead log into the file and empty it, so the file shrinks now."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
