"""The SQLite store's tables, and the migrations that build and upgrade them.

The schema carries a version in the one-row table ``wfkit_schema``. :data:`MIGRATIONS` is
the list of steps, applied in order: ``MIGRATIONS[n]`` upgrades a database at version
``n`` to version ``n + 1``, so a new file (version 0) goes through all of them and the
current version is ``len(MIGRATIONS)``. A migration adds tables, columns with defaults
and indexes, or rebuilds a table copying every record: records written by an older wfkit
stay readable.

:func:`migrate` runs the steps a database lacks in one ``BEGIN IMMEDIATE`` transaction,
so two processes opening a new file at once cannot both build it; a database whose
version is newer than this wfkit knows is refused with a message saying to upgrade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from wfkit.engine.core.status import TERMINAL_STATUSES
from wfkit.errors import StoreError

__all__ = [
    "ACTIVE",
    "FREE_AT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SEQ_BITS",
    "SEQ_MASK",
    "Migration",
    "migrate",
    "schema_version",
]

Migration = Callable[[sqlite3.Connection], None]
"""One schema step: runs its statements on a connection already inside a transaction."""

_TERMINAL_LIST = ", ".join(f"'{status}'" for status in sorted(TERMINAL_STATUSES))
ACTIVE = f"status NOT IN ({_TERMINAL_LIST})"
"""SQL condition of a non-terminal instance (queries spell it exactly as the indexes do)."""

FREE_AT = "(CASE WHEN owner IS NULL THEN 0 ELSE coalesce(lease_until, 0) END)"
"""SQL: the time from which an instance may be claimed (0: unowned, or owned with no lease)."""


_INSTANCE_INDEXES = (
    # Newest-first listing (keyset pagination walks these backwards).
    "CREATE INDEX instances_created ON instances (created_at, instance_id)",
    "CREATE INDEX instances_status ON instances (status, created_at, instance_id)",
    "CREATE INDEX instances_name ON instances (workflow_name, created_at, instance_id)",
    "CREATE INDEX instances_parent ON instances (parent_id) WHERE parent_id IS NOT NULL",
    # Claims look at non-terminal instances only (usually a few among many finished):
    # those free from a time on, and the owners of this host (for dead processes).
    f"CREATE INDEX instances_free ON instances ({FREE_AT}) WHERE {ACTIVE}",
    "CREATE INDEX instances_owner ON instances (owner_host, owner, owner_pid) "
    f"WHERE owner IS NOT NULL AND {ACTIVE}",
)

SEQ_BITS = 32
"""History rows are keyed ``instance_no << SEQ_BITS | seq`` (schema version 3)."""

SEQ_MASK = (1 << SEQ_BITS) - 1
"""The largest ``seq`` of an instance, and the mask that takes it out of a history key."""


def _v1_initial(conn: sqlite3.Connection) -> None:
    """Instances, their histories and definitions, with the indexes the store's queries use."""
    statements = [
        """CREATE TABLE instances (
            instance_id     TEXT PRIMARY KEY NOT NULL,
            workflow_name   TEXT NOT NULL,
            status          TEXT NOT NULL,
            created_at      REAL NOT NULL,
            updated_at      REAL NOT NULL,
            definition_hash TEXT NOT NULL,
            input           TEXT,
            output          TEXT,
            failure         TEXT,
            custom_status   TEXT,
            properties      TEXT NOT NULL DEFAULT '{}',
            parent_id       TEXT,
            version         INTEGER NOT NULL DEFAULT 0,
            owner           TEXT,
            lease_until     REAL,
            owner_host      TEXT,
            owner_pid       INTEGER
        )""",
        """CREATE TABLE history (
            instance_id TEXT NOT NULL,
            seq         INTEGER NOT NULL,
            type        TEXT NOT NULL,
            at          REAL NOT NULL,
            data        TEXT NOT NULL,
            PRIMARY KEY (instance_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE definitions (
            hash TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            text TEXT NOT NULL
        )""",
        *_INSTANCE_INDEXES,
    ]
    for statement in statements:
        conn.execute(statement)


def _v2_summaries_in_history(conn: sqlite3.Connection) -> None:
    """Cheaper commits of a step: the events of one append share one history row, and
    an append that changes only an instance's summary (its time, status line and
    properties: every step of a running instance) writes it on that row instead of
    rewriting the instance row, so a step's commit writes one row of one table.

    A history row holds ``n`` events numbered ``seq - n + 1 .. seq``; for ``n > 1`` the
    ``type``, ``data`` and ``ats`` columns hold one line per event (compact JSON has no
    raw line breaks). ``summary_seq`` says up to which event the instance row's own
    summary is current; the version is the last event's ``seq``."""
    for statement in (
        "ALTER TABLE history ADD COLUMN n INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE history ADD COLUMN ats TEXT",
        "ALTER TABLE history ADD COLUMN s_updated_at REAL",
        "ALTER TABLE history ADD COLUMN s_custom_status TEXT",
        "ALTER TABLE history ADD COLUMN s_properties TEXT",
        "ALTER TABLE instances ADD COLUMN summary_seq INTEGER NOT NULL DEFAULT 0",
        "UPDATE instances SET summary_seq = version",
    ):
        conn.execute(statement)


_INSTANCE_COLUMNS = (
    "instance_id, workflow_name, status, created_at, updated_at, definition_hash, input, "
    "output, failure, custom_status, properties, parent_id, version, owner, lease_until, "
    "owner_host, owner_pid, summary_seq"
)


