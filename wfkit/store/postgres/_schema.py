"""The PostgreSQL store's tables, and the migrations that build and upgrade them.

Every table is named ``wfkit_*`` and lives in the connection's current schema (the first
of its ``search_path`` that exists: ``public`` unless the URL says otherwise, e.g.
``?options=-csearch_path%3Dwfkit``), so a store can share a database with other
programs' tables. The schema carries a version in the one-row table ``wfkit_schema``;
:data:`MIGRATIONS` is the list of steps, applied in order (``MIGRATIONS[n]`` upgrades
version ``n`` to ``n + 1``).

:func:`migrate` runs the steps a database lacks in one transaction that first takes a
transaction-level advisory lock keyed by the schema's name, so two processes opening a
new store at once do not both build it: the second waits, then finds it built. A store
whose version is newer than this wfkit knows is refused with a message naming both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg

from wfkit.engine.core.status import TERMINAL_STATUSES
from wfkit.errors import StoreError

__all__ = ["ACTIVE", "FREE_AT", "MIGRATIONS", "NOW", "SCHEMA_VERSION", "TABLES", "migrate"]

Migration = Callable[[psycopg.Connection], None]
"""One schema step: runs its statements on a connection already inside a transaction."""

_TERMINAL_LIST = ", ".join(f"'{status}'" for status in sorted(TERMINAL_STATUSES))
ACTIVE = f"status NOT IN ({_TERMINAL_LIST})"
"""SQL condition of a non-terminal instance (queries spell it exactly as the indexes do)."""

FREE_AT = "(CASE WHEN owner IS NULL THEN 0 ELSE coalesce(lease_until, 0) END)"
"""SQL: the time from which an instance may be claimed (0: unowned, or owned with no lease)."""

NOW = "extract(epoch FROM now())::float8"
"""SQL: the database's clock, in epoch seconds (the start of the transaction): leases are
timed by it, so that workers on several machines agree on when one runs out."""

TABLES = ("wfkit_instances", "wfkit_history", "wfkit_definitions", "wfkit_schema")
"""Every table of a store."""


def _v1_initial(conn: psycopg.Connection) -> None:
    """Instances (numbered, so that histories are keyed by integers), their histories
    (one row per event) and definitions, with the indexes the store's queries use."""
    statements = [
        # fillfactor leaves room in each page for the new versions of a row that every
        # append writes (heap-only updates, no index writes when no indexed column moves)
        """CREATE TABLE wfkit_instances (
            instance_no      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            instance_id      text COLLATE "C" NOT NULL UNIQUE,
            workflow_name    text NOT NULL,
            status           text NOT NULL,
            created_at       double precision NOT NULL,
            updated_at       double precision NOT NULL,
            definition_hash  text NOT NULL,
            input            text,
            output           text,
            failure          text,
            custom_status    text,
            properties       text NOT NULL DEFAULT '{}',
            parent_id        text,
            version          integer NOT NULL DEFAULT 0,
            owner            text,
            lease_until      double precision,
            owner_host       text,
            owner_pid        integer,
            last_owner       text,
            last_owner_until double precision
        ) WITH (fillfactor = 80)""",
        """CREATE TABLE wfkit_history (
            instance_no bigint NOT NULL REFERENCES wfkit_instances ON DELETE CASCADE,
            seq         integer NOT NULL,
            type        text NOT NULL,
            at          double precision NOT NULL,
            data        text NOT NULL,
            PRIMARY KEY (instance_no, seq)
        )""",
        """CREATE TABLE wfkit_definitions (
            hash text PRIMARY KEY,
            name text NOT NULL,
            text text NOT NULL
        )""",
        # newest-first listing (keyset pagination walks these backwards)
        "CREATE INDEX wfkit_instances_created ON wfkit_instances (created_at, instance_id)",
        "CREATE INDEX wfkit_instances_status ON wfkit_instances (status, created_at, instance_id)",
        "CREATE INDEX wfkit_instances_name ON wfkit_instances "
        "(workflow_name, created_at, instance_id)",
        "CREATE INDEX wfkit_instances_parent ON wfkit_instances (parent_id) "
        "WHERE parent_id IS NOT NULL",
        # claims look at non-terminal instances only: those free from a time on, and the
        # owners of a host (for dead processes)
        f"CREATE INDEX wfkit_instances_free ON wfkit_instances ({FREE_AT}) WHERE {ACTIVE}",
        "CREATE INDEX wfkit_instances_owner ON wfkit_instances (owner_host, owner) "
        f"WHERE owner IS NOT NULL AND {ACTIVE}",
    ]
    for statement in statements:
        conn.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (_v1_initial,)
"""Every schema step, in order; append new ones, never edit a released one."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this wfkit writes."""

_LOCK = "SELECT pg_advisory_xact_lock(hashtext('wfkit schema ' || current_schema()))"


def schema_version(conn: psycopg.Connection) -> int:
    """The version recorded in the current schema (0 when there is no store yet)."""
    found = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'wfkit_schema'"
    ).fetchone()
    if found is None:
        return 0
    row = conn.execute("SELECT max(version) FROM wfkit_schema").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def migrate(
    conn: psycopg.Connection,
    url: str,
    *,
    create: bool = True,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Bring the store up to ``len(migrations)``; returns the version it was at.

    ``conn`` is a fresh connection outside any transaction. Raises :class:`StoreError`
    when the store is newer than ``migrations`` know, when there is none and ``create``
    is False, when no schema is selected, or when wfkit's table names are taken."""
    target = len(migrations)
    with conn.transaction():
        if schema_version(conn) == target:  # the usual case: no lock needed
            return target
    if not create:
        with conn.transaction():
            found = schema_version(conn)
        if found == 0:
            raise StoreError(
                url,
                "there is no wfkit store in this database (no wfkit_schema table in its "
                "current schema); a store is made where the first instance is started",
            )
    with conn.transaction():
        _check_schema_selected(conn, url)
        conn.execute(_LOCK)
        found = schema_version(conn)  # again, under the lock: another process may have won
        _check_can_upgrade(conn, url, found, target)
        for step in migrations[found:]:
            step(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS wfkit_schema (version integer NOT NULL)")
        conn.execute("DELETE FROM wfkit_schema")
        conn.execute("INSERT INTO wfkit_schema (version) VALUES (%s)", (target,))
    return found


def _check_schema_selected(conn: psycopg.Connection, url: str) -> None:
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise StoreError(
            url,
            "no schema of the connection's search_path exists, so there is nowhere to "
            "make the store's tables: create the schema (CREATE SCHEMA ...) or fix the "
            "search_path in the URL's options",
        )


def _check_can_upgrade(conn: psycopg.Connection, url: str, found: int, target: int) -> None:
    if found > target:
        raise StoreError(
            url,
            f"the database was written by a newer wfkit (schema version {found}; this wfkit "
            f"reads up to version {target}): upgrade wfkit (pip install --upgrade wfkit) "
            "or use another store",
        )
    if found == 0:
        taken = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) ORDER BY tablename",
            (list(TABLES),),
        ).fetchall()
        if taken:
            names = ", ".join(row[0] for row in taken)
            raise StoreError(
                url,
                f"this schema holds tables named {names} but no wfkit schema version: they "
                "are not a wfkit store's; use another database or schema (search_path)",
            )
