"""The records of one instance's state: the instance, its steps, their tasks, its timers.

:mod:`wfkit.engine.core.state` folds history events into them; this module only says
what they hold and keeps the counts a step keeps of its tasks' phases (a wide
``foreach`` must not be scanned at every event of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wfkit.engine.core.history import EventRaised, Failure
from wfkit.engine.core.status import RuntimeStatus, StepStatus, TaskPhase, TimerPurpose

__all__ = ["InstanceState", "StepState", "TaskState", "TimerState"]

# members bound once: a class attribute of an enum costs about 0.1 µs to read
_PENDING, _RUNNING, _WAITING = TaskPhase.PENDING, TaskPhase.RUNNING, TaskPhase.WAITING
_FAILED_ATTEMPT = TaskPhase.FAILED_ATTEMPT
_COMPLETED, _FAILED = TaskPhase.COMPLETED, TaskPhase.FAILED


@dataclass(slots=True)  # one per foreach item: 100,000 of them must stay small
class TaskState:
    """One task: a step, or one item of a foreach step, across its attempts.

    ``phase`` is a :class:`TaskPhase`; an attempt abandoned by a lost owner is a
    ``failed_attempt`` with ``lost`` set. ``abandoned`` counts the attempts lost with
    their owner: counted in ``attempt``, not against the retry budget.
    """

    index: int | None = None
    phase: TaskPhase = _PENDING
    attempt: int = 0
    output: Any = None
    failure: Failure | None = None
    first_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    timer: int | None = None
    timeout_timer: int | None = None
    waiting_since: int = 0
    child_id: str | None = None
    details: dict[str, Any] | None = None
    input: Any = None
    env: dict[str, str] | None = None
    abandoned: int = 0
    lost: bool = False

    @property
    def done(self) -> bool:
        phase = self.phase
        return phase is _COMPLETED or phase is _FAILED

    @property
    def active(self) -> bool:
        """Scheduled and not finished: it counts against concurrency."""
        phase = self.phase
        return phase is _RUNNING or phase is _WAITING or phase is _FAILED_ATTEMPT


@dataclass
class StepState:
    """One step of the instance: its status and its tasks (one, or one per foreach item)."""

    id: str
    status: StepStatus = StepStatus.PENDING
    items: list[Any] | None = None
    tasks: list[TaskState] = field(default_factory=list)
    output: Any = None
    failure: Failure | None = None
    started_at: float | None = None
    ended_at: float | None = None
    skip_reason: str | None = None
    breakpoint_passed: bool = False
    #: How many tasks are in each phase, and the indexes of the tasks whose attempt
    #: failed (retry or fail to be decided), kept by the fold: a wide ``foreach`` must
    #: not be scanned at every event of it.
    phases: dict[TaskPhase, int] = field(default_factory=dict, repr=False, compare=False)
    failed_attempts: dict[int | None, None] = field(default_factory=dict, repr=False, compare=False)
    #: The highest attempt of any of its tasks (0 before the first).
    attempts: int = field(default=0, repr=False, compare=False)
    _pending_from: int = field(default=0, repr=False, compare=False)
    #: The values of its ``with``/``env`` expressions that are the same for every item of
    #: its foreach (derived, never stored): emptied whenever its tasks start over.
    memo: dict[Any, Any] | None = field(default=None, repr=False, compare=False)

    def task(self, index: int | None) -> TaskState:
        """The task for ``index`` (None for a step without foreach)."""
        return self.tasks[0 if index is None else index]

    def count(self, phase: TaskPhase) -> int:
        """How many tasks are in ``phase``."""
        return self.phases.get(phase, 0)

    @property
    def active_tasks(self) -> int:
        """Tasks scheduled and not finished (running, waiting, failed attempt)."""
        phases = self.phases
        return phases.get(_RUNNING, 0) + phases.get(_WAITING, 0) + phases.get(_FAILED_ATTEMPT, 0)

    def first_pending(self) -> int:
        """The index of the first task still pending (``len(tasks)`` when none is).

        Tasks only ever leave ``pending`` (a new list of tasks starts over), so a cursor
        that only moves forward finds it in constant time on average."""
        tasks, at = self.tasks, self._pending_from
        while at < len(tasks) and tasks[at].phase is not _PENDING:
            at += 1
        self._pending_from = at
        return at

    def set_tasks(self, tasks: list[TaskState]) -> None:
        """Replace the tasks (all pending), resetting the counts kept of them."""
        self.tasks = tasks
        self.phases = {_PENDING: len(tasks)} if tasks else {}
        self.failed_attempts = {}
        self.attempts = 0
        self._pending_from = 0
        self.memo = None

    def set_attempt(self, task: TaskState, attempt: int) -> None:
        """Set one task's attempt number, keeping :attr:`attempts`."""
        task.attempt = attempt
        if attempt > self.attempts:
            self.attempts = attempt

    def set_phase(self, task: TaskState, phase: TaskPhase) -> None:
        """Move one task of this step to ``phase``, keeping the counts."""
        old, phases = task.phase, self.phases
        if old is phase:
            return
        phases[old] -= 1
        phases[phase] = phases.get(phase, 0) + 1
        task.phase = phase
        if old is _FAILED_ATTEMPT:
            del self.failed_attempts[task.index]
        elif phase is _FAILED_ATTEMPT:
            self.failed_attempts[task.index] = None


@dataclass
class TimerState:
    """A durable timer and whether it has fired."""

    timer_id: int
    fire_at: float
    purpose: TimerPurpose
    step: str
    index: int | None
    attempt: int
    fired: bool = False


@dataclass
class InstanceState:
    """Everything known about one instance, from its history."""

    instance_id: str
    name: str = ""
    input: Any = None
    definition_hash: str = ""
    parent_id: str | None = None
    parent_step: str | None = None
    #: Child workflow name -> pinned definition hash (None: an older run, unpinned).
    pinned: dict[str, str] | None = None
    status: RuntimeStatus = RuntimeStatus.PENDING
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 0
    suspended: bool = False
    suspend_reason: str | None = None
    suspended_at_step: str | None = None
    single_step: bool = False
    terminated: bool = False
    output: Any = None
    failure: Failure | None = None
    failed_step: str | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    timers: dict[int, TimerState] = field(default_factory=dict)
    events: list[EventRaised] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)
    children: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    breakpoints: set[str] = field(default_factory=set)
    rewinds: int = 0
    #: Derived counters kept by the decider (a :class:`wfkit.engine.core.progress.Progress`);
    #: rebuilt from the rest whenever missing, never stored.
    derived: Any = field(default=None, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def step(self, step_id: str) -> StepState:
        """The state of ``step_id``, created pending on first use."""
        found = self.steps.get(step_id)
        if found is None:
            found = self.steps[step_id] = StepState(step_id)
        return found

    def step_status(self, step_id: str) -> StepStatus:
        """A step's status; a step that never started is canceled once the instance ended."""
        step = self.steps.get(step_id)
        if step is not None:
            return step.status
        return StepStatus.CANCELED if self.is_terminal else StepStatus.PENDING

    def buffered_events(self) -> list[EventRaised]:
        """Events raised and not yet consumed by a wait step, oldest first."""
        return [e for e in self.events if e.seq not in self.consumed]
