"""Claims of the SQLite store: which process runs which instance, and takeover.

An instance is *free* when it is not terminal and either has no owner or its lease has
run out (:data:`FREE_AT` is the time from which it is free). An instance whose owner is
a process of this host that no longer exists is taken too, at once, without waiting for
the lease: the owner's host name and pid are stored with each claim, and judged by the
rule every store and reader shares (:mod:`wfkit.engine.liveness`).

Everything here runs inside the caller's ``BEGIN IMMEDIATE`` transaction, and each row is
updated only if its owner is still the one the query saw, so a claim never takes an
instance from an owner it did not judge free or dead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from wfkit.engine.liveness import owner_process_gone
from wfkit.engine.protocols import Owner
from wfkit.store._sqlite_schema import ACTIVE, FREE_AT

__all__ = ["HAS_FREE", "chunks", "claim"]

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

_Scope = tuple[str, dict[str, object]]  # an SQL condition (" AND ...") and its parameters

HAS_FREE = (
    f"SELECT 1 FROM instances INDEXED BY instances_free WHERE {ACTIVE} AND {FREE_AT} < ? LIMIT 1"
)
"""SQL: a row when some instance is free at time ``?`` (a read of the claims' index)."""

# The owner taken from (if any) becomes the last owner, its hold ending at its lease's end
# or now, whichever is first (a dead process is taken before its lease ends).
_SET_OWNER = (
    "UPDATE instances SET owner = ?1, owner_host = ?2, owner_pid = ?3, lease_until = ?4, "
    "last_owner = coalesce(owner, last_owner), last_owner_until = CASE WHEN owner IS NULL "
    "THEN last_owner_until ELSE min(coalesce(lease_until, ?7), ?7) END "
    f"WHERE instance_id = ?5 AND owner IS ?6 AND {ACTIVE}"
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


def claim(
    conn: sqlite3.Connection,
    owner: Owner,
    *,
    host: str,
    now: float,
    lease_seconds: float,
    limit: int,
    ids: Sequence[str] | None,
) -> list[str]:
    """Take up to ``limit`` instances, oldest first: free ones, then those of dead
    processes of ``host`` (this machine); only ``ids`` when given. Returns the ids taken."""
    scopes = [("", {})] if ids is None else [_scope(chunk) for chunk in chunks(ids)]
    seen: list[tuple[str, str | None]] = []
    for where, params in scopes:
        # Unscoped, the planner would walk every instance by age: name the index.
        source = "instances" if where else "instances INDEXED BY instances_free"
        seen += conn.execute(
            f"SELECT instance_id, owner FROM {source} WHERE {ACTIVE} AND {FREE_AT} < :now"
            f"{where} ORDER BY created_at, instance_id LIMIT :limit",
            {**params, "now": now, "limit": max(limit - len(seen), 0)},
        ).fetchall()
    for where, params in scopes:
        if len(seen) < limit:
            context = {**params, "host": host, "me": owner.id, "now": now}
            seen += _orphans(conn, limit - len(seen), where, context)
    until = now + lease_seconds
    return [
        instance_id
        for instance_id, old_owner in seen
        if conn.execute(
            _SET_OWNER, (owner.id, owner.host, owner.pid, until, instance_id, old_owner, now)
        ).rowcount
    ]


def _orphans(
    conn: sqlite3.Connection, limit: int, where: str, params: dict[str, object]
) -> list[tuple[str, str | None]]:
    """Up to ``limit`` leased instances whose owner is a process of this host that has
    exited (``where`` narrows the search to some ids)."""
    found: list[tuple[str, str | None]] = []
    for dead_owner, pid in conn.execute(_OWNERS_OF_HOST.format(where=where), params).fetchall():
        if len(found) >= limit or not owner_process_gone(str(params["host"]), pid):
            continue
        rows = conn.execute(
            "SELECT instance_id FROM instances WHERE owner_host = :host AND owner = :owner "
            f"AND owner_pid = :pid AND owner IS NOT NULL AND {ACTIVE}{where} "
            f"AND {FREE_AT} >= :now ORDER BY created_at, instance_id LIMIT :limit",
            {**params, "owner": dead_owner, "pid": pid, "limit": limit - len(found)},
        ).fetchall()
        found += [(instance_id, dead_owner) for (instance_id,) in rows]
    return found


def chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    """The distinct ``ids`` in order, in lists short enough for one ``IN (...)``."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


def _scope(ids: list[str]) -> _Scope:
    """The condition "one of these ids", with named parameters."""
    names = [f"id{n}" for n in range(len(ids))]
    condition = f" AND instance_id IN ({', '.join(':' + name for name in names)})"
    return condition, dict(zip(names, ids, strict=True))
