"""Who runs an instance now, as readers show it: its owner and the state of its lease.

A RUNNING status says what the history says, not that some process is carrying the run
on: the worker that ran it may have died with a step in flight. :func:`ownership` reads
the owner and lease kept in the store's row (and, for an owner of this machine, whether
its process still exists) and says which of these holds:

* ``owned``: a live owner holds the lease (``owned by host:pid, lease good for 6 s``);
* ``lost``: the owner is gone (its lease ran out, or its process on this host has
  exited); the next worker that looks for work takes the run over;
* ``unclaimed``: no owner: started with ``wfkit start`` and not picked up yet, or given
  up by an engine that stopped; a worker takes it when it looks for work;
* ``ended``: the run is terminal; nobody needs to own it.

``wfkit get``/``list`` (and ``--json``), the Dapr ``get`` (``wfkit.owner*`` properties)
and the notebook views read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.liveness import owner_is_lost, parse_owner
from wfkit.engine.protocols import InstanceRow

__all__ = ["Ownership", "ownership"]


@dataclass(frozen=True)
class Ownership:
    """The owner of an instance and its lease, judged at ``as_of`` (epoch seconds)."""

    state: str
    owner: str | None
    lease_until: float | None
    last_owner: str | None
    last_owner_until: float | None
    as_of: float
    process_gone: bool = False

    @property
    def worker(self) -> str:
        """The owner as ``host:pid`` (its id without the random part), or ""."""
        return _worker(self.owner)

    def describe(self) -> str:
        """One sentence for people, e.g. ``no live owner: the lease of host:42 ran out 5
        min ago; a worker will take it over``; "" for an ended run."""
        if self.state == "owned":
            left = _span((self.lease_until or self.as_of) - self.as_of)
            return f"owned by worker {self.worker}, lease good for {left}"
        if self.state == "lost":
            if self.process_gone:
                return (
                    f"no live owner: worker {self.worker} (its process on this host) has "
                    "exited; a worker on this host takes it over at once"
                )
            ago = _span(self.as_of - (self.lease_until or self.as_of))
            return (
                f"no live owner: the lease of worker {self.worker} ran out {ago} ago; "
                "a worker will take it over"
            )
        if self.state == "unclaimed":
            before = ""
            if self.last_owner:
                ago = _span(self.as_of - (self.last_owner_until or self.as_of))
                before = f" (last run by worker {_worker(self.last_owner)}, until {ago} ago)"
            return f"not claimed: no worker has it{before}; a worker will pick it up"
        return ""

    def short(self) -> str:
        """A few words for a table column: ``host:pid``, ``LOST (lease ran out 5 min
        ago)``, ``LOST (process exited)``, ``unclaimed``; "" for an ended run."""
        if self.state == "owned":
            return self.worker
        if self.state == "lost":
            if self.process_gone:
                return f"LOST ({self.worker} exited)"
            ago = _span(self.as_of - (self.lease_until or self.as_of))
            return f"LOST (lease ran out {ago} ago)"
        return "unclaimed" if self.state == "unclaimed" else ""

    def to_json(self) -> dict[str, object]:
        """What ``wfkit get --json`` prints under ``owner``."""
        return {
            "state": self.state,
            "owner": self.owner,
            "leaseUntil": self.lease_until,
            "processGone": self.process_gone,
            "lastOwner": self.last_owner,
            "lastOwnerUntil": self.last_owner_until,
            "description": self.describe(),
        }

    def properties(self) -> dict[str, str]:
        """The ``wfkit.owner*`` properties of the Dapr ``get``."""
        return {
            "wfkit.owner": self.owner or "",
            "wfkit.owner.state": self.state,
            "wfkit.owner.lease_until": "" if self.lease_until is None else f"{self.lease_until}",
            "wfkit.owner.description": self.describe(),
        }


def ownership(row: InstanceRow, now: float | None = None) -> Ownership:
    """Who runs the instance of ``row`` at ``now`` (default: the clock), and how sure
    that is, by the rule the stores' claims use (:mod:`wfkit.engine.liveness`): an owner
    on this host whose process has exited is ``lost`` at once."""
    as_of = time.time() if now is None else now
    state = "ended"
    gone = False
    if not RuntimeStatus(row.status).is_terminal:
        if row.owner is None:
            state = "unclaimed"
        else:
            host, pid = parse_owner(row.owner) or (None, None)
            expired = row.lease_until is not None and row.lease_until <= as_of
            lost = owner_is_lost(host=host, pid=pid, lease_until=row.lease_until, now=as_of)
            gone = lost and not expired  # lost before its lease's end: its process exited
            state = "lost" if lost else "owned"
    return Ownership(
        state, row.owner, row.lease_until, row.last_owner, row.last_owner_until, as_of, gone
    )


def _worker(owner: str | None) -> str:
    if not owner:
        return ""
    parts = owner.split(":")
    return ":".join(parts[:-1]) if len(parts) >= 3 else owner


def _span(seconds: float) -> str:
    """``2 s``, ``5 min``, ``3 h``, ``2 d``: how long, roughly."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
