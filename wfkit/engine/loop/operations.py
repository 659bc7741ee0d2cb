"""Lifecycle operations on instances: start, raise_event, pause, resume, terminate, purge.

Each one checks the transition table, then appends one history event with an optimistic
version check (retrying when someone else appended first), so it works the same from the
owning process, another thread, or another process with no engine running at all. The
owner folds the event and reacts. This module also carries out the actions that reach
beyond one instance: starting children, terminating them, telling parents.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from wfkit.common import jsontext
from wfkit.common.suggest import did_you_mean
from wfkit.definition.model import Definition
from wfkit.engine.core import pinning
from wfkit.engine.core.history import (
    BreakpointSet,
    EventRaised,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    HistoryEvent,
)
from wfkit.engine.core.inputs import check_instance_id, prepare_input
from wfkit.engine.core.state import InstanceState, apply, replay
from wfkit.engine.core.status import Operation, Outcome, RuntimeStatus, check_transition
from wfkit.engine.loop.engine import Engine
from wfkit.engine.loop.event_names import check_event_name, unheard_event
from wfkit.engine.loop.family import Family, stamped
from wfkit.engine.loop.purges import Purges, runtime_status
from wfkit.engine.loop.records import event_rows, load_history
from wfkit.engine.protocols import InstanceRow, Store
from wfkit.engine.wire.summary import buffered_events, dumps, update_after, update_for
from wfkit.errors import (
    EventBufferFull,
    InstanceBusy,
    InstanceNotFound,
    InvalidEventData,
    OutputTooLarge,
    UnknownStep,
    VersionConflict,
    WfkitError,
    short,
)

__all__ = ["Workflows"]

_RETRIES = 200


class Workflows(Purges, Family):
    """The operations of the Workflow contract over an :class:`Engine` and its store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store: Store = engine.store
        engine.on_action = self._on_action

    # -- start ----------------------------------------------------------------------------

    def start(
        self,
        name: str,
        input: Any = None,
        instance_id: str = "",
        *,
        parent_id: str | None = None,
        parent_step: str | None = None,
        definition: Definition | None = None,
        pinned: Mapping[str, str] | None = None,
    ) -> str:
        """Start an instance of workflow ``name``; returns its id.

        The input is checked against the definition's ``inputs`` (defaults applied)
        before anything is stored. The instance is PENDING until its first step is
        scheduled, which this process's engine does at once when it is running.

        The run is pinned to its definition and to those of every workflow it can
        start, looked up now (or, for a child, taken from its parent's ``pinned`` map).
        """
        if parent_id is None:
            instance_id = check_instance_id(instance_id)
        definition = definition or self.engine.resolve(name)
        values = prepare_input(definition, input, instance_id)
        plan = self.engine.remember(definition)
        engine = self.engine
        children = pinning.pin(
            definition,
            pinned,
            resolve=lambda child: engine.remember(engine.resolve(child)).definition,
            load=lambda definition_hash: engine.plan_for(definition_hash).definition,
        )
        now = self.engine.clock()
        started = ExecutionStarted(
            at=now,
            seq=1,
            name=definition.name,
            input=values,
            definition_hash=definition.content_hash,
            parent_id=parent_id,
            parent_step=parent_step,
            pinned=children or None,
        )
        row = InstanceRow(
            instance_id=instance_id,
            workflow_name=definition.name,
            status=RuntimeStatus.PENDING.value,
            created_at=now,
            updated_at=now,
            definition_hash=definition.content_hash,
            input=dumps(values),
            parent_id=parent_id,
            version=1,
        )
        if self.engine.running:  # stored with its first decision, claimed by the engine
            self.engine.create_owned(plan, row, started)
            return instance_id
        update = update_for(plan, replay(instance_id, [started]))
        row.custom_status = update.custom_status
        row.properties = update.properties or "{}"
        self.store.create(row, event_rows([started]))
        return instance_id

    # -- the other lifecycle operations ---------------------------------------------------

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> Outcome:
        """Send event ``name`` (case-insensitive) with JSON data; buffered until a wait
        step for it consumes it. Dropped (NO_OP) when the instance has finished.

        Data that is not JSON raises :class:`InvalidEventData` and sends nothing (NaN
        would otherwise be stored as null); so does a name no wait step could take
        (:class:`InvalidEventName`). A name that the instance's workflow has no wait
        step for is sent, with an :class:`UnknownEventWarning` (``warnings.warn``).
        Data over the output size limit (it becomes a wait step's output) raises
        :class:`OutputTooLarge`, and an instance that holds as many unconsumed events as
        allowed :class:`EventBufferFull`. The append costs the same whatever the
        history's length: the row's summary says what it needs."""
        check_event_name(instance_id, name)
        text, problem = jsontext.json_problem(data, "data")
        if text is None:
            raise InvalidEventData(instance_id, name, problem)
        limit = self.engine.settings.max_output_bytes
        size = jsontext.encoded_size(data)
        if size > limit:
            what = f"the data of event {name[:80]!r}, which a wait step would get as its output,"
            raise OutputTooLarge(instance_id, "", what, size, limit)
        event = EventRaised(name=name.lower(), data=data)
        most = self.engine.settings.max_buffered_events

        def check(row: InstanceRow) -> None:
            held = buffered_events(row)
            if held is not None and held >= most:
                raise EventBufferFull(instance_id, name, most)

        outcome = self._append(
            instance_id, Operation.RAISE_EVENT, lambda now: stamped(event, now), check=check
        )
        if outcome is Outcome.APPLY:
            warning = unheard_event(self.engine, instance_id, event.name)
            if warning is not None:
                warnings.warn(warning, stacklevel=3)  # the caller of Instance.raise_event
        return outcome

    def pause(self, instance_id: str) -> Outcome:
        """Suspend at once; running steps finish, nothing new starts until resume."""
        return self._append(
            instance_id, Operation.PAUSE, lambda now: ExecutionSuspended(at=now, reason="pause")
        )

    def resume(self, instance_id: str, *, single_step: bool = False) -> Outcome:
        """Go on after a pause or breakpoint; ``single_step`` runs the next ready steps
        and pauses again."""
        return self._append(
            instance_id,
            Operation.RESUME,
            lambda now: ExecutionResumed(at=now, single_step=single_step),
        )

    def terminate(self, instance_id: str, reason: str = "", *, recursive: bool = True) -> Outcome:
        """Stop the instance (TERMINATED); running work is killed or abandoned."""
        outcome = self._append(
            instance_id,
            Operation.TERMINATE,
            lambda now: ExecutionTerminated(at=now, reason=reason, recursive=recursive),
        )
        if outcome is Outcome.APPLY:
            self.engine.runner.cancel(instance_id)
            if recursive:
                for child in self.store.children(instance_id):
                    with contextlib.suppress(WfkitError):
                        self.terminate(child, reason or "parent terminated")
            self._tell_parent(instance_id)
        return outcome

    def retry(self, instance_id: str, reason: str = "") -> Outcome:
        """Run a FAILED instance again from its failed steps.

        Failed and canceled steps (and the ``finally`` steps) go back to pending and run
        with the code as it is now; completed and skipped steps keep their recorded
        outputs. The instance keeps its id, history and pinned definition.
        """
        row = self._row(instance_id)
        plan = self.engine.plan_for(row.definition_hash)
        state = replay(instance_id, load_history(self.store, instance_id))
        again = [
            sid
            for sid in (*plan.main, *plan.final)
            if plan.is_final(sid) or state.step_status(sid).value in ("failed", "canceled")
        ]
        outcome = self._append(
            instance_id,
            Operation.RETRY,
            lambda now: ExecutionRewound(at=now, steps=again, reason=reason),
        )
        if outcome is Outcome.APPLY and self.engine.running:
            self.engine.adopt(instance_id)
        return outcome

    def break_before(self, instance_id: str, step: str, *, enabled: bool = True) -> Outcome:
        """Set (or clear) a breakpoint before ``step``: the run suspends itself there."""
        row = self._row(instance_id)
        plan = self.engine.plan_for(row.definition_hash)
        if step not in plan.order:
            hint = did_you_mean(step, plan.order) or f"steps: {', '.join(plan.order)}"
            raise UnknownStep(instance_id, step, hint)
        return self._append(
            instance_id,
            Operation.BREAK,
            lambda now: BreakpointSet(at=now, step=step, enabled=enabled),
        )

    # -- reading --------------------------------------------------------------------------

    def get(self, instance_id: str) -> InstanceRow:
        """The stored instance; :class:`InstanceNotFound` when there is none."""
        return self._row(instance_id)

    def history(
        self, instance_id: str, after: int = 0, limit: int | None = None
    ) -> list[HistoryEvent]:
        """The whole history, oldest first; with ``after``, the events after that
        ``seq`` only; with ``limit``, the first ``limit`` of those (no more is read)."""
        self._row(instance_id)
        return load_history(self.store, instance_id, after=after, limit=limit)

    def state(self, instance_id: str, since: InstanceState | None = None) -> InstanceState:
        """The instance's state, replayed from its history.

        With ``since``, a state of this instance that this returned before, only the
        events recorded after it are read and folded into it (in place; it is returned):
        following a run then costs as much as its history once, not once per look. An
        instance replaced since (purged and started again under its id) is replayed."""
        row = self._row(instance_id)
        if since is None or since.created_at != row.created_at or row.version < since.version:
            return replay(instance_id, load_history(self.store, instance_id))
        if row.version == since.version:
            return since  # nothing new: no history read
        for event in load_history(self.store, instance_id, after=since.version):
            apply(since, event)
        since.derived = None  # the counters kept for deciding: rebuilt when next asked
        return since

    def wait(
        self,
        instance_id: str,
        timeout: float | None = None,
        until: Callable[[InstanceRow], bool] | None = None,
    ) -> InstanceRow:
        """Block until the instance is terminal (or ``until(row)`` holds); returns the row.

        Raises :class:`TimeoutError` after ``timeout`` seconds."""
        done = until or (lambda row: RuntimeStatus(row.status).is_terminal)
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: str | None = None
        token = self.store.wait_for_change(0)  # before the first read
        while True:
            known = self.engine.known_status(instance_id)
            if seen is None or known is None or known != seen:
                row = self._row(instance_id)  # read the store only when something changed
                if done(row):
                    return row
                seen = self.engine.known_status(instance_id) and row.status
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(
                    f"workflow {short(instance_id)!r} is still {seen} after {timeout} s"
                )
            if known is not None:
                self.engine.wait_status_change(0.05 if left is None else min(0.05, left))
            else:  # run elsewhere: read again when the store tells of a commit
                seen = None
                token = self.store.wait_for_change(1.0 if left is None else left, after=token)
                time.sleep(0.01)  # at most 100 reads a second, however busy the store

    # -- helpers --------------------------------------------------------------------------

    def _row(self, instance_id: str) -> InstanceRow:
        if "\x00" in instance_id:  # no stored id has one, and PostgreSQL refuses to compare
            raise InstanceNotFound(instance_id)
        row = self.store.get(instance_id)
        if row is None:
            raise InstanceNotFound(instance_id)
        return row

    def _append(
        self,
        instance_id: str,
        operation: Operation,
        make: Callable[[float], HistoryEvent],
        check: Callable[[InstanceRow], None] | None = None,
    ) -> Outcome:
        for _ in range(_RETRIES):
            row = self._row(instance_id)
            outcome = check_transition(RuntimeStatus(row.status), operation, instance_id)
            if outcome is Outcome.NO_OP:
                return outcome
            if check is not None:
                check(row)
            if not self._append_after(row, make(self.engine.clock())):
                continue
            self.engine.touch(instance_id)
            return outcome
        raise InstanceBusy(instance_id, operation.value)

    def _append_after(self, row: InstanceRow, event: HistoryEvent) -> bool:
        """Append ``event`` to the history ``row`` was read with, with the row fields it
        leads to; False when someone appended meanwhile (read again and retry).

        Events, pauses and resumes get those fields from the row's summary
        (:func:`update_after`); the rest replay the history."""
        plan = self.engine.plan_for(row.definition_hash)
        numbered = _numbered(event, row.version + 1)
        update = update_after(plan, row, numbered)
        if update is None:
            state = replay(row.instance_id, load_history(self.store, row.instance_id))
            if state.version != row.version:
                return False  # appended to between the two reads: read again
            apply(state, numbered)
            update = update_for(plan, state)
        try:
            self.store.append(row.instance_id, row.version, event_rows([numbered]), update)
        except VersionConflict:
            return False
        return True

    def list(
        self,
        *,
        status: Sequence[str] = (),
        name: str | None = None,
        limit: int = 50,
        after: str | None = None,
        after_key: tuple[float, str] | None = None,
    ) -> list[InstanceRow]:
        """Instances, newest first. Statuses may be given in any case; an unknown one
        raises :class:`UnknownStatus` (instead of matching nothing). Pages: see
        :meth:`Store.list_instances <wfkit.engine.protocols.Store.list_instances>`."""
        wanted = [runtime_status(s) for s in status]
        return self.store.list_instances(
            status=wanted, name=name, limit=limit, after=after, after_key=after_key
        )


def _numbered(event: HistoryEvent, seq: int) -> HistoryEvent:
    return replace(event, seq=seq)
