"""Carrying out an engine's decisions, once they are committed.

A decision's actions go to whoever does them: tasks to the step runner, timers to the
engine's timer queue, cancellations to the runner, and the rest (starting or ending
child instances, telling a parent) to the operations layer through ``on_action``. Then
the hooks hear what was committed. A failing action or hook is logged, never raised: the
history is already committed, and recovery redoes what was in flight.

The runner is handed only what it can start soon: about two tasks per worker beyond
those running (:data:`AHEAD_PER_WORKER`); the rest of a wide ``foreach`` waits here, in
order, and goes to the runner as results come back. Handing it 100,000 tasks at once
made every task pay for a runner queue and job table that big, under the lock its
worker threads share.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from wfkit.engine.core import actions as act
from wfkit.engine.core.history import HistoryEvent
from wfkit.engine.core.state import InstanceState
from wfkit.engine.loop.owned import Owned
from wfkit.engine.loop.wakeups import TimerQueue
from wfkit.engine.protocols import Hook, StepRunner, TaskOutcome, TaskSpec

__all__ = ["Dispatcher"]

_log = logging.getLogger(__name__)

AHEAD_PER_WORKER = 2
"""Tasks handed to the runner beyond one per worker, per worker: enough that a worker
never waits for the engine, few enough that the runner's structures stay small."""


