"""Counters over an instance's steps, kept up to date one event at a time.

Deciding what happens next needs to know which steps are ready, how many tasks are
active, which attempts failed, whether a phase is over. Scanning every step for that on
every event makes a long chain quadratic; instead each event refreshes only the steps it
touched (:meth:`Progress.touch`), and the counters follow. A :class:`Progress` is derived
data: it is built from the state and plan whenever one is missing, never stored.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState, StepState
from wfkit.engine.core.status import STEP_STATUSES, StepStatus, TaskPhase

__all__ = ["Progress"]


class _Share(NamedTuple):
    """What one step contributes to the counters (a tuple: made on every event, so it
    must be cheap to build and to compare)."""

    status: StepStatus
    active: int
    running: int
    pending_tasks: bool
    failed_attempts: bool


_NOTHING = _Share(StepStatus.PENDING, 0, 0, False, False)
_SETTLED = frozenset(s for s in StepStatus if s.is_terminal)
_STARTED = frozenset({StepStatus.RUNNING, StepStatus.WAITING})
_ONE_RUNNING: dict[StepStatus, _Share] = {s: _Share(s, 1, 1, False, False) for s in StepStatus}
_ONE_WAITING: dict[StepStatus, _Share] = {s: _Share(s, 1, 0, False, False) for s in StepStatus}
_ONE_PENDING: dict[StepStatus, _Share] = {s: _Share(s, 0, 0, True, False) for s in StepStatus}
_NONE_ACTIVE: dict[StepStatus, _Share] = {s: _Share(s, 0, 0, False, False) for s in StepStatus}


_RUNNING, _WAITING, _PENDING = TaskPhase.RUNNING, TaskPhase.WAITING, TaskPhase.PENDING
_FAILED_ATTEMPT = TaskPhase.FAILED_ATTEMPT


def _share_of(step: StepState | None, status: StepStatus) -> _Share:
    if step is None or not step.tasks:
        return _NONE_ACTIVE[status]
    tasks = step.tasks
    if len(tasks) == 1:  # most steps: no foreach; shares of one task are kept, not made
        phase = tasks[0].phase
        if phase is _RUNNING:
            return _ONE_RUNNING[status]
        if phase is _WAITING:
            return _ONE_WAITING[status]
        if phase is _PENDING:
            return _ONE_PENDING[status]
        if phase is not _FAILED_ATTEMPT:
            return _NONE_ACTIVE[status]
    # counts the fold keeps: a foreach of many items is not scanned at each event
    return _Share(
        status,
        step.active_tasks,
        step.count(_RUNNING),
        step.count(_PENDING) > 0,
        bool(step.failed_attempts),
    )


class Progress:
    """Ready steps, active tasks, failed attempts and status counts of one instance."""

    def __init__(self, plan: WorkflowPlan, state: InstanceState) -> None:
        self.plan = plan
        self.shares: dict[str, _Share] = {}
        self.counts: Counter[StepStatus] = Counter()
        self.by_status: dict[StepStatus, set[str]] = {status: set() for status in STEP_STATUSES}
        self.unsettled = {False: 0, True: 0}
        self.running = {False: 0, True: 0}
        self.active = 0
        self.remaining: dict[str, int] = {}
        self.ready: set[str] = set()
        self.open: set[str] = set()
        #: The steps with a failed attempt to settle (their ``failed_attempts`` say which).
        self.failed_attempts: set[str] = set()
        self.failing: set[str] = set()
        self.fired: set[int] = {t.timer_id for t in state.timers.values() if t.fired}
        every = (*plan.main, *plan.final)
        for sid in every:
            self.counts[StepStatus.PENDING] += 1
            self.by_status[StepStatus.PENDING].add(sid)
            self.unsettled[plan.is_final(sid)] += 1
            self.shares[sid] = _NOTHING
            self.remaining[sid] = len(plan.waits_for[sid])
        for sid in every:
            if self.remaining[sid] == 0:
                self.ready.add(sid)
        for sid in every:
            self.touch(state, sid)

    @staticmethod
    def of(plan: WorkflowPlan, state: InstanceState) -> Progress:
        """The counters kept on ``state`` (built now if missing or of another plan)."""
        found = state.derived
        if not isinstance(found, Progress) or found.plan is not plan:
            found = state.derived = Progress(plan, state)
        return found

    def touch(self, state: InstanceState, sid: str) -> None:
        """Refresh the counters after step ``sid`` may have changed."""
        old = self.shares.get(sid)
        if old is None:
            return
        step = state.steps.get(sid)
        status = step.status if step is not None else state.step_status(sid)
        new = _share_of(step, status)
        if new is old or new == old:
            return
        self.shares[sid] = new
        final = self.plan.is_final(sid)
        old_status, new_status = old.status, new.status
        if old_status is not new_status:
            self.counts[old_status] -= 1
            self.counts[new_status] += 1
            self.by_status[old_status].discard(sid)
            self.by_status[new_status].add(sid)
        self.active += new.active - old.active
        was_settled, settled = old_status in _SETTLED, new_status in _SETTLED
        self.running[final] += (new.running if not settled else 0) - (
            old.running if not was_settled else 0
        )
        if new.failed_attempts:
            self.failed_attempts.add(sid)
        elif old.failed_attempts:
            self.failed_attempts.discard(sid)
        if new.pending_tasks and new_status in _STARTED:
            self.open.add(sid)
        elif self.open:
            self.open.discard(sid)
        if new_status is not StepStatus.PENDING:
            self.ready.discard(sid)
        if new_status is StepStatus.FAILED and not final:
            self.failing.add(sid)  # decide keeps those with on_error: fail
        if settled and not was_settled:
            self.unsettled[final] -= 1
            for nxt in self.plan.unblocks[sid]:
                self.remaining[nxt] -= 1
                if self.remaining[nxt] == 0 and self.shares[nxt].status is StepStatus.PENDING:
                    self.ready.add(nxt)

    def candidates(self) -> list[str]:
        """Steps that might start now or start more tasks, in plan order."""
        order = self.plan.order
        return sorted(self.ready | self.open, key=order.__getitem__)

    def in_status(self, status: StepStatus) -> list[str]:
        """The steps with this status, in plan order (for summaries)."""
        return sorted(self.by_status[status], key=self.plan.order.__getitem__)
