"""The engine: claims instances, decides, commits, and carries out what was decided.

An engine owns the instances it has claimed. Task results, fired timers and wake-ups are
queued; whoever holds the engine's decision lock folds the queued events of every touched
instance with :func:`~wfkit.engine.core.decide.advance`, commits all their new events in one
store transaction, then dispatches tasks, arms timers and starts children. History is
committed before anything it describes takes effect.

Two kinds of thread take the decision lock. The loop thread claims, polls, fires timers,
drops the instances whose leases were lost and handles API wake-ups. A runner thread that
has just finished a task decides too, when the lock is free and no other task waits for
a worker (flat combining): it
queues its result, and drains the queue itself instead of waking the loop, so a chain of
``call`` steps runs on one thread with one commit per step and no hand-off. A runner
thread that finds the lock taken leaves its result for the holder, which looks at the
queue again after releasing the lock; one that has more tasks waiting wakes the loop
thread and runs the next task. Either way, results that arrive together are committed
together.

Anyone (another thread, another process) may append to an instance's history: lifecycle
operations do so directly with an optimistic version check (:mod:`wfkit.engine.loop.operations`).
The owner notices (at once for its own process; for others, when the store tells of a
commit (:mod:`wfkit.engine.loop.changes`), by reading versions),
folds the new events and reacts. Leases make a crashed owner's instances claimable; a
thread of their own renews them (:mod:`wfkit.engine.loop.leases`), so that no decision, however
long, lets them lapse, and every commit names this engine as the owner, so that once
another worker has taken an instance over nothing more is recorded for it here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from wfkit.definition.model import Definition
from wfkit.engine.core import actions as act
from wfkit.engine.core.decide import advance
from wfkit.engine.core.history import HistoryEvent, TimerFired
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.status import TERMINAL_STATUSES
from wfkit.engine.loop.changes import ChangeWatcher
from wfkit.engine.loop.commits import CommitRecovery, Deferred
from wfkit.engine.loop.dispatch import Dispatcher
from wfkit.engine.loop.intake import Intake
from wfkit.engine.loop.leases import Leases, new_owner
from wfkit.engine.loop.outage import Outage
from wfkit.engine.loop.owned import OwnedInstances
from wfkit.engine.loop.records import event_rows, outcome_event
from wfkit.engine.loop.wakeups import CommitSignals, TimerQueue
from wfkit.engine.protocols import (
    Hook,
    StepRunner,
    Store,
    TaskOutcome,
    TaskSpec,
)
from wfkit.engine.settings import EngineSettings
from wfkit.engine.wire.summary import update_for
from wfkit.errors import StoreError

__all__ = ["Engine"]

_log = logging.getLogger(__name__)
_TERMINAL = frozenset(status.value for status in TERMINAL_STATUSES)


class Engine(Intake, CommitRecovery):
    """Runs workflow instances from a store with a step runner, in a background thread.

    ``resolve`` gives the definition of a workflow name (for starts and child workflows);
    running instances use the definition text they were started with, kept in the store.
    """

    def __init__(
        self,
        *,
        store: Store,
        runner: StepRunner,
        resolve: Callable[[str], Definition],
        parse: Callable[[str, str], Definition],
        hooks: Sequence[Hook] = (),
        settings: EngineSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.runner = runner
        self.resolve = resolve
        self._parse = parse
        self._settings = settings or EngineSettings()
        self.clock = clock
        self.owner = new_owner()
        self._limit = self.settings.max_output_bytes
        self._leases = Leases(store, self.owner, self.settings, clock)
        self._plans: dict[str, WorkflowPlan] = {}
        self._owned = OwnedInstances()
        self._timers = TimerQueue()
        self._dispatch = Dispatcher(
            runner=runner,
            timers=self._timers,
            task_done=self._task_done,
            timer_armed=self._owned.wake,
            workdir=self.settings.workdir,
            definitions_dir=self.settings.definitions_dir,
            hooks=hooks,
            max_output_bytes=self.settings.max_output_bytes,
        )
        #: Called with what is committed for each instance (keyword arguments), and with
        #: no events when this engine takes an instance from the store (a claim).
        self.hooks: list[Hook] = self._dispatch.hooks
        # held while deciding, committing and acting; re-entered when an action starts a
        # child instance, which this engine adopts at once
        self._deciding = threading.RLock()
        self._signals = CommitSignals()
        self._thread: threading.Thread | None = None
        self._stopping = False  # a graceful stop: claim no more instances
        self._closing = threading.Event()  # cuts a pause after a failed round short
        self._outage = Outage(self.settings.poll_interval, self.settings.store_retry_max)
        self._changes = ChangeWatcher(store, self._store_changed, self.settings.poll_interval)

    @property
    def on_action(self) -> Callable[[str, act.Action], None] | None:
        """Set by the operations layer: starts children, terminates them, notifies parents."""
        return self._dispatch.on_action

    @on_action.setter
    def on_action(self, handler: Callable[[str, act.Action], None] | None) -> None:
        self._dispatch.on_action = handler

    @property
    def settings(self) -> EngineSettings:
        """Timing of leases and polls, and where steps run; may be replaced before
        :meth:`start_background`."""
        return self._settings

    @settings.setter
    def settings(self, settings: EngineSettings) -> None:
        self._settings = self._leases.settings = settings

    # -- lifecycle of the engine ----------------------------------------------------------

    def start_background(self) -> None:
        """Start the loop thread (idempotent)."""
        if self._thread is None:
            self._closing.clear()
            self._changes.gap = self.settings.poll_interval
            self._changes.start()  # before the loop's first poll: no commit is missed
            self._leases.notified = True
            self._thread = threading.Thread(target=self._run, name="wfkit-engine", daemon=True)
            self._thread.start()
            self._leases.start_renewing(self._owned.ids, self._owned.wake)

    def stop(self, timeout: float = 10.0, *, drain: float = 0.0) -> None:
        """Stop the loop, cancel running tasks and give the instances up to other workers.

        With ``drain`` seconds, stop gracefully first: claim nothing more and start no
        task, but let the running ones finish, for up to ``drain`` seconds, and commit
        their results, so that the next owner does not run them again."""
        if drain > 0 and self.running:
            self._stopping = True
            self._dispatch.draining = True
            self.runner.drain(drain)
            with self._deciding:  # results reported meanwhile: committed before letting go
                if not self._owned.closed:
                    self._decide_all()
        self._owned.close()
        self._closing.set()
        self._changes.stop()
        self._leases.notified = False
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        # a runner thread may be deciding: let it finish (it sees the table closed next time)
        acquired = self._deciding.acquire(timeout=timeout)
        try:
            self._leases.stop_renewing()
            self._give_up_all()
        finally:
            if acquired:
                self._deciding.release()

    def _give_up_all(self) -> None:
        owned = self._owned.ids()
        for instance_id in owned:
            self._dispatch.cancel(instance_id)
        try:
            self._leases.release(owned)
        except StoreError as exc:  # their leases run out instead: nothing is lost
            _log.warning("could not release %d instance(s) on stop: %s", len(owned), exc)
        self._owned.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def store_failing_for(self) -> float:
        """Seconds this engine's rounds have been failing (the store refuses to write: a
        full disk, say); 0.0 while they work. The engine keeps trying meanwhile."""
        return self._outage.failing_for()

    @property
    def store_error(self) -> str:
        """The last error of a failing store ("" while it works)."""
        return self._outage.last_error

    # -- what other threads call ----------------------------------------------------------

    def deliver(self, instance_id: str, event: HistoryEvent) -> bool:
        """Queue an event for an instance this engine owns; False when it does not."""
        return self._owned.queue(instance_id, event)

    def touch(self, instance_id: str) -> None:
        """Say that someone appended to an instance's history (reload it if owned)."""
        self._owned.mark_reload(instance_id)

    def owns(self, instance_id: str) -> bool:
        return instance_id in self._owned

    def wait_committed(self, timeout: float) -> None:
        """Block until the next commit of this engine, or ``timeout`` seconds."""
        self._signals.wait_commit(timeout)

    def wait_status_change(self, timeout: float) -> None:
        """Block until this engine commits a new status of some instance (or gives one
        up), or ``timeout`` seconds: cheaper than :meth:`wait_committed` for callers that
        only look at statuses, since a run of steps changes the status rarely."""
        self._signals.wait_status_change(timeout)

    def known_status(self, instance_id: str) -> str | None:
        """The status this engine last committed for an owned instance (no store read)."""
        owned = self._owned.get(instance_id)
        return owned.state.status.value if owned is not None else None

    # -- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        while self._owned.wait_for_work(self._sleep_time):
            try:
                with self._deciding:
                    if self._owned.closed:
                        return
                    self._round()
            except Exception as exc:  # never let the loop die: say it once, back off, go on
                self._closing.wait(self._outage.failed(exc))
            else:
                self._outage.succeeded()

    def _drain(self) -> None:
        """Decide on whatever is queued, on this (runner) thread, unless another thread
        holds the decision lock: that one looks at the queue again after releasing it.

        Only while the leases are surely held: after a long stall (a frozen process, a
        loop that could not renew) the loop thread decides, renewing the leases first,
        so that an owner that lost its instances never records anything for them."""
        if not self._leases.surely_held():
            self._owned.wake()
            return
        while self._deciding.acquire(blocking=False):
            try:
                if self._owned.closed:
                    return
                self._decide_all()
            except Exception as exc:  # said once per outage; the loop tries again
                self._outage.failed(exc)
                self._owned.wake()
                return
            finally:
                self._deciding.release()
            self._outage.succeeded()
            if not self._owned.has_pending():
                return

    def _sleep_time(self) -> float:
        looking = self.settings.claim_free and not self._stopping
        wake_at = self._leases.next_due(polling=bool(self._owned), looking=looking)
        timer = self._timers.next_at()
        if timer is not None:
            wake_at = min(wake_at, timer)
        return max(0.0, wake_at - self.clock())

    def _store_changed(self) -> None:
        """The watcher's call: something was committed; look at the store again soon."""
        self._leases.note_change()
        self._owned.wake()

    def _round(self) -> None:
        now = self.clock()
        self._fire_timers(now)
        if not self._stopping:
            for instance_id in self._leases.claimed(now, len(self._owned)):
                if instance_id not in self._owned:  # not its own lease, run out and taken again
                    self._take(instance_id)
        for instance_id in self._leases.take_lost():
            if instance_id in self._owned:
                self._lose(instance_id)
        if self._owned:
            for instance_id in self._leases.changed(now, self._owned_versions):
                self._refresh(instance_id)
        for instance_id in self._owned.take_reload():
            self._refresh(instance_id)
        self._decide_all()

    def _owned_versions(self) -> dict[str, int]:
        return {instance_id: owned.state.version for instance_id, owned in self._owned.entries()}

    def _fire_timers(self, now: float) -> None:
        for instance_id, timer_id in self._timers.due(now):
            if instance_id in self._owned:
                self.deliver(instance_id, TimerFired(at=now, timer_id=timer_id))

    def _decide_all(self) -> None:
        batch, decided = [], []
        later: Deferred | None = None
        for instance_id, events in self._owned.take_pending().items():
            owned = self._owned.get(instance_id)
            if owned is None:
                continue
            version = owned.state.version
            decision = advance(
                owned.plan, owned.state, events, now=self.clock(), owned=True,
                max_foreach_items=self._max_items, max_output_bytes=self._limit,
            )  # fmt: skip
            if not decision.events:
                continue
            rows = event_rows(decision.events)
            update = update_for(owned.plan, owned.state)
            if update.status == owned.stored_status:
                update.status = None  # unchanged: spare the store rewriting its indexes
            else:
                owned.stored_status = update.status or owned.stored_status
            batch.append((instance_id, version, rows, update))
            decided.append((instance_id, events, decision, version))
        if not batch:
            return
        try:
            conflicts = set(self.store.append_many(batch, owner=self.owner))
        except Exception as exc:
            if isinstance(exc, StoreError) and exc.retryable:  # the store's condition
                self._after_failed_commit(decided)
                raise
            conflicts, refused, later = self._commit_apart(batch, exc)
            self._after_failed_commit([d for d in decided if d[0] in later.skipped])
            decided = [d for d in decided if d[0] not in refused and d[0] not in later.skipped]
            batch = [b for b in batch if b[0] not in refused and b[0] not in later.skipped]
        status_changed = False
        for (instance_id, events, decision, version), (*_, update) in zip(
            decided, batch, strict=True
        ):
            if instance_id in conflicts:
                self._retry_after_conflict(instance_id, events, version)
                continue
            status_changed = status_changed or update.status is not None
            self._perform(instance_id, decision.actions)
            self._dispatch.notify_hooks(instance_id, decision.events, decision.state)
            if decision.state.is_terminal:
                self._finish(instance_id)
        self._signals.committed(status_changed=status_changed)
        if later is not None and later.error is not None:
            raise later.error  # the store failed midway: the loop backs off, then retries

    def _lose(self, instance_id: str) -> None:
        """Another worker holds the instance now: stop its tasks here and forget it."""
        _log.warning("lost the lease of %s to another worker", instance_id)
        self._dispatch.cancel(instance_id)
        self._drop(instance_id)

    def _finish(self, instance_id: str) -> None:
        """Forget an instance that ended; the append that ended it released it."""
        self._drop(instance_id)

    def _drop(self, instance_id: str) -> None:
        self._owned.remove(instance_id)
        self._signals.status_changed()

    # -- carrying out decisions -----------------------------------------------------------

    def _perform(self, instance_id: str, actions: Sequence[act.Action]) -> None:
        self._dispatch.perform(instance_id, actions, self._owned.get(instance_id))

    def _task_done(self, task: TaskSpec, outcome: TaskOutcome) -> None:
        """A runner thread's report: queue the result, then decide here if no one is and
        no other task waits for this thread."""
        owned = self._owned.get(task.instance_id)
        outputs = owned.plan.spec(task.step).outputs if owned else None
        event = outcome_event(
            task, outcome, outputs, self.clock(), limit=self.settings.max_output_bytes
        )
        if not self._owned.queue(task.instance_id, event, wake=False):
            return
        if self.runner.queued() or self._dispatch.has_waiting():
            # more tasks wait for this thread: run them and let the loop thread decide
            # meanwhile, on whatever results have gathered by then (a fan-out of 500
            # steps on one worker: 1 commit per step before, ~35 µs a step instead of
            # ~115 with this)
            self._owned.wake()
        else:
            self._drain()