class Dispatcher:
    """Hands committed actions to the runner, the timer queue and ``on_action``, and
    committed events to the hooks.

    ``task_done`` receives each task's outcome (on a runner thread); ``timer_armed`` is
    called after a timer is armed, so that a sleeping loop can sleep less.
    """

    def __init__(
        self,
        *,
        runner: StepRunner,
        timers: TimerQueue,
        task_done: Callable[[TaskSpec, TaskOutcome], None],
        timer_armed: Callable[[], None],
        workdir: str,
        definitions_dir: str,
        hooks: Sequence[Hook] = (),
        max_output_bytes: int | None = None,
    ) -> None:
        self.runner = runner
        self.timers = timers
        self.task_done = task_done
        self.timer_armed = timer_armed
        self.workdir = workdir
        self.definitions_dir = definitions_dir
        self.max_output_bytes = max_output_bytes
        self.hooks: list[Hook] = list(hooks)
        #: Set by the operations layer: starts children, terminates them, notifies parents.
        self.on_action: Callable[[str, act.Action], None] | None = None
        #: While set (a graceful stop), tasks are not run: they stay scheduled in the
        #: history, and whoever runs the instance next runs them.
        self.draining = False
        self._lock = threading.Lock()
        self._waiting: OrderedDict[str, deque[TaskSpec]] = OrderedDict()  # by instance
        self._handed: dict[str, int] = {}  # tasks of each instance the runner holds
        self._in_runner = 0

    @property
    def limit(self) -> int:
        """How many tasks the runner holds at most (running or waiting for a worker),
        from its slots now: they change as a runner opens (a step's ``runner: dask``) or
        its cluster gains or loses workers."""
        return max(1, self.runner.workers) * (1 + AHEAD_PER_WORKER)

    def perform(self, instance_id: str, actions: Sequence[act.Action], owned: Owned | None) -> None:
        """Carry out ``actions`` of an instance (``owned``: the engine's entry for it)."""
        tasks: list[TaskSpec] = []
        for action in actions:
            try:
                if isinstance(action, act.RunTask):
                    if not self.draining:
                        tasks.append(self._task_spec(instance_id, action, owned))
                else:
                    self._hand_over(instance_id, tasks)  # in the order decided
                    tasks = []
                    self._perform_one(instance_id, action)
            except Exception:
                _log.exception("instance %s: could not carry out %r", instance_id, action)
        self._hand_over(instance_id, tasks)

    def _perform_one(self, instance_id: str, action: act.Action) -> None:
        if isinstance(action, act.StartTimer):
            self.timers.arm(action.fire_at, instance_id, action.timer_id)
            self.timer_armed()  # armed on a step thread, maybe: the loop may sleep less
        elif isinstance(action, act.CancelTasks):
            self.cancel(instance_id)
        elif self.on_action is not None:
            self.on_action(instance_id, action)

    def cancel(self, instance_id: str) -> None:
        """Cancel the instance's tasks: those waiting here and those the runner holds."""
        with self._lock:
            self._waiting.pop(instance_id, None)
            self._in_runner -= self._handed.pop(instance_id, 0)  # never reported now
        self.runner.cancel(instance_id)
        self._top_up()  # their places in the runner are free

    def has_waiting(self) -> bool:
        """Whether tasks wait here for a place in the runner (a hint: it may be stale)."""
        return bool(self._waiting)

    def _hand_over(self, instance_id: str, tasks: list[TaskSpec]) -> None:
        if not tasks:
            return
        with self._lock:
            now: list[TaskSpec] = []
            room = self.limit - self._in_runner
            if room > 0 and not self._waiting:  # the usual case: straight to the runner
                now = tasks if len(tasks) <= room else tasks[:room]
                self._in_runner += len(now)
                self._handed[instance_id] = self._handed.get(instance_id, 0) + len(now)
                tasks = tasks[len(now) :] if now is not tasks else []
            if tasks:
                found = self._waiting.get(instance_id)
                if found is None:
                    self._waiting[instance_id] = deque(tasks)
                else:
                    found.extend(tasks)
        for task in now:
            self._submit(task)
        if tasks or (room > len(now) and self._waiting):
            # places left while others waited, or the runner took more slots meanwhile
            # (one opened on this instance's first task, say): fill them in turn
            self._top_up()

    def _top_up(self) -> None:
        """Hand the runner waiting tasks while it holds fewer than :attr:`limit`, taking
        the instances in turn."""
        limit = self.limit
        while not self.draining:
            with self._lock:
                if self._in_runner >= limit or not self._waiting:
                    return
                instance_id, tasks = next(iter(self._waiting.items()))
                task = tasks.popleft()
                if tasks:
                    self._waiting.move_to_end(instance_id)
                else:
                    del self._waiting[instance_id]
                self._in_runner += 1
                self._handed[instance_id] = self._handed.get(instance_id, 0) + 1
            self._submit(task)

    def _submit(self, task: TaskSpec) -> None:
        try:
            self.runner.submit(task, self._task_done)
        except Exception:
            with self._lock:
                self._count_out(task.instance_id)
            raise

    def _count_out(self, instance_id: str) -> None:
        """A task the runner held is no longer there (called with the lock held)."""
        handed = self._handed.get(instance_id)
        if handed is None:
            return  # cancelled meanwhile: already counted out
        self._in_runner -= 1
        if handed > 1:
            self._handed[instance_id] = handed - 1
        else:
            del self._handed[instance_id]

    def _task_done(self, task: TaskSpec, outcome: TaskOutcome) -> None:
        """The runner's report (on its thread): the next waiting task takes the place
        (this worker runs it next), then the engine hears of the result."""
        instance_id = task.instance_id
        with self._lock:  # _count_out, inlined: this runs once per task
            handed = self._handed.get(instance_id)
            if handed is not None:
                self._in_runner -= 1
                if handed > 1:
                    self._handed[instance_id] = handed - 1
                else:
                    del self._handed[instance_id]
            more = bool(self._waiting)
        if more:
            try:
                self._top_up()
            except Exception:  # a closed runner: the result is recorded all the same
                _log.exception("could not hand the runner the next task")
        self.task_done(task, outcome)

    def _task_spec(self, instance_id: str, action: act.RunTask, owned: Owned | None) -> TaskSpec:
        check_code = True
        if owned is not None:  # check the code of the first task here, and of every retry
            check_code = not owned.ran_task or action.attempt > 1 or owned.state.rewinds > 0
            owned.ran_task = True
        return TaskSpec(
            instance_id=instance_id,
            step=action.step,
            kind=action.kind,
            target=action.target,
            input=action.input,
            env=action.env,
            index=action.index,
            attempt=action.attempt,
            timeout=action.timeout,
            workdir=self.workdir,
            definitions_dir=self.definitions_dir,
            check_code=check_code,
            max_output_bytes=self.max_output_bytes,
            runner=action.runner,
            resources=None if action.resources is None else dict(action.resources),
        )

    def notify_hooks(
        self, instance_id: str, events: Sequence[HistoryEvent], state: InstanceState
    ) -> None:
        """Tell every hook what was committed for an instance."""
        for hook in tuple(self.hooks):  # listeners may remove themselves from any thread
            try:
                hook(
                    instance_id=instance_id,
                    events=list(events),
                    status=state.status.value,
                    state=state,
                )
            except Exception:  # a broken listener never stops a run
                _log.exception("a wfkit hook failed (ignored)")
