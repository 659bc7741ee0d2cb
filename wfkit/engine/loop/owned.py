"""The instances an engine owns, and the events queued for them.

:class:`OwnedInstances` is the table the engine's threads share: which instances this
engine runs (with the state it keeps of each), the events queued for each until the
next decision, and the instances whose history someone else appended to. One lock
guards all three, held only briefly; its condition wakes the engine's loop thread when
there is work. Reads of single entries (``get``, ``in``) take no lock: a dict lookup is
atomic, and a caller that needs more certainty re-checks under the lock (``queue``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wfkit.engine.core.outbox import Incoming
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState

__all__ = ["Owned", "OwnedInstances"]


@dataclass
class Owned:
    """What an engine keeps of an instance it runs."""

    plan: WorkflowPlan
    state: InstanceState
    stored_status: str = ""  # the status in the store's row, when known ("" when not)
    ran_task: bool = False  # a task of it has run here (its call modules were checked)


class OwnedInstances:
    """Owned instances, their queued events and reload marks; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._items: dict[str, Owned] = {}
        self._pending: dict[str, list[Incoming]] = {}
        self._reload: set[str] = set()
        self.closed = False

    # -- the table ------------------------------------------------------------------------

    def get(self, instance_id: str) -> Owned | None:
        return self._items.get(instance_id)

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._items

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def ids(self) -> list[str]:
        """The owned instance ids, as of now."""
        return list(self._items)

    def entries(self) -> list[tuple[str, Owned]]:
        """The owned instances, as of now."""
        return list(self._items.items())

    def add(self, instance_id: str, owned: Owned, *, decide: bool = False) -> None:
        """Own an instance; ``decide`` queues a decision for it (with no new event)."""
        with self._lock:
            self._items[instance_id] = owned
            if decide:
                self._pending.setdefault(instance_id, [])
                self._wake.notify()

    def remove(self, instance_id: str) -> None:
        """Forget an instance and whatever was queued for it."""
        with self._lock:
            self._items.pop(instance_id, None)
            self._pending.pop(instance_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._pending.clear()
            self._reload.clear()

    # -- the queues -----------------------------------------------------------------------

    def queue(self, instance_id: str, event: Incoming, *, wake: bool = True) -> bool:
        """Queue an event for an owned instance; False (and nothing queued) when not owned.
        ``wake=False`` leaves the loop asleep, for a caller that decides itself next."""
        with self._lock:
            if instance_id not in self._items:
                return False
            self._pending.setdefault(instance_id, []).append(event)
            if wake:
                self._wake.notify()
        return True

    def requeue(self, instance_id: str, events: Sequence[Incoming], *, wake: bool) -> None:
        """Put events back at the front of an instance's queue (or just queue a decision
        when ``events`` is empty): they were not committed and are decided again."""
        with self._lock:
            self._pending.setdefault(instance_id, [])[:0] = events
            if wake:
                self._wake.notify()

    def take_pending(self) -> dict[str, list[Incoming]]:
        """Everything queued, leaving the queues empty."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def mark_reload(self, instance_id: str) -> None:
        """Someone else appended to an owned instance's history: reload it soon."""
        with self._lock:
            if instance_id in self._items:
                self._reload.add(instance_id)
                self._wake.notify()

    def take_reload(self) -> set[str]:
        """The instances marked for reloading, clearing the marks."""
        with self._lock:
            reload, self._reload = self._reload, set()
        return reload

    # -- waking the loop ------------------------------------------------------------------

    def wake(self, *, if_pending: bool = False) -> None:
        """Wake the loop thread (only when something is queued, with ``if_pending``)."""
        with self._lock:
            if not if_pending or self._pending:
                self._wake.notify()

    def wait_for_work(self, timeout: Callable[[], float]) -> bool:
        """Sleep until something is queued or marked, or ``timeout()`` seconds pass;
        False once :meth:`close` was called."""
        with self._lock:
            if self.closed:
                return False
            if not (self._pending or self._reload):
                self._wake.wait(timeout())
            return not self.closed

    def close(self) -> None:
        """Make :meth:`wait_for_work` return False, now and from now on."""
        with self._lock:
            self.closed = True
            self._wake.notify_all()
