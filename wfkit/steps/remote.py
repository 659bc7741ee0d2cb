"""What runs on a Dask worker: one task through the built-in step handlers.

The dask runner (:mod:`wfkit.steps.dask_runner`) submits :func:`run_on_worker` with the
:class:`~wfkit.engine.protocols.TaskSpec`; the worker process imports this module (so
a worker needs wfkit installed, with what its steps import) and runs the task exactly
as the local runner would: a ``call`` imports its function there, a ``shell`` or
``notebook`` step starts its process there (with the watchdog that kills it if the
worker process dies).

Paths: a worker that sees the engine's working directory (a cluster on the same machine,
or a shared filesystem) uses the task's paths as they are; one that does not uses its
own working directory, and the definitions folder at the same place relative to it
(:attr:`~wfkit.engine.protocols.TaskSpec.definitions_relative`): start workers in a
checkout of the project.

Cancellation: each running task's :class:`~wfkit.steps.base.CancelToken` is watched by
one thread per worker process, which cancels it (killing its subprocess) as soon as
Dask no longer wants the task: the engine cancelled its future (terminate, close) or its
client went away (the engine died). The outcome carries the worker's address in its
details (``ranOn``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any

from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.steps.base import CancelToken, TaskHandler, run_handler

__all__ = ["RAN_ON", "WATCH_INTERVAL", "run_on_worker"]

RAN_ON = "ranOn"
"""The key of an outcome's details that says where the task ran: a Dask worker's
address (no key: the engine's own process)."""

WATCH_INTERVAL = 0.05
"""Seconds between two looks of a worker's watcher at the tasks Dask still wants."""

_LIVE_STATES = frozenset({"executing", "long-running"})
_IMPORT_ERRORS = frozenset({"ModuleNotFoundError", "ImportError"})

_lock = threading.Lock()
_running: dict[Any, CancelToken] = {}  # Dask key -> the token of the task it runs
_watcher: threading.Thread | None = None
_handlers: dict[str, TaskHandler] = {}


def run_on_worker(task: TaskSpec) -> TaskOutcome:
    """Run ``task`` on this Dask worker; the outcome says where (``details["ranOn"]``)."""
    from distributed import get_worker

    worker = get_worker()
    key = worker.get_current_task()
    token = CancelToken()
    _watch(worker, key, token)
    try:
        outcome = _run(_placed(task), token)
    finally:
        with _lock:
            _running.pop(key, None)
    address = str(worker.address)
    if outcome.error_type in _IMPORT_ERRORS and task.kind == "call":
        outcome = dataclasses.replace(
            outcome,
            error_message=f"{outcome.error_message} (on Dask worker {address}: a worker "
            "needs the step's module importable, either installed in its environment or "
            "in its working directory beside the definitions)",
        )
    return dataclasses.replace(outcome, details={**outcome.details, RAN_ON: address})


def _run(task: TaskSpec, token: CancelToken) -> TaskOutcome:
    if not _handlers:
        from wfkit.steps.runner import default_handlers

        _handlers.update(default_handlers())
    return run_handler(_handlers, task, token, "a Dask worker")


def _placed(task: TaskSpec) -> TaskSpec:
    """``task`` with paths that mean something on this worker (see the module docstring)."""
    if os.path.isdir(task.workdir):
        return task
    here = os.getcwd()
    relative = task.definitions_relative
    definitions = os.path.join(here, relative) if relative is not None else here
    return dataclasses.replace(task, workdir=here, definitions_dir=definitions)


def _watch(worker: Any, key: Any, token: CancelToken) -> None:
    """Register a running task with this process's watcher (started on first use)."""
    global _watcher
    with _lock:
        _running[key] = token
        if _watcher is None or not _watcher.is_alive():
            _watcher = threading.Thread(
                target=_watch_loop, args=(worker,), name="wfkit-dask-watch", daemon=True
            )
            _watcher.start()


def _watch_loop(worker: Any) -> None:
    """Cancel the tasks Dask no longer wants (cancelled, released, or their client gone)."""
    while True:
        time.sleep(WATCH_INTERVAL)
        with _lock:
            running = list(_running.items())
        for key, token in running:
            state = worker.state.tasks.get(key)
            if state is None or state.state not in _LIVE_STATES:
                token.cancel()