def _v3_history_keyed_by_instance_number(conn: sqlite3.Connection) -> None:
    """Cheaper history writes: each instance gets a number (``instance_no``, an alias of
    the row id, so VACUUM keeps it) and a history row is keyed by the integer
    ``instance_no << 32 | seq`` in a rowid table.

    Keyed by ``(instance_id, seq)`` in a WITHOUT ROWID table, an instance's new rows went
    into the middle of the tree (ids are random) and its interior pages held whole
    ~300-byte rows, so most commits of a step rewrote four pages (three leaves and their
    parent). Keyed by number, a running instance's rows go at or near the end of a tree
    whose interior pages hold only integers: a step's commit writes one page, usually,
    and costs about half as much (measured: 35-40 µs down to 17-21 µs with 200-step
    chains). ``instance_no`` and ``seq`` stay readable as virtual columns."""
    for statement in (
        """CREATE TABLE instances_v3 (
            instance_no     INTEGER PRIMARY KEY,
            instance_id     TEXT NOT NULL UNIQUE,
            workflow_name   TEXT NOT NULL,
            status          TEXT NOT NULL,
            created_at      REAL NOT NULL,
            updated_at      REAL NOT NULL,
            definition_hash TEXT NOT NULL,
            input           TEXT,
            output          TEXT,
            failure         TEXT,
            custom_status   TEXT,
            properties      TEXT NOT NULL DEFAULT '{}',
            parent_id       TEXT,
            version         INTEGER NOT NULL DEFAULT 0,
            owner           TEXT,
            lease_until     REAL,
            owner_host      TEXT,
            owner_pid       INTEGER,
            summary_seq     INTEGER NOT NULL DEFAULT 0
        )""",
        f"INSERT INTO instances_v3 (instance_no, {_INSTANCE_COLUMNS}) "
        f"SELECT rowid, {_INSTANCE_COLUMNS} FROM instances ORDER BY rowid",
        f"""CREATE TABLE history_v3 (
            event_key       INTEGER PRIMARY KEY,
            type            TEXT NOT NULL,
            at              REAL NOT NULL,
            data            TEXT NOT NULL,
            n               INTEGER NOT NULL DEFAULT 1,
            ats             TEXT,
            s_updated_at    REAL,
            s_custom_status TEXT,
            s_properties    TEXT,
            instance_no     INTEGER GENERATED ALWAYS AS (event_key >> {SEQ_BITS}) VIRTUAL,
            seq             INTEGER GENERATED ALWAYS AS (event_key & {SEQ_MASK}) VIRTUAL
        )""",
        "INSERT INTO history_v3 (event_key, type, at, data, n, ats, s_updated_at, "
        f"s_custom_status, s_properties) SELECT (i.instance_no << {SEQ_BITS}) + h.seq, "
        "h.type, h.at, h.data, h.n, h.ats, h.s_updated_at, h.s_custom_status, h.s_properties "
        "FROM history h JOIN instances_v3 i ON i.instance_id = h.instance_id "
        "ORDER BY i.instance_no, h.seq",
        "DROP TABLE history",
        "DROP TABLE instances",
        "ALTER TABLE history_v3 RENAME TO history",
        "ALTER TABLE instances_v3 RENAME TO instances",
        *_INSTANCE_INDEXES,
    ):
        conn.execute(statement)


def _v4_last_owner(conn: sqlite3.Connection) -> None:
    """Who ran an instance before its current owner, and until when: a claim moves the
    owner it takes the instance from there (a release too), so that the new owner can
    record which owner left a step unfinished, and readers can say who held it last."""
    for statement in (
        "ALTER TABLE instances ADD COLUMN last_owner TEXT",
        "ALTER TABLE instances ADD COLUMN last_owner_until REAL",
    ):
        conn.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    _v1_initial,
    _v2_summaries_in_history,
    _v3_history_keyed_by_instance_number,
    _v4_last_owner,
)
"""Every schema step, in order; append new ones, never edit a released one."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this wfkit writes."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The version recorded in the database (0 for a new, empty file)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'wfkit_schema'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT version FROM wfkit_schema").fetchone()
    return 0 if row is None else int(row[0])


def migrate(
    conn: sqlite3.Connection, url: str, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring the database up to ``len(migrations)``; returns the version it was at.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Raises
    :class:`StoreError` when the database is newer than ``migrations`` know, or is some
    other program's SQLite file.
    """
    target = len(migrations)
    if schema_version(conn) == target:  # the usual case: no write lock needed
        return target
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(conn)  # again, under the lock: another process may have won
        _check_can_upgrade(conn, url, found, target)
        for step in migrations[found:]:
            step(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS wfkit_schema (version INTEGER NOT NULL)")
        conn.execute("DELETE FROM wfkit_schema")
        conn.execute("INSERT INTO wfkit_schema (version) VALUES (?)", (target,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found


def _check_can_upgrade(conn: sqlite3.Connection, url: str, found: int, target: int) -> None:
    if found > target:
        raise StoreError(
            url,
            f"the database was written by a newer wfkit (schema version {found}; this wfkit "
            f"reads up to version {target}): upgrade wfkit (pip install --upgrade wfkit) "
            "or use another store",
        )
    if found == 0:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if tables:
            raise StoreError(
                url,
                "this SQLite file holds tables but no wfkit schema version: it is not a "
                "wfkit store; use another file name",
            )
