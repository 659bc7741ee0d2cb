"""An engine's hold on its instances in the store: claims, leases and version polls.

The engine's loop asks this module, each round, which free instances it has claimed,
which leases it has lost, and which owned instances someone else has written to; the
engine then reacts (loads, cancels, refreshes). Only the store's ownership operations
and their timing live here: nothing in this module decides or runs anything.

Leases are renewed by a small thread of their own (:meth:`Leases.start_renewing`), not
by the engine's loop: the loop decides under the engine's decision lock, and a long
decision (an expensive expression, a slow hook) or a busy step thread must not let the
leases lapse, or another worker takes the instances over and runs their steps again.
The renewal thread touches only the store's lease rows, and tells the loop which
instances another owner holds now. An engine that could not renew in time (a process
frozen, or a C call that held the GIL longer than the lease) is fenced off by the store:
its appends name it as the owner and are refused once another owner holds the instance.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence

from wfkit.engine.liveness import this_host
from wfkit.engine.protocols import Owner, Store
from wfkit.engine.settings import EngineSettings

__all__ = ["CLAIM_BATCH", "Leases", "new_owner"]

CLAIM_BATCH = 100
"""How many free instances one claim takes at most (a full batch claims again at once),
and how many an engine holds at most by claiming: a worker takes no more than it can
keep busy, so that the workers sharing a backlog share it instead of the first to claim
taking it all (a backlog of 600 went to one of two workers, the other idle)."""

_log = logging.getLogger(__name__)


def new_owner() -> Owner:
    """A new owner identity for an engine of this process: ``host:pid:random``."""
    host = this_host()
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
        self._next_look = 0.0  # next cheap look for free instances between claims
        self._next_renew = 0.0
        self._next_poll = 0.0
        self._renewed_at = 0.0  # when the leases were last renewed (or first claimed)
        #: Set when a :class:`~wfkit.engine.loop.changes.ChangeWatcher` tells of the
        #: store's commits: then looks and polls run only after :meth:`note_change`, or
        #: every ``safety_poll_interval`` seconds, instead of every poll interval.
        self.notified = False
        self._look_moved = self._poll_moved = True  # the store changed since the last one
        self._next_safety_look = self._next_safety_poll = 0.0
        self._lost: set[str] = set()  # found held by another owner, for the loop to drop
        self._lost_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def seconds(self) -> float:
        """How long a claim or a renewal holds an instance."""
        return self.settings.lease_seconds

    def next_due(self, polling: bool, looking: bool = False) -> float:
        """The clock time of the next claim, (when ``polling``) poll, or (when
        ``looking``, for an engine that claims free instances) look for new ones."""
        due = self._next_claim
        if looking:
            due = min(due, self._due(self._next_look, self._look_moved, self._next_safety_look))
        if polling:
            due = min(due, self._due(self._next_poll, self._poll_moved, self._next_safety_poll))
        return due

    def _due(self, at: float, moved: bool, safety: float) -> float:
        return at if moved or not self.notified else max(at, safety)

    def note_change(self) -> None:
        """The store tells of a commit (any thread): look and poll when they are next due."""
        self._look_moved = self._poll_moved = True

    def _may_look(self, now: float) -> bool:
        """Whether a look for free instances is worth a read: the store changed since the
        last one, or the safety interval passed (or no one tells of changes)."""
        if self.notified and not self._look_moved and now < self._next_safety_look:
            return False
        self._look_moved = False  # before the read: a change during it counts again
        self._next_safety_look = now + self.settings.safety_poll_interval
        return True

    @property
    def renew_interval(self) -> float:
        """Seconds between two renewals: a third of the lease."""
        return self.settings.lease_seconds / 3

    def start_renewing(self, held: Callable[[], Sequence[str]], lost: Callable[[], None]) -> None:
        """Renew the leases of ``held()`` on a thread of their own, every
        :attr:`renew_interval` seconds, until :meth:`stop_renewing`; call ``lost()``
        (from that thread) when some turn out to be held by another owner now (then
        :meth:`take_lost` says which). Idempotent."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._renew_loop, args=(held, lost), name="wfkit-leases", daemon=True
        )
        self._thread.start()

    def stop_renewing(self, timeout: float = 5.0) -> None:
        """Stop the renewal thread (waiting up to ``timeout`` for a renewal under way)."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _renew_loop(self, held: Callable[[], Sequence[str]], lost: Callable[[], None]) -> None:
        while not self._stop.wait(self._renew_delay()):
            try:
                gone = self.lost(self.clock(), held)
            except Exception:  # a busy or broken store: try again at the next interval
                _log.exception("renewing leases failed; retrying")
                continue
            if gone:
                with self._lost_lock:
                    self._lost.update(gone)
                lost()

    def _renew_delay(self) -> float:
        return max(0.0, self._next_renew - self.clock())

    def take_lost(self) -> list[str]:
        """The instances the renewal thread found held by another owner, once each."""
        with self._lost_lock:
            found, self._lost = sorted(self._lost), set()
        return found

    def surely_held(self) -> bool:
        """Whether the leases were renewed recently enough that none can have expired:
        a thread other than the loop records results only while this holds, so that an
        owner that lost its instances (after a frozen process, a loop that could not
        renew) never records anything for them."""
        return self.clock() <= self._renewed_at + self.settings.lease_seconds * 2 / 3

    def claimed(self, now: float, held: int = 0) -> list[str]:
        """The free instances claimed for this owner, when a claim is due: every claim
        interval, at once after a claim that took a full batch, and, for an engine that
        holds nothing, as soon as a look (every poll interval, a cheap read) finds free
        instances, such as those another process has just started. ``held``: how many
        instances the engine holds now; it claims only up to :data:`CLAIM_BATCH` in all."""
        free = self.settings.claim_free
        room = CLAIM_BATCH - held
        if room <= 0:  # busy enough: look again at the next poll, without a read
            self._next_look = max(self._next_look, now + self.settings.poll_interval)
            self._next_claim = max(self._next_claim, now + self.settings.poll_interval)
            return []
        if now < self._next_claim:
            # Only an engine with nothing to do claims new work at once; a busy one waits
            # for its next round, so that idle workers on the same store take what comes
            # (when all look at once, the busiest, woken by its own commits, won it all).
            if held and now >= self._next_look:
                self._next_look = self._next_claim  # busy: no look before the next round
            if held or not free or now < self._next_look or not self._may_look(now):
                return []
            self._next_look = now + self.settings.poll_interval
            if not self.store.has_free():
                return []
        self._next_look = now + self.settings.poll_interval
        # jitter, so that workers started together do not claim in lockstep (where one
        # of them would take every free instance, round after round)
        self._next_claim = now + self.settings.claim_interval * random.uniform(0.5, 1.5)
        if not free:
            return []
        taken = self.store.claim(self.owner, self.settings.lease_seconds, room)
        if len(taken) >= room:
            self._next_claim = now  # a full batch: more may be waiting, claim again now
        return taken

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
        (someone else appended, or purged them), when a poll is due (and, when
        :attr:`notified`, the store changed since the last poll or a safety poll is due)."""
        if now < self._next_poll:
            return []
        if self.notified and not self._poll_moved and now < self._next_safety_poll:
            return []  # nothing was committed since the last poll
        self._poll_moved = False  # before the read: a change during it counts again
        self._next_safety_poll = now + self.settings.safety_poll_interval
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
