"""What an engine does when a commit does not go through, as a base class of the engine.

Three cases. Someone else appended first (a version conflict): take their events and
decide again. The store failed on its own (busy, a full disk: ``StoreError.retryable``):
reload the states folded ahead of the store and queue their events again, for the loop
to retry after a pause. The store refused what one commit wrote (a value too big for
it): commit the batch's instances one by one, and fail the instance whose own commit is
refused, so that it cannot hold the others back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wfkit.engine.core import actions as act
from wfkit.engine.core.decide import advance
from wfkit.engine.core.history import ExecutionCompleted, Failure
from wfkit.engine.core.outbox import Incoming
from wfkit.engine.core.state import replay
from wfkit.engine.core.status import TERMINAL_STATUSES, RuntimeStatus
from wfkit.engine.loop.dispatch import Dispatcher
from wfkit.engine.loop.owned import OwnedInstances
from wfkit.engine.loop.records import event_rows, load_history
from wfkit.engine.protocols import EventRow, InstanceUpdate, Owner, Store
from wfkit.engine.wire.summary import update_for
from wfkit.errors import StoreError, VersionConflict

__all__ = ["CommitRecovery", "Deferred"]

_TERMINAL = frozenset(status.value for status in TERMINAL_STATUSES)

_log = logging.getLogger("wfkit.engine.loop.engine")

Batch = Sequence[tuple[str, int, Sequence[EventRow], InstanceUpdate]]


@dataclass
class Deferred:
    """Instances a commit one by one left for later: the store failed on its own."""

    skipped: set[str] = field(default_factory=set)
    error: StoreError | None = None


class CommitRecovery:
    """The engine's handling of commits that did not go through (see the module)."""

    store: Store
    owner: Owner
    clock: Callable[[], float]
    _owned: OwnedInstances
    _dispatch: Dispatcher

    def _perform(self, instance_id: str, actions: Sequence[act.Action]) -> None:
        raise NotImplementedError

    def _finish(self, instance_id: str) -> None:
        raise NotImplementedError

    def _drop(self, instance_id: str) -> None:
        raise NotImplementedError

    def _lose(self, instance_id: str) -> None:
        raise NotImplementedError

    def _after_failed_commit(
        self, decided: Sequence[tuple[str, list[Incoming], object, int]]
    ) -> None:
        """The store refused a commit: the states were folded ahead of it. Reload each
        from the store and queue its events again; one that cannot be reloaded is left to
        the lease (another claim redoes what was in flight)."""
        for instance_id, events, _, _ in decided:
            owned = self._owned.get(instance_id)
            if owned is None:
                continue
            try:
                owned.state = replay(instance_id, load_history(self.store, instance_id))
            except Exception:
                _log.exception("instance %s: cannot reload after a failed commit", instance_id)
                self._drop(instance_id)
                continue
            owned.stored_status = ""
            self._owned.requeue(instance_id, events, wake=False)

    def _commit_apart(
        self, batch: Batch, exc: Exception
    ) -> tuple[set[str], dict[str, Exception], Deferred]:
        """A commit of several instances failed for what it wrote (a value too big for
        the store, say), not for the store's condition: commit them one by one, so that
        one instance cannot block the others. Returns the ids that conflicted, those
        whose own commit failed (each is failed, see :meth:`_fail_uncommittable`), and
        those left for later because the store itself failed meanwhile."""
        _log.warning("a commit of %d instance(s) failed (%s); committing them one by one",
                     len(batch), exc)  # fmt: skip
        conflicts: set[str] = set()
        refused: dict[str, Exception] = {}
        later = Deferred()
        for instance_id, version, rows, update in batch:
            if later.error is not None:
                later.skipped.add(instance_id)
                continue
            try:
                conflicts.update(
                    self.store.append_many([(instance_id, version, rows, update)], owner=self.owner)
                )
            except StoreError as own:
                if own.retryable:  # the store itself fails now: this and the rest wait
                    later.error = own
                    later.skipped.add(instance_id)
                else:
                    refused[instance_id] = own
            except Exception as own:
                refused[instance_id] = own
        for instance_id, error in refused.items():
            self._fail_uncommittable(instance_id, error)
        return conflicts, refused, later

    def _fail_uncommittable(self, instance_id: str, exc: Exception) -> None:
        """Fail an instance whose next commit the store refuses for what it holds: from
        its stored state, record it FAILED with a failure that says why (when even that
        cannot be recorded, give it up: it stays as stored, for a later claim)."""
        owned = self._owned.get(instance_id)
        if owned is None:
            return
        self._dispatch.cancel(instance_id)
        reason = str(exc)[:300]
        failure = Failure(
            "CommitFailed",
            f"the store refused to record what this instance did next ({type(exc).__name__}: "
            f"{reason}), so the instance was failed to let the others go on; a step output "
            "too big for the store is the usual cause: lower max_output_bytes",
        )
        try:
            state = replay(instance_id, load_history(self.store, instance_id))
            version = state.version
            failed = RuntimeStatus.FAILED
            ended = ExecutionCompleted(
                at=self.clock(), seq=version + 1, status=failed, failure=failure
            )
            decision = advance(owned.plan, state, [ended], now=self.clock(), owned=True)
            update = update_for(owned.plan, state)
            item = (instance_id, version, event_rows(decision.events), update)
            if self.store.append_many([item], owner=self.owner):
                raise VersionConflict(instance_id, version, None)  # taken over: not ours
        except Exception:  # left to its lease, which runs out: not released, not retried here
            _log.exception("instance %s: cannot record its failure; giving it up", instance_id)
            self._drop(instance_id)
            return
        _log.error("instance %s failed: %s", instance_id, failure.message)
        owned.state = state
        self._perform(instance_id, decision.actions)
        self._dispatch.notify_hooks(instance_id, decision.events, state)
        self._finish(instance_id)

    def _retry_after_conflict(
        self, instance_id: str, events: list[Incoming], committed: int
    ) -> None:
        """Someone appended between our read and our commit: take their events (doing
        what they call for here, such as killing tasks of a terminated instance) and
        decide again with ours."""
        owned = self._owned.get(instance_id)
        if owned is None:
            return
        row = self.store.get(instance_id)
        if row is None or (row.owner != self.owner.id and row.status not in _TERMINAL):
            self._lose(instance_id)  # purged, or taken over: the store refused our append
            return
        history = load_history(self.store, instance_id)
        owned.state = replay(instance_id, history)
        owned.stored_status = ""  # not known after a conflict: send it with the next append
        foreign = [e for e in history if e.seq > committed]
        local = [
            a
            for a in act.actions_for(owned.plan, owned.state, foreign)
            if isinstance(a, act.CancelTasks)
        ]
        self._perform(instance_id, local)
        # hooks hear of every committed event, theirs too (a worker's --json would
        # otherwise have a gap in seq), before ours are decided again and committed
        self._dispatch.notify_hooks(instance_id, foreign, owned.state)
        if owned.state.is_terminal:
            self._finish(instance_id)
            return
        self._owned.requeue(instance_id, events, wake=True)
