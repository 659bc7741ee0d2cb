"""What the engine's threads wait for: durable timers coming due, and commits.

:class:`TimerQueue` holds the durable timers an engine has armed, earliest first: its
loop thread sleeps until the earliest and fires those that are due. :class:`CommitSignals`
lets readers (``Instance.wait``, the CLI's progress display) sleep until the engine
commits something, or until it commits a new status, instead of polling the store.
Both are safe to use from any thread.
"""

from __future__ import annotations

import heapq
import threading
from dataclasses import dataclass, field

__all__ = ["CommitSignals", "TimerQueue"]


@dataclass(order=True)
class _Timer:
    fire_at: float
    instance_id: str = field(compare=False)
    timer_id: int = field(compare=False)


class TimerQueue:
    """Armed timers of owned instances, earliest first."""

    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._lock = threading.Lock()

    def arm(self, fire_at: float, instance_id: str, timer_id: int) -> None:
        """Keep timer ``timer_id`` of an instance until ``fire_at`` (epoch seconds)."""
        with self._lock:
            heapq.heappush(self._heap, _Timer(fire_at, instance_id, timer_id))

    def next_at(self) -> float | None:
        """When the earliest timer fires, or None when none is armed."""
        with self._lock:
            return self._heap[0].fire_at if self._heap else None

    def due(self, now: float) -> list[tuple[str, int]]:
        """Remove and return ``(instance_id, timer_id)`` of every timer due at ``now``."""
        fired = []
        with self._lock:
            while self._heap and self._heap[0].fire_at <= now:
                timer = heapq.heappop(self._heap)
                fired.append((timer.instance_id, timer.timer_id))
        return fired

    def __len__(self) -> int:
        return len(self._heap)


class CommitSignals:
    """Wake-ups for readers: after every commit, and after commits that change a status."""

    def __init__(self) -> None:
        self._committed = threading.Condition()
        self._status_changed = threading.Condition()

    def committed(self, *, status_changed: bool = False) -> None:
        """Say that the engine committed (and whether some instance's status changed)."""
        with self._committed:
            self._committed.notify_all()
        if status_changed:
            self.status_changed()

    def status_changed(self) -> None:
        """Say that some instance's status changed, or that the engine let one go."""
        with self._status_changed:
            self._status_changed.notify_all()

    def wait_commit(self, timeout: float) -> None:
        """Block until the next commit, or ``timeout`` seconds."""
        with self._committed:
            self._committed.wait(timeout)

    def wait_status_change(self, timeout: float) -> None:
        """Block until a status changes, or ``timeout`` seconds."""
        with self._status_changed:
            self._status_changed.wait(timeout)
