"""How an engine comes to own instances: the plans of their definitions (cached by
hash), new instances it creates or adopts, instances it claims from the store, and
events someone else appended to the ones it owns. A base class of the engine, like
:class:`~wfkit.engine.loop.commits.CommitRecovery`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from wfkit.definition.model import Definition
from wfkit.engine.core import actions as act
from wfkit.engine.core.decide import advance
from wfkit.engine.core.history import HistoryEvent
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import apply, replay
from wfkit.engine.loop.dispatch import Dispatcher
from wfkit.engine.loop.leases import Leases
from wfkit.engine.loop.owned import Owned, OwnedInstances
from wfkit.engine.loop.records import event_rows, load_history
from wfkit.engine.loop.wakeups import CommitSignals
from wfkit.engine.protocols import InstanceRow, Owner, Store
from wfkit.engine.settings import EngineSettings
from wfkit.engine.wire.summary import update_for

__all__ = ["Intake"]

_log = logging.getLogger("wfkit.engine.loop.engine")


class Intake:
    """The engine's taking of instances (see the module)."""

    store: Store
    owner: Owner
    _parse: Callable[[str, str], Definition]
    _plans: dict[str, WorkflowPlan]
    _leases: Leases
    _deciding: threading.RLock
    _owned: OwnedInstances
    _dispatch: Dispatcher
    _signals: CommitSignals
    _limit: int

    @property
    def settings(self) -> EngineSettings:
        raise NotImplementedError

    @property
    def _max_items(self) -> int:
        return self.settings.max_foreach_items

    def _perform(self, instance_id: str, actions: Sequence[act.Action]) -> None:
        raise NotImplementedError

    def _finish(self, instance_id: str) -> None:
        raise NotImplementedError

    def _drop(self, instance_id: str) -> None:
        raise NotImplementedError

    def plan_for(self, definition_hash: str) -> WorkflowPlan:
        """The plan of a stored definition (cached by hash)."""
        plan = self._plans.get(definition_hash)
        if plan is None:
            found = self.store.load_definition(definition_hash)
            if found is None:
                raise LookupError(f"definition {definition_hash[:12]} is not in the store")
            name, text = found
            definition = self._parse(text, f"<{name}@{definition_hash[:12]}>")
            plan = WorkflowPlan.of(definition, self.settings.expression_budget)
            self._plans[definition_hash] = plan
        return plan

    def remember(self, definition: Definition) -> WorkflowPlan:
        """Keep a definition's text in the store and its plan in memory."""
        plan = self._plans.get(definition.content_hash)
        if plan is None:
            self.store.save_definition(definition.content_hash, definition.name, definition.source)
            plan = self._plans[definition.content_hash] = WorkflowPlan.of(
                definition, self.settings.expression_budget
            )
        return plan

    def adopt(self, instance_id: str) -> bool:
        """Claim a (new) instance for this engine now; False when another process has it."""
        if not self._leases.claim_one(instance_id):
            return False
        with self._deciding:
            self._take(instance_id)
        return True

    def create_owned(self, plan: WorkflowPlan, row: InstanceRow, started: HistoryEvent) -> None:
        """Store a new instance already claimed by this engine, with its first decision
        (the first steps scheduled), in one transaction; then run those steps.

        What :meth:`adopt` after ``store.create`` would do, with one commit instead of
        three. Raises what ``store.create`` raises (then nothing is kept).

        Done under the decision lock, like every other decision: a thread starting
        instances beside the step threads that decide made them all slower (200
        instances of a 5-step chain: 190 µs a step without the lock, 135 with it). Step
        results that arrive meanwhile are left for the loop thread, woken after: deciding
        them here made starts slower than the time it saved."""
        with self._deciding:
            state = replay(row.instance_id, [started])
            decision = advance(
                plan, state, [], now=started.at, owned=True,
                max_foreach_items=self._max_items, max_output_bytes=self._limit,
            )  # fmt: skip
            update = update_for(plan, state)
            row.status = update.status or row.status
            row.updated_at = state.updated_at
            row.custom_status = update.custom_status
            row.properties = update.properties or row.properties
            row.output = update.output or row.output  # it may end in its first decision
            row.failure = update.failure or row.failure
            events = [started, *decision.events]
            self.store.create(
                row, event_rows(events), owner=self.owner, lease_seconds=self._leases.seconds
            )
            # hooks first, before a task can change the state
            self._dispatch.notify_hooks(row.instance_id, events, state)
            self._owned.add(row.instance_id, Owned(plan, state, row.status))
            self._perform(row.instance_id, decision.actions)
            if state.is_terminal:
                self._finish(row.instance_id)
        self._signals.status_changed()
        self._owned.wake(if_pending=True)

    def _take(self, instance_id: str) -> None:
        """Load a newly claimed instance and redo what was in flight (at-least-once): the
        tasks that were running are recorded as abandoned by the last owner, then run
        again as their next attempts."""
        row = self.store.get(instance_id)
        if row is None:
            return
        try:
            plan = self.plan_for(row.definition_hash)
        except LookupError:
            _log.error("instance %s: its definition is missing from the store", instance_id)
            return
        state = replay(instance_id, load_history(self.store, instance_id))
        self._owned.add(instance_id, Owned(plan, state, row.status), decide=True)
        # recorded (committed with the next decision) before they run again
        for event in act.abandoned_tasks(plan, state, row.last_owner or "", row.last_owner_until):
            self._owned.queue(instance_id, event, wake=False)
        self._perform(instance_id, act.recovery_actions(plan, state))
        self._dispatch.notify_hooks(instance_id, [], state)  # this engine runs it now

    def _refresh(self, instance_id: str) -> None:
        """Fold events someone else appended, and do what they call for locally."""
        owned = self._owned.get(instance_id)
        if owned is None:
            return
        foreign = load_history(self.store, instance_id, after=owned.state.version)
        # Read after the history: a row newer than it makes our next append conflict (and
        # start over), an equal one tells the status the appender left in the store.
        row = self.store.get(instance_id)
        if row is None:  # purged under us
            self._dispatch.cancel(instance_id)
            self._drop(instance_id)
            return
        owned.stored_status = (
            row.status if row.version == owned.state.version + len(foreign) else ""
        )
        for event in foreign:
            apply(owned.state, event)
        local = [
            a
            for a in act.actions_for(owned.plan, owned.state, foreign)
            if isinstance(a, act.RunTask | act.StartTimer | act.CancelTasks)
        ]
        self._perform(instance_id, local)
        self._dispatch.notify_hooks(instance_id, foreign, owned.state)
        if foreign:
            self._signals.status_changed()
        if owned.state.is_terminal:  # terminated by someone else: nothing left to run
            self._finish(instance_id)
            return
        self._owned.requeue(instance_id, [], wake=False)
