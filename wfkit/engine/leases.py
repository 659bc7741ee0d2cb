"""An engine's hold on its instances in the store: claims, leases and version polls.

The engine's loop asks this module, each round, which free instances it has claimed,
which leases it has lost, and which owned instances someone else has written to; the
engine then reacts (loads, cancels, refreshes). Only the store's ownership operations
and their timing live here: nothing in this module decides or runs anything.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from wfkit.engine.protocols import Owner, Store

__all__ = ["EngineSettings", "Leases", "new_owner"]


@dataclass(frozen=True)
class EngineSettings:
    """Timing of leases and polling; the defaults take a crashed owner's work over in
    about ``lease_seconds + claim_interval`` (9 s), at once for a dead local process.

    ``claim_free=False`` makes an engine run only the instances it starts (and their
    children) instead of also claiming the store's free ones: what ``wfkit run`` wants.

    Limits (docs/concepts/limits.md): ``max_output_bytes`` is the largest step output
    (JSON text, UTF-8 bytes), ``max_buffered_events`` the events an instance may hold
    unconsumed. ``store_retry_max`` is the longest pause between two tries of a store
    that keeps failing (the pauses double from ``poll_interval``).
    """

    lease_seconds: float = 8.0
    claim_interval: float = 1.0
    poll_interval: float = 0.05
    workdir: str = "."
    definitions_dir: str = "."
    claim_free: bool = True
    max_output_bytes: int = 16 << 20
    max_buffered_events: int = 10_000
    store_retry_max: float = 5.0


def new_owner() -> Owner:
    """A new owner identity for an engine of this process: ``host:pid:random``."""
    host = socket.gethostname()
    return Owner(f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}", host, os.getpid())


class Leases:
    """When to claim, renew and poll, and the store calls that do it, for one owner.

    Each of :meth:`claimed`, :meth:`lost` and :meth:`changed` does its store call only
    when it is due (its interval has passed since the last one), and otherwise returns
    nothing, so the loop may call all three every round."""

    def __init__(
        self, store: Store, owner: Owner, settings: EngineSettings, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.owner = owner
        self.settings = settings
        self.clock = clock
        self._next_claim = 0.0
        self._next_renew = 0.0
        self._next_poll = 0.0
        self._renewed_at = 0.0  # when the leases were last renewed (or first claimed)

    @property
    def seconds(self) -> float:
        """How long a claim or a renewal holds an instance."""
        return self.settings.lease_seconds

    def next_due(self, polling: bool) -> float:
        """The clock time of the next claim, renewal or (when ``polling``) poll."""
        due = min(self._next_claim, self._next_renew)
        return min(due, self._next_poll) if polling else due

    def surely_held(self) -> bool:
        """Whether the leases were renewed recently enough that none can have expired:
        a thread other than the loop records results only while this holds, so that an
        owner that lost its instances (after a frozen process, a loop that could not
        renew) never records anything for them."""
        return self.clock() <= self._renewed_at + self.settings.lease_seconds * 2 / 3

    def claimed(self, now: float) -> list[str]:
        """The free instances claimed for this owner, when a claim is due."""
        if now < self._next_claim:
            return []
        # jitter, so that workers started together do not claim in lockstep (where one
        # of them would take every free instance, round after round)
        self._next_claim = now + self.settings.claim_interval * random.uniform(0.5, 1.5)
        if not self.settings.claim_free:
            return []
        return self.store.claim(self.owner, self.settings.lease_seconds)

    def claim_one(self, instance_id: str) -> bool:
        """Claim one (new) instance now; False when another owner holds it."""
        return bool(self.store.claim(self.owner, self.settings.lease_seconds, 1, ids=[instance_id]))

    def lost(self, now: float, held: Callable[[], Sequence[str]]) -> list[str]:
        """The instances among ``held()`` whose leases could not be renewed (another
        owner has them now), when a renewal is due; the others are renewed."""
        if now < self._next_renew:
            return []
        self._next_renew = now + self.settings.lease_seconds / 3
        asked = list(held())  # instances may be added meanwhile: judge only these
        if not asked:
            self._renewed_at = self.clock()  # nothing held: later claims start later leases
            return []
        renewing_at = self.clock()
        kept = set(self.store.renew(self.owner, asked, self.settings.lease_seconds))
        self._renewed_at = renewing_at
        return [instance_id for instance_id in asked if instance_id not in kept]

    def changed(self, now: float, versions: Callable[[], Mapping[str, int]]) -> list[str]:
        """The instances whose stored version differs from the one in ``versions()``
        (someone else appended, or purged them), when a poll is due."""
        if now < self._next_poll:
            return []
        self._next_poll = now + self.settings.poll_interval
        known = versions()
        if not known:
            return []
        stored = self.store.versions(list(known))
        return [i for i, version in known.items() if stored.get(i, -1) != version]

    def release(self, instance_ids: Sequence[str]) -> None:
        """Give instances up, so that other owners may claim them at once."""
        if instance_ids:
            self.store.release(self.owner, list(instance_ids))
