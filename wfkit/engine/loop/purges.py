"""Deleting ended instances: one (and its children), or every one that matches a
filter, in batches, and giving the space back to the disk. A base class of
:class:`~wfkit.engine.loop.operations.Workflows`."""

from __future__ import annotations

from collections.abc import Sequence

from wfkit.common.suggest import did_you_mean
from wfkit.engine.core.status import Operation, RuntimeStatus, check_transition
from wfkit.engine.loop.engine import Engine
from wfkit.engine.protocols import InstanceRow, Store, StoreSpace
from wfkit.errors import InvalidPurgeFilter, UnknownStatus

__all__ = ["Purges", "runtime_status"]


class Purges:
    """Purge and reclaim (see the module)."""

    engine: Engine
    store: Store

    def _row(self, instance_id: str) -> InstanceRow:
        raise NotImplementedError

    def purge(self, instance_id: str, *, recursive: bool = True) -> int:
        """Delete a terminal instance's state and history (and its children's)."""
        row = self._row(instance_id)
        check_transition(RuntimeStatus(row.status), Operation.PURGE, instance_id)
        ids = [instance_id]
        if recursive:
            ids += self._descendants(instance_id)
        purged = self.store.purge(ids)
        if purged:
            self.store.reclaim()
        return purged

    def purge_ended(
        self,
        *,
        status: Sequence[str] = (),
        before: float | None = None,
        recursive: bool = True,
        batch: int = 500,
    ) -> int:
        """Purge every terminal instance with one of ``status`` (any terminal one when
        empty) last updated before ``before`` (epoch seconds; None: now), and their
        children when ``recursive``; returns how many instances were deleted.

        Linear in the instances stored: the store is walked once, in batches of
        ``batch`` instances, each purged in its own short transaction (workers go on
        between them), and an instance that is not terminal is never deleted. The space
        freed is then given back to the disk (``store.reclaim``)."""
        wanted = [runtime_status(s) for s in status]
        active = [s for s in wanted if not RuntimeStatus(s).is_terminal]
        if active:
            raise InvalidPurgeFilter(active)
        until = self.engine.clock() if before is None else before
        purged, position = 0, 0
        while True:
            ids, position = self.store.find_ended(
                statuses=wanted, before=until, limit=batch, after=position
            )
            if recursive:
                ids += [child for found in ids for child in self._descendants(found)]
            if ids:
                purged += self.store.purge(ids)
            if position == 0:
                break
        if purged:
            self.store.reclaim()
        return purged

    def reclaim(self, *, full: bool = False) -> StoreSpace:
        """Give the store's free space back to the disk; ``full`` rebuilds the file (a
        store made by an earlier wfkit needs that once). Returns the space after."""
        return self.store.reclaim(full=full)

    def _descendants(self, instance_id: str) -> list[str]:
        found: list[str] = []
        for child in self.store.children(instance_id):
            found += [child, *self._descendants(child)]
        return found


def runtime_status(text: str) -> str:
    try:
        return RuntimeStatus(text.upper()).value
    except ValueError:
        known = [s.value for s in RuntimeStatus]
        raise UnknownStatus(text, known, did_you_mean(text.upper(), known)) from None
