"""Step runners by name: the ``runner`` setting picks one from :data:`RUNNERS`.

Like the stores' :data:`wfkit.store.url.BACKENDS` (scheme -> opener), a runner is one
entry here: a name and a function that builds it from :class:`RunnerOptions`. The
function imports its runner when called, so a runner with heavy or optional
dependencies (``dask``) costs nothing until chosen. ``local`` (the default) runs steps
on threads of this process (:class:`~wfkit.steps.runner.LocalRunner`); ``dask`` on the
workers of a Dask cluster (:class:`~wfkit.steps.dask_runner.DaskRunner`).
:func:`open_routing_runner` gives the engine a runner that also honours the ``runner``
key of workflows and steps (:class:`~wfkit.steps.routing.RoutingRunner`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from wfkit.common.suggest import did_you_mean
from wfkit.engine.protocols import StepRunner
from wfkit.errors import UnknownRunner
from wfkit.steps.routing import RoutingRunner

__all__ = [
    "DEFAULT_RUNNER",
    "RUNNERS",
    "RunnerOptions",
    "open_routing_runner",
    "open_runner",
    "runner_opener",
]

DEFAULT_RUNNER = "local"
"""The runner used unless told otherwise: threads of this process."""


@dataclass(frozen=True)
class RunnerOptions:
    """What a runner is built from: its step slots, and where a Dask cluster is (an
    address, or a ``distributed.Client``; neither: the dask runner starts its own) and how
    long a step waits there for a worker with its resources."""

    workers: int
    dask_scheduler: str = ""
    dask_client: Any = None
    dask_resource_wait: float = 10.0


def _local(options: RunnerOptions) -> StepRunner:
    from wfkit.steps.runner import LocalRunner

    return LocalRunner(workers=options.workers)


def _dask(options: RunnerOptions) -> StepRunner:
    from wfkit.steps.dask_runner import DaskRunner

    return DaskRunner(
        workers=options.workers,
        scheduler=options.dask_scheduler,
        client=options.dask_client,
        resource_wait=options.dask_resource_wait,
    )


RUNNERS: dict[str, Callable[[RunnerOptions], StepRunner]] = {"local": _local, "dask": _dask}
"""Runner name -> a function of the :class:`RunnerOptions` that builds the runner."""


def runner_opener(name: str) -> Callable[[RunnerOptions], StepRunner]:
    """The function that builds runner ``name``; :class:`UnknownRunner` (naming the
    known runners, with a did-you-mean) when there is none."""
    opener = RUNNERS.get(name)
    if opener is None:
        raise UnknownRunner(name, list(RUNNERS), did_you_mean(name, RUNNERS))
    return opener


def open_runner(name: str, *, workers: int, **options: Any) -> StepRunner:
    """A new runner ``name`` with ``workers`` step slots (``options``: the other fields
    of :class:`RunnerOptions`)."""
    return runner_opener(name)(RunnerOptions(workers, **options))


def open_routing_runner(name: str, *, workers: int, **options: Any) -> RoutingRunner:
    """The engine's runner: runner ``name`` for every task that names no other, and the
    others of :data:`RUNNERS` opened when a task first names them (``options``: the
    other fields of :class:`RunnerOptions`)."""
    runner_opener(name)
    built = RunnerOptions(workers, **options)
    openers = {key: partial(opener, built) for key, opener in RUNNERS.items()}
    return RoutingRunner(name, openers)
