"""Claims of the PostgreSQL store: which worker runs which instance, and takeover.

An instance is *free* when it is not terminal and either has no owner or its lease has
run out by the database's clock (:data:`NOW`): workers on several machines, whose clocks
differ, agree on it. Claims pick free rows with ``FOR UPDATE SKIP LOCKED``, so workers
claiming at once take different instances instead of waiting for each other, and the
conditions are checked again on the locked row. An instance whose owner is a process
of this host that has exited is taken at once too, by the rule every store shares
(:mod:`wfkit.engine.liveness`): only the machine that ran a process can tell it is gone.

Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from wfkit.engine.liveness import owner_process_gone, this_host
from wfkit.engine.protocols import Owner
from wfkit.store.postgres._schema import ACTIVE, FREE_AT, NOW

__all__ = ["HAS_FREE", "RELEASE", "RENEW", "claim"]

HAS_FREE = f"SELECT EXISTS (SELECT 1 FROM wfkit_instances WHERE {ACTIVE} AND {FREE_AT} < {NOW})"
"""SQL: whether some instance is free now (a read of the claims' index)."""

# Rows are locked in id order first, so that two transactions renewing or releasing
# overlapping sets never wait for each other in a circle.
_HELD = (
    "SELECT instance_no FROM wfkit_instances WHERE instance_id = ANY(%(ids)s) "
    "AND owner = %(owner)s ORDER BY instance_id FOR UPDATE"
)
RENEW = (
    f"UPDATE wfkit_instances SET lease_until = {NOW} + %(seconds)s "
    f"WHERE instance_no IN ({_HELD}) RETURNING instance_id"
)
"""SQL: extend the leases ``owner`` holds among ``ids``; returns those ids."""

RELEASE = (
    "UPDATE wfkit_instances SET owner = NULL, owner_host = NULL, owner_pid = NULL, "
    f"lease_until = NULL, last_owner = owner, last_owner_until = {NOW} "
    f"WHERE instance_no IN ({_HELD}) RETURNING instance_id"
)
"""SQL: give up the instances ``owner`` holds among ``ids``; it becomes their last owner."""

# The owner taken from (if any) becomes the last owner, its hold ending at its lease's end
# or now, whichever is first (a dead process is taken before its lease ends).
_TAKE = (
    "WITH taken AS (SELECT instance_no FROM wfkit_instances WHERE {ACTIVE} AND {which}{ids} "
    "ORDER BY created_at, instance_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    "UPDATE wfkit_instances i SET owner = %(owner)s, owner_host = %(host)s, "
    "owner_pid = %(pid)s, lease_until = {NOW} + %(seconds)s, "
    "last_owner = coalesce(i.owner, i.last_owner), last_owner_until = CASE WHEN i.owner "
    "IS NULL THEN i.last_owner_until ELSE least(coalesce(i.lease_until, {NOW}), {NOW}) END "
    "FROM taken WHERE i.instance_no = taken.instance_no RETURNING i.created_at, i.instance_id"
)
_FREE = f"{FREE_AT} < {NOW}"
_OF_DEAD = f"owner = %(dead)s AND owner_pid = %(dead_pid)s AND {FREE_AT} >= {NOW}"
_IDS = " AND instance_id = ANY(%(ids)s)"
_OWNERS_OF_HOST = (
    "SELECT DISTINCT owner, owner_pid FROM wfkit_instances WHERE owner_host = %(here)s "
    f"AND owner IS NOT NULL AND {ACTIVE} AND owner <> %(owner)s{{ids}} ORDER BY owner"
)


def claim(
    conn: psycopg.Connection,
    owner: Owner,
    *,
    lease_seconds: float,
    limit: int,
    ids: Sequence[str] | None,
) -> list[str]:
    """Take up to ``limit`` instances, oldest first: free ones, then those of exited
    processes of this host; only ``ids`` when given. Returns the ids taken."""
    if limit <= 0 or (ids is not None and not ids):
        return []
    params: dict[str, object] = {
        "owner": owner.id, "host": owner.host, "pid": owner.pid, "seconds": lease_seconds,
        "ids": list(dict.fromkeys(ids or ())), "limit": limit, "here": this_host(),
    }  # fmt: skip
    scope = "" if ids is None else _IDS
    taken = _take(conn, _FREE, scope, params)
    if len(taken) < limit:
        owners = conn.execute(_OWNERS_OF_HOST.format(ids=scope), params).fetchall()
        for dead, pid in owners:
            if len(taken) >= limit:
                break
            if owner_process_gone(str(params["here"]), pid):
                more = {**params, "dead": dead, "dead_pid": pid, "limit": limit - len(taken)}
                taken += _take(conn, _OF_DEAD, scope, more)
    return taken


def _take(conn: psycopg.Connection, which: str, scope: str, params: dict[str, object]) -> list[str]:
    sql = _TAKE.format(ACTIVE=ACTIVE, which=which, ids=scope, NOW=NOW)
    return [instance_id for _, instance_id in sorted(conn.execute(sql, params).fetchall())]
