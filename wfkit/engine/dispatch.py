"""Carrying out an engine's decisions, once they are committed.

A decision's actions go to whoever does them: tasks to the step runner, timers to the
engine's timer queue, cancellations to the runner, and the rest (starting or ending
child instances, telling a parent) to the operations layer through ``on_action``. Then
the hooks hear what was committed. A failing action or hook is logged, never raised: the
history is already committed, and recovery redoes what was in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from wfkit.engine import actions as act
from wfkit.engine.history import HistoryEvent
from wfkit.engine.owned import Owned
from wfkit.engine.protocols import Hook, StepRunner, TaskOutcome, TaskSpec
from wfkit.engine.state import InstanceState
from wfkit.engine.wakeups import TimerQueue

__all__ = ["Dispatcher"]

_log = logging.getLogger(__name__)


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

    def perform(self, instance_id: str, actions: Sequence[act.Action], owned: Owned | None) -> None:
        """Carry out ``actions`` of an instance (``owned``: the engine's entry for it)."""
        for action in actions:
            try:
                self._perform_one(instance_id, action, owned)
            except Exception:
                _log.exception("instance %s: could not carry out %r", instance_id, action)

    def _perform_one(self, instance_id: str, action: act.Action, owned: Owned | None) -> None:
        if isinstance(action, act.RunTask):
            if not self.draining:
                self.runner.submit(self._task_spec(instance_id, action, owned), self.task_done)
        elif isinstance(action, act.StartTimer):
            self.timers.arm(action.fire_at, instance_id, action.timer_id)
            self.timer_armed()  # armed on a step thread, maybe: the loop may sleep less
        elif isinstance(action, act.CancelTasks):
            self.runner.cancel(instance_id)
        elif self.on_action is not None:
            self.on_action(instance_id, action)

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
