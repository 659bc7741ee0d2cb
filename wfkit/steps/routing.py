"""A step runner that sends each task where its step says: :class:`RoutingRunner`.

A step (or its workflow) may say ``runner: dask`` or ``runner: local``; the engine copies
that into :attr:`TaskSpec.runner <wfkit.engine.protocols.TaskSpec.runner>` and knows
nothing more. This runner holds the engine's own runner (the ``runner`` setting) and
opens another one by name the first time a task asks for it, so an engine whose steps
never leave home never imports Dask. A task that names no runner, or the engine's, goes
straight to the engine's runner: one comparison per task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from wfkit.engine.protocols import StepRunner, TaskOutcome, TaskSpec
from wfkit.errors import RunnerClosed, RunnerUnavailable
from wfkit.steps.base import failure, step_label

__all__ = ["RoutingRunner"]

Done = Callable[[TaskSpec, TaskOutcome], None]


def _report_later(done: Done, task: TaskSpec, outcome: TaskOutcome) -> None:
    """Call ``done`` on a thread of its own: never from inside ``submit`` (see
    :class:`~wfkit.engine.protocols.StepRunner`). Only for a runner that could not
    be opened, so a thread per task is no cost worth pooling."""
    threading.Thread(
        target=done, args=(task, outcome), name="wfkit-runner-unavailable", daemon=True
    ).start()


class RoutingRunner:
    """Routes tasks by :attr:`TaskSpec.runner` among runners opened on first need.

    ``openers`` maps runner names to functions that build them; ``default`` names the
    one opened at once, which runs every task that names no other.
    """

    def __init__(self, default: str, openers: Mapping[str, Callable[[], StepRunner]]) -> None:
        self.default_name = default
        #: The engine's own runner (the ``runner`` setting).
        self.default: StepRunner = openers[default]()
        self._openers = dict(openers)
        self._runners: dict[str, StepRunner] = {default: self.default}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def workers(self) -> int:
        """The slots of every runner opened so far, in all: an engine whose own runner
        is ``local`` keeps a Dask cluster's threads busy too once a step sends work
        there (the engine reads this whenever it sizes what it hands over)."""
        runners = self._runners
        if len(runners) == 1:
            return self.default.workers
        return sum(runner.workers for runner in list(runners.values()))

    @property
    def runners(self) -> dict[str, StepRunner]:
        """The runners opened so far, by name."""
        return dict(self._runners)

    def kinds(self) -> frozenset[str]:
        """What the engine's runner runs (the others run the same kinds or fewer)."""
        return self.default.kinds()

    def submit(self, task: TaskSpec, done: Done) -> None:
        """Hand ``task`` to the runner it names (the engine's, when it names none)."""
        name = task.runner
        if name is None or name == self.default_name:
            self.default.submit(task, done)
            return
        try:
            runner = self.runner(name)
        except RunnerUnavailable as exc:  # the step fails, not the engine's round
            outcome = failure("RunnerUnavailable", f"{step_label(task)}: {exc}")
            _report_later(done, task, outcome)
            return
        runner.submit(task, done)

    def runner(self, name: str) -> StepRunner:
        """Runner ``name``, opened now if it is not yet (:class:`RunnerClosed` after close)."""
        runner = self._runners.get(name)
        if runner is not None:
            return runner
        with self._lock:
            if self._closed:
                raise RunnerClosed(name)
            runner = self._runners.get(name)
            if runner is None:
                runner = self._runners[name] = self._openers[name]()
        return runner

    def queued(self) -> int:
        """Tasks waiting in every runner (a hint; the engine asks after every result)."""
        runners = self._runners
        if len(runners) == 1:
            return self.default.queued()
        return sum(r.queued() for r in list(runners.values()))

    def unfinished(self) -> int:
        """Tasks not ended in every runner."""
        return sum(r.unfinished() for r in list(self._runners.values()))

    def cancel(self, instance_id: str) -> None:
        """Cancel the instance's tasks in every runner."""
        for runner in list(self._runners.values()):
            runner.cancel(instance_id)

    def drain(self, timeout: float) -> bool:
        """Drain every runner within ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        return all(
            [r.drain(max(0.0, deadline - time.monotonic())) for r in list(self._runners.values())]
        )

    def close(self) -> None:
        """Close every runner opened."""
        with self._lock:
            self._closed = True
            runners = list(self._runners.values())
        for runner in runners:
            runner.close()

    def __enter__(self) -> RoutingRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
