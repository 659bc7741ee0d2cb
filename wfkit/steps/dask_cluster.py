"""The Dask side of the ``dask`` runner: connecting to a cluster (or starting a local
one), and reading what a task's future gave as an outcome.

Kept apart from :mod:`wfkit.steps.dask_runner` (the runner's threads and bookkeeping);
nothing here imports ``distributed`` until a cluster is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.errors import RunnerUnavailable
from wfkit.steps.base import failure, format_trace, step_label

__all__ = [
    "CONNECT_TIMEOUT",
    "INSTALL_HINT",
    "connect",
    "lost",
    "missing_resources",
    "outcome_of",
    "require_distributed",
]

log = logging.getLogger("wfkit.steps")

INSTALL_HINT = "pip install 'wfkit[dask]'"
CONNECT_TIMEOUT = 10.0
"""Seconds the runner tries to reach the Dask scheduler before the task fails."""


def require_distributed() -> Any:
    """The ``distributed`` module; :class:`RunnerUnavailable` naming the extra without it."""
    try:
        import distributed
    except ImportError as exc:
        raise RunnerUnavailable(
            "dask",
            f"the dask step runner needs Dask's distributed package, which is not installed "
            f"({exc.name} is missing): {INSTALL_HINT}",
        ) from exc
    return distributed


def connect(scheduler: str, processes: int) -> tuple[Any, Any]:
    """A client of the scheduler at ``scheduler``, or of a local cluster of ``processes``
    single-threaded worker processes on 127.0.0.1 started now (logged); returns the
    client and the cluster started (or None). :class:`RunnerUnavailable` when neither
    works."""
    distributed = require_distributed()
    try:
        if scheduler:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            return client, None
        return _local_cluster(distributed, processes)
    except Exception as exc:
        what = f"{type(exc).__name__}: {exc}"
        message = (
            f"cannot reach the Dask scheduler at {scheduler} ({what}); is it running? (the "
            "dask_scheduler setting, --dask-scheduler, $WFKIT_DASK_SCHEDULER)"
            if scheduler
            else f"cannot start a local Dask cluster ({what}); give the address of a "
            "running scheduler instead (dask_scheduler)"
        )
        raise RunnerUnavailable("dask", message) from exc


def _local_cluster(distributed: Any, processes: int) -> tuple[Any, Any]:
    """Dask itself retries nothing on this cluster (``allowed_failures=0``): a worker
    that dies fails its task at once, for the step's retry policy."""
    cluster = distributed.LocalCluster(
        n_workers=processes,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"allowed_failures": 0},
    )
    client = distributed.Client(cluster, set_as_default=False)
    log.info(
        "wfkit started a Dask LocalCluster of %d worker processes at %s (dashboard: %s); "
        "give a scheduler address (dask_scheduler) to use a cluster of your own",
        processes,
        cluster.scheduler_address,
        client.dashboard_link,
    )
    return client, cluster


def outcome_of(task: TaskSpec, result: Any) -> TaskOutcome:
    """What a task's future gave (its result, or the exception fetching it raised), as
    an outcome (never raises)."""
    if not isinstance(result, BaseException):
        return failure("InvalidStepOutcome", f"{step_label(task)}: a worker gave {result!r}")
    name = type(result).__name__
    if name == "KilledWorker":
        return failure(
            "KilledWorker",
            f"{step_label(task)}: the Dask worker running it died (killed, out of memory, "
            f"or crashed): {result}",
        )
    if isinstance(result, asyncio.CancelledError) or name in (
        "CancelledError",
        "FutureCancelledError",
    ):
        return lost(task, result)
    return failure(name, f"{step_label(task)}: {result}", stack_trace=format_trace(result))


def lost(task: TaskSpec, exc: BaseException | None) -> TaskOutcome:
    """The failure of a task Dask dropped without running it to an end (not cancelled
    by wfkit: the scheduler connection was lost, say)."""
    why = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return failure(
        "RunnerUnavailable",
        f"{step_label(task)}: the Dask scheduler dropped the task{why}; its connection may "
        "have been lost",
    )


def missing_resources(client: Any, wanted: Mapping[str, float]) -> str | None:
    """Why no worker of the cluster can run a task that needs ``wanted``, or None."""
    workers = client.scheduler_info().get("workers", {})
    for info in workers.values():
        offered = info.get("resources") or {}
        if all(offered.get(name, 0) >= amount for name, amount in wanted.items()):
            return None
    offers = sorted(
        {
            ", ".join(f"{k}={v:g}" for k, v in (i.get("resources") or {}).items()) or "none"
            for i in workers.values()
        }
    )
    asked = ", ".join(f"{k}={v:g}" for k, v in wanted.items())
    return (
        f"no worker of the Dask cluster offers the resources the step asks for ({asked}); "
        f"its {len(workers)} workers offer: {'; '.join(offers) or 'nothing'}. Start workers "
        f'with them (dask worker --resources "{asked.replace(", ", ",")}"), or change the '
        "step's resources"
    )
