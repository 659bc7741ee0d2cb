"""The PostgreSQL store: one database shared by engines on several machines.

:class:`PostgresStore` implements :class:`wfkit.engine.protocols.Store` and passes the
same contract tests as the SQLite store (``tests/store``). Each method is one
transaction on a pooled connection (:mod:`._connections`); how rows hold instances and
appends are fenced: :mod:`._rows`; claims (``FOR UPDATE SKIP LOCKED``, leases on the
database's clock): :mod:`._claims`; wake-ups (``LISTEN``/``NOTIFY``): :mod:`._changes`;
tables and migrations: :mod:`._schema`; purges and space: :mod:`._space`.

**Clocks.** The protocol is unchanged: times in rows and events (``created_at``,
``updated_at``, an event's ``at``) are the engine's, as it hands them over, while lease
ends (``lease_until``, ``last_owner_until``) and the free test of claims and
:meth:`~PostgresStore.has_free` are the database's ``now()``, so that workers whose
clocks differ agree on when a lease runs out. ``lease_seconds`` is a duration, the same
on every clock.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner, StoreSpace
from wfkit.errors import InstanceAlreadyExists, InstanceNotFound
from wfkit.store._change_signal import ChangeSignal
from wfkit.store.postgres._appends import append_together
from wfkit.store.postgres._changes import ChangeListener, channel_for
from wfkit.store.postgres._claims import HAS_FREE, RELEASE, RENEW, claim
from wfkit.store.postgres._connections import Connections, as_store_error, connect
from wfkit.store.postgres._rows import (
    SELECT_ROW,
    TERMINAL,
    Batch,
    append_batch,
    assemble,
    conflict,
    insert_row,
)
from wfkit.store.postgres._schema import ACTIVE, migrate
from wfkit.store.postgres._space import find_ended, space, vacuum

__all__ = ["PostgresStore"]


def _written(result: object) -> bool:
    return bool(result)


def _always(_result: object) -> bool:
    return True


class PostgresStore:
    """Instances, histories and definitions in a PostgreSQL database.

    ``url`` is a libpq URL (``postgresql://user:password@host:5432/db?...``); the store's
    tables live in the connection's current schema. ``shown`` is how errors name it
    (default: the URL with its password hidden). ``pool_size`` is the most connections
    this store opens at once (one more listens for changes once someone waits).
    ``create=False`` refuses a database that holds no store yet (for readers)."""

    def __init__(
        self, url: str, *, shown: str | None = None, pool_size: int = 8, create: bool = True
    ) -> None:
        if shown is None:
            from wfkit.store.url import redact  # the opener passes it; direct use needs it

            shown = redact(url)
        self.url = shown
        self._connect_url = url  # with its password: never shown
        self._signal = ChangeSignal()
        schema = self._prepare(url, create)
        channel = channel_for(schema)
        self._conns = Connections(url, shown, channel, pool_size, self._signal.changed)
        self._changes = ChangeListener(url, shown, channel, self._signal)

    def _prepare(self, url: str, create: bool) -> str:
        """Connect once, build or upgrade the schema; returns the current schema's name."""
        try:
            with connect(url) as conn:
                migrate(conn, self.url, create=create)
                row = conn.execute("SELECT current_schema()").fetchone()
                conn.rollback()
        except psycopg.Error as exc:
            raise as_store_error(self.url, "opening the store", exc) from exc
        return "" if row is None or row[0] is None else str(row[0])

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- definitions ---------------------------------------------------------------------

    def save_definition(self, definition_hash: str, name: str, text: str) -> None:
        """Keep a definition's text under its hash (a second save of a hash is a no-op)."""
        self._conns.statement(
            "save_definition",
            lambda conn: conn.execute(
                "INSERT INTO wfkit_definitions (hash, name, text) VALUES (%s, %s, %s) "
                "ON CONFLICT (hash) DO NOTHING",
                (definition_hash, name, text),
            ),
        )

    def load_definition(self, definition_hash: str) -> tuple[str, str] | None:
        """``(name, text)`` of a saved definition, or None."""
        found = self._conns.statement(
            "load_definition",
            lambda conn: conn.execute(
                "SELECT name, text FROM wfkit_definitions WHERE hash = %s", (definition_hash,)
            ).fetchone(),
        )
        return None if found is None else (found[0], found[1])

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
        ``owner`` for ``lease_seconds`` (by the database's clock) when one is given.

        A terminal instance with the same id is replaced with its history; an active one
        (also one that another transaction has just made) raises
        :class:`InstanceAlreadyExists`."""
        holder = None if owner is None else (owner.id, owner.host, owner.pid)

        def work(conn: psycopg.Connection) -> None:
            found = conn.execute(
                "SELECT status FROM wfkit_instances WHERE instance_id = %s FOR UPDATE",
                (row.instance_id,),
            ).fetchone()
            if found is not None:
                if found[0] not in TERMINAL:
                    raise InstanceAlreadyExists(row.instance_id)
                conn.execute(  # its history goes with it (ON DELETE CASCADE)
                    "DELETE FROM wfkit_instances WHERE instance_id = %s", (row.instance_id,)
                )
            if insert_row(conn, row, events, holder, lease_seconds) is None:
                raise InstanceAlreadyExists(row.instance_id)

        self._conns.transact("create", work, _always)

    def get(self, instance_id: str) -> InstanceRow | None:
        """The instance, or None."""
        found = self._conns.statement(
            "get",
            lambda conn: conn.execute(
                SELECT_ROW + " WHERE instance_id = %s", (instance_id,)
            ).fetchone(),
        )
        return None if found is None else assemble(found)

    def history(self, instance_id: str, after: int = 0, limit: int | None = None) -> list[EventRow]:
        """Events with ``seq > after``, in order; the first ``limit`` of them only when
        ``limit`` is given."""
        page = None if limit is None else min(max(limit, 0), 2**63 - 1)  # a LIMIT is a bigint
        rows = self._conns.statement(
            "history",
            lambda conn: conn.execute(
                "SELECT h.seq, h.type, h.at, h.data FROM wfkit_history h JOIN wfkit_instances "
                "i ON i.instance_no = h.instance_no WHERE i.instance_id = %s AND h.seq > %s "
                "ORDER BY h.seq LIMIT %s",
                (instance_id, max(after, 0), page),
            ).fetchall(),
        )
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

        Raises :class:`VersionConflict` (``actual`` None when the instance is gone)."""
        (version,) = self._append([(instance_id, expected_version, events, update)], None)
        if version is None:
            raise self._conns.statement(
                "append", lambda conn: conflict(conn, instance_id, expected_version)
            )
        return version

    def append_many(self, batch: Batch, *, owner: Owner | None = None) -> list[str]:
        """Several appends in one transaction; returns the ids that conflicted (not
        written; the others are). With ``owner``, an instance it does not hold now
        conflicts too. An error other than a conflict writes nothing."""
        if not batch:
            return []
        versions = self._append(batch, owner.id if owner is not None else None)
        return [item[0] for item, got in zip(batch, versions, strict=True) if got is None]

    def _append(self, batch: Batch, holder: str | None) -> list[int | None]:
        """The new version of each append of ``batch``, or None where it conflicted: one
        statement (:mod:`._appends`), or, when an id appears twice, one transaction."""
        if len({item[0] for item in batch}) == len(batch):
            channel = self._conns.channel
            return self._conns.statement(
                "append",
                lambda conn: append_together(conn, batch, holder, channel),
                lambda versions: any(got is not None for got in versions),
            )
        return self._conns.transact(
            "append",
            lambda conn: append_batch(conn, batch, holder),
            lambda versions: any(got is not None for got in versions),
        )

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
            where.append("status = ANY(%s)")
            params.append([str(value) for value in status])
        if name is not None:
            where.append("workflow_name = %s")
            params.append(name)

        def work(conn: psycopg.Connection) -> list[InstanceRow]:
            if after is not None:
                mark = conn.execute(
                    "SELECT created_at, instance_id FROM wfkit_instances WHERE instance_id = %s",
                    (after,),
                ).fetchone()
                if mark is None:
                    raise InstanceNotFound(after)
            else:
                mark = after_key
            if mark is not None:
                where.append("(created_at, instance_id) < (%s, %s)")
                params.extend([float(mark[0]), str(mark[1])])
            query = SELECT_ROW + (" WHERE " + " AND ".join(where) if where else "")
            query += " ORDER BY created_at DESC, instance_id DESC LIMIT %s"
            page = min(max(limit, 0), 2**63 - 1)  # a LIMIT is a bigint
            rows = conn.execute(query, [*params, page]).fetchall()
            return [assemble(found) for found in rows]

        return self._conns.transact("list_instances", work)

    def children(self, instance_id: str) -> list[str]:
        """Ids of the instances whose parent is ``instance_id``, oldest first."""
        rows = self._conns.statement(
            "children",
            lambda conn: conn.execute(
                "SELECT instance_id FROM wfkit_instances WHERE parent_id = %s "
                "ORDER BY created_at, instance_id",
                (instance_id,),
            ).fetchall(),
        )
        return [found[0] for found in rows]

    def purge(self, instance_ids: Sequence[str]) -> int:
        """Delete terminal instances and their histories; returns how many were deleted.
        An instance that is not terminal is left alone, in the same statement."""
        keys = list(dict.fromkeys(instance_ids))
        if not keys:
            return 0
        return self._conns.transact(
            "purge",
            lambda conn: (
                conn.execute(
                    f"DELETE FROM wfkit_instances WHERE instance_id = ANY(%s) AND NOT ({ACTIVE})",
                    (keys,),
                ).rowcount
            ),
            _written,
        )

    def versions(self, instance_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each instance that exists (unknown ids are left out)."""
        keys = list(dict.fromkeys(instance_ids))
        if not keys:
            return {}
        rows = self._conns.statement(
            "versions",
            lambda conn: conn.execute(
                "SELECT instance_id, version FROM wfkit_instances WHERE instance_id = ANY(%s)",
                (keys,),
            ).fetchall(),
        )
        return {instance_id: int(version) for instance_id, version in rows}

    # -- space -----------------------------------------------------------------------------

    def find_ended(
        self, *, statuses: Sequence[str] = (), before: float, limit: int = 500, after: int = 0
    ) -> tuple[list[str], int]:
        """Up to about ``limit`` ids of terminal instances with one of ``statuses`` (any
        terminal one when empty) last updated before ``before`` (epoch seconds), from
        position ``after`` (0 at first); returns them and the position to go on from, 0
        when the walk is over. Each call reads a bounded stretch of the table."""
        return self._conns.transact(
            "find_ended",
            lambda conn: find_ended(conn, list(statuses), before, max(limit, 1), after),
        )

    def reclaim(self, *, full: bool = False) -> StoreSpace:
        """VACUUM the store's tables (``full``: VACUUM FULL, which gives all free space
        back to the disk but locks the tables while it runs); returns the space after."""
        try:
            with connect(self._connect_url, autocommit=True) as conn:
                vacuum(conn, full=full)
        except psycopg.Error as exc:
            raise as_store_error(self.url, "reclaim", exc) from exc
        return self.space()

    def space(self) -> StoreSpace:
        """How big the store's tables are, and an estimate of their free space."""
        return self._conns.transact("space", space)

    # -- ownership -----------------------------------------------------------------------

    def claim(
        self,
        owner: Owner,
        lease_seconds: float,
        limit: int = 100,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Take up to ``limit`` non-terminal instances, oldest first: unowned ones, those
        whose lease has run out by the database's clock, then those owned by an exited
        process of this host. With ``ids``, only those are considered. Returns the ids
        newly claimed."""
        return self._conns.transact(
            "claim",
            lambda conn: claim(conn, owner, lease_seconds=lease_seconds, limit=limit, ids=ids),
            _written,
        )

    def has_free(self) -> bool:
        """Whether a non-terminal instance is unowned or its lease has run out."""
        found = self._conns.statement("has_free", lambda conn: conn.execute(HAS_FREE).fetchone())
        return bool(found and found[0])

    def renew(self, owner: Owner, instance_ids: Sequence[str], lease_seconds: float) -> list[str]:
        """Extend the leases ``owner`` still holds; returns those ids (in the given order)."""
        keys = list(dict.fromkeys(instance_ids))
        if not keys:
            return []
        params = {"ids": keys, "owner": owner.id, "seconds": lease_seconds}
        held = self._conns.statement(
            "renew", lambda conn: {found[0] for found in conn.execute(RENEW, params)}
        )
        return [instance_id for instance_id in keys if instance_id in held]

    def release(self, owner: Owner, instance_ids: Sequence[str]) -> None:
        """Give up instances ``owner`` still holds (others are left alone); it becomes
        their last owner, until now."""
        keys = list(dict.fromkeys(instance_ids))
        if keys:
            params = {"ids": keys, "owner": owner.id}
            self._conns.transact(
                "release", lambda conn: conn.execute(RELEASE, params).fetchall(), _written
            )

    def wait_for_change(self, timeout: float, after: int | None = None) -> int:
        """A change token now (``after`` None), or once something was committed since
        ``after`` was returned: at once for commits of this store object, as soon as
        PostgreSQL delivers the ``NOTIFY`` for others' (any process, any machine); or
        after ``timeout`` seconds, returning ``after`` unchanged."""
        return self._changes.wait_for_change(timeout, after)

    def close(self) -> None:
        """Close every connection (idempotent); the store cannot be used afterwards."""
        self._changes.close(wake=lambda: self._conns.transact("close", lambda c: None, _always))
        self._conns.close()
