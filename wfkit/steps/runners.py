"""Step runners by name: the ``runner`` setting picks one from :data:`RUNNERS`.

Like the stores' :data:`wfkit.store.url.BACKENDS` (scheme -> opener), a runner is one
entry here: a name and a function that builds it for a number of step slots. The
function imports its runner when called, so a runner with heavy or optional
dependencies (a Dask runner) costs nothing until chosen. ``local`` (the default) runs
steps on threads of this process (:class:`~wfkit.steps.runner.LocalRunner`).
"""

from __future__ import annotations

from collections.abc import Callable

from wfkit.common.suggest import did_you_mean
from wfkit.engine.protocols import StepRunner
from wfkit.errors import UnknownRunner

__all__ = ["DEFAULT_RUNNER", "RUNNERS", "open_runner", "runner_opener"]

DEFAULT_RUNNER = "local"
"""The runner used unless told otherwise: threads of this process."""


def _local(workers: int) -> StepRunner:
    from wfkit.steps.runner import LocalRunner

    return LocalRunner(workers=workers)


RUNNERS: dict[str, Callable[[int], StepRunner]] = {"local": _local}
"""Runner name -> a function of the step slots (``workers``) that builds the runner."""


def runner_opener(name: str) -> Callable[[int], StepRunner]:
    """The function that builds runner ``name``; :class:`UnknownRunner` (naming the
    known runners, with a did-you-mean) when there is none."""
    opener = RUNNERS.get(name)
    if opener is None:
        raise UnknownRunner(name, list(RUNNERS), did_you_mean(name, RUNNERS))
    return opener


def open_runner(name: str, *, workers: int) -> StepRunner:
    """A new runner ``name`` with ``workers`` step slots."""
    return runner_opener(name)(workers)
