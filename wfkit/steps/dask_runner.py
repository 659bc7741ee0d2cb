"""The ``dask`` step runner: each task runs on a worker of a Dask cluster.

:class:`DaskRunner` implements :class:`wfkit.engine.protocols.StepRunner` with Dask's
``distributed`` scheduler (the ``dask`` extra: ``pip install 'wfkit[dask]'``). A task
is one Dask task, :func:`wfkit.steps.remote.run_on_worker`, which runs the built-in
handler of its kind on the worker (see :mod:`wfkit.steps.remote` for paths, imports and
cancellation there); its :class:`~wfkit.engine.protocols.TaskOutcome` comes back as the
future's result, with the worker's address in ``details["ranOn"]``.

Which cluster: a ``distributed.Client`` handed in (``wfkit.open(dask_client=...)``),
else the scheduler at ``scheduler`` (the ``dask_scheduler`` setting), else a
``LocalCluster`` of ``workers`` single-threaded worker processes on 127.0.0.1 that the
runner starts on first use (logged, with its dashboard link) and closes with itself.
Nothing connects before the first task, so commands that run no step never start one.

Threads: :meth:`submit` never blocks on Dask: ``client.submit`` only queues the task for
the client's event loop; before the client is connected (and for tasks with resources)
one thread of the runner connects and submits, and it also cancels. On the client's
event loop, a small coroutine per task waits for it and fetches its result in one go
(what ``future.result()`` does), and only queues it: a second thread of the runner calls
the engine's ``done`` (the contract of :class:`~wfkit.engine.protocols.StepRunner`).

Failures: an exception on the worker comes back as the task's failure with the remote
traceback. A worker that dies while running a task fails it with ``KilledWorker``
(the step's retry policy decides what follows; the cluster this runner starts lets
Dask itself retry nothing, ``distributed.scheduler.allowed-failures: 0``; a cluster of
your own retries on other workers as its configuration says before reporting it).
A task whose ``resources`` no worker of the cluster offers waits :data:`RESOURCE_WAIT`
seconds for such a worker to join, then fails with ``ResourcesUnavailable``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.errors import RunnerClosed, RunnerUnavailable
from wfkit.steps.base import failure, format_trace, step_label, wait_until
from wfkit.steps.dask_cluster import (
    connect,
    missing_resources,
    outcome_of,
    require_distributed,
)
from wfkit.steps.remote import run_on_worker

__all__ = ["RESOURCE_WAIT", "SLOTS_PER_THREAD", "DaskRunner"]

log = logging.getLogger("wfkit.steps")

RESOURCE_WAIT = 10.0
"""Seconds a task whose resources no worker offers waits for one that does to join."""
_TICK = 0.25  # seconds between two looks at the tasks waiting for resources
SLOTS_PER_THREAD = 4
"""Tasks the runner takes per thread of the cluster (:attr:`DaskRunner.workers`): a
task on Dask takes a round trip of milliseconds to start and to report, so several per
thread keep the threads busy (the scheduler queues the others itself). With one per
thread, a fan-out of 500 trivial steps on 2 threads cost 3.4 ms an item instead of 2.2."""

Done = Callable[[TaskSpec, TaskOutcome], None]


class _Job:
    __slots__ = ("cancelled", "done", "finished", "future", "task", "wait_until")

    def __init__(self, task: TaskSpec, done: Done) -> None:
        self.task = task
        self.done = done
        self.future: Any = None
        self.cancelled = False
        self.finished = False
        self.wait_until = 0.0  # while its resources are missing: when it gives up


class _Cancel:
    __slots__ = ("futures",)

    def __init__(self, futures: list[Any]) -> None:
        self.futures = futures


class DaskRunner:
    """Runs ``call``, ``shell`` and ``notebook`` tasks on a Dask cluster's workers.

    ``workers`` is the number of worker processes of the cluster it starts when given
    neither ``client`` nor ``scheduler``. Its slots (:attr:`workers`, of which the engine
    hands it about three times as many) are :data:`SLOTS_PER_THREAD` per thread of the
    cluster, as the client last heard of them. ``resource_wait``: see
    :data:`RESOURCE_WAIT`.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        scheduler: str = "",
        client: Any = None,
        resource_wait: float = RESOURCE_WAIT,
    ) -> None:
        require_distributed()
        #: Worker processes of the local cluster this runner starts (when it does).
        self.processes = max(1, workers if workers is not None else os.cpu_count() or 1)
        self._cluster_threads = self.processes  # the cluster's threads, last known
        self.resource_wait = resource_wait
        self._scheduler = scheduler
        self._client: Any = client
        self._own_client = client is None
        self._cluster: Any = None
        self._lock = threading.Lock()
        self._jobs: dict[str, set[_Job]] = {}
        self._outbox: queue.SimpleQueue[_Job | _Cancel | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[tuple[_Job, Any] | None] = queue.SimpleQueue()
        self._awaiting: list[_Job] = []  # submitted, resources missing (submit thread only)
        self._threads: list[threading.Thread] = []
        self._closed = False

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use, or None before the first task."""
        return self._client

    @property
    def workers(self) -> int:
        """Tasks it takes at once: :data:`SLOTS_PER_THREAD` per thread of the cluster, as
        the client's own periodic report from the scheduler (every 2 s by default) last
        said, so that reading it costs no round trip and follows workers that join and
        leave; before it is connected, per worker process it would start (one thread
        each)."""
        client = self._client
        if client is not None:
            # the client's cached identity; no public attribute gives it without a
            # round trip to the scheduler (scheduler_info() and nthreads() both ask)
            info = getattr(client, "_scheduler_identity", None) or {}
            threads = info.get("total_threads") if isinstance(info, dict) else None
            if isinstance(threads, int) and threads > 0:
                self._cluster_threads = threads
        return self._cluster_threads * SLOTS_PER_THREAD

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard's address, when connected to a cluster that has one."""
        client = self._client
        if client is None:
            return None
        try:
            link = client.dashboard_link
        except Exception:  # no dashboard (bokeh missing, or turned off)
            return None
        return str(link) if link else None

    def kinds(self) -> frozenset[str]:
        """The kinds a worker runs: ``call``, ``shell`` and ``notebook``."""
        return frozenset({"call", "shell", "notebook"})

    def submit(self, task: TaskSpec, done: Done) -> None:
        """Hand ``task`` to Dask (``client.submit`` does not wait for the scheduler),
        or to the submitting thread before the client is connected and for a task with
        resources; ``done`` is called once from the reporting thread, unless cancelled.
        :class:`RunnerClosed` after close."""
        job = _Job(task, done)
        with self._lock:
            if self._closed:
                raise RunnerClosed(task.key)
            self._jobs.setdefault(task.instance_id, set()).add(job)
            if not self._threads:
                self._start_threads()
        client = self._client
        if client is not None and not task.resources:
            self._hand(job, client)  # no thread hop: it would cost a GIL switch interval
        else:
            self._outbox.put(job)

    def queued(self) -> int:
        """Tasks not yet handed to the Dask scheduler (a hint)."""
        return self._outbox.qsize()

    def unfinished(self) -> int:
        """Tasks submitted and not reported yet (on the cluster or about to be)."""
        with self._lock:
            return sum(len(jobs) for jobs in self._jobs.values())

    def cancel(self, instance_id: str) -> None:
        """Cancel the instance's tasks: their futures are cancelled (a worker then kills
        a running subprocess, see :mod:`wfkit.steps.remote`) and never reported."""
        with self._lock:
            jobs = self._jobs.pop(instance_id, set())
            for job in jobs:
                job.cancelled = True
            futures = [job.future for job in jobs if job.future is not None]
        if futures:
            self._outbox.put(_Cancel(futures))

    def drain(self, timeout: float) -> bool:
        """Drop the tasks not yet handed to Dask and wait up to ``timeout`` seconds for
        the others (which Dask may still hold in its queue) to end and report."""
        with self._lock:
            for jobs in self._jobs.values():
                for job in [j for j in jobs if j.future is None]:
                    job.cancelled = True
                    jobs.discard(job)
            self._jobs = {k: v for k, v in self._jobs.items() if v}
        return wait_until(self._lock, lambda: not self._jobs, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel every task, stop the threads, and close the client and the cluster
        this runner opened (a client handed in is left open)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            instances = list(self._jobs)
        for instance_id in instances:
            self.cancel(instance_id)
        self._outbox.put(None)
        self._results.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        if self._own_client and self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the submitting thread ------------------------------------------------------

    def _start_threads(self) -> None:
        for target, name in ((self._submit_loop, "submit"), (self._report_loop, "report")):
            thread = threading.Thread(target=target, name=f"wfkit-dask-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _submit_loop(self) -> None:
        while True:
            try:
                order = self._outbox.get(timeout=_TICK if self._awaiting else None)
            except queue.Empty:
                order = _Cancel([])
            if order is None:
                return
            try:
                if isinstance(order, _Job):
                    self._send(order)
                elif order.futures:
                    self._connected().cancel(order.futures)
                if self._awaiting:
                    self._check_resources()
            except Exception:
                log.exception("the dask runner's submitting thread hit an error (ignored)")

    def _send(self, job: _Job) -> None:
        """Connect if need be, then hand the job to Dask (on the submitting thread)."""
        try:
            client = self._connected()
        except RunnerUnavailable as exc:
            message = f"{step_label(job.task)}: {exc}"
            self._results.put((job, failure("RunnerUnavailable", message)))
            return
        future = self._hand(job, client)
        task = job.task
        if future is not None and task.resources and missing_resources(client, task.resources):
            job.wait_until = time.monotonic() + self.resource_wait
            self._awaiting.append(job)

    def _hand(self, job: _Job, client: Any) -> Any:
        """Submit the job's task to Dask; its future, or None (cancelled, or it could not
        be submitted: then its failure is reported)."""
        task = job.task
        with self._lock:
            if job.cancelled:
                return None
        try:
            future = client.submit(
                run_on_worker,
                task,
                key=f"wfkit-{task.key}-{uuid.uuid4().hex[:8]}",
                pure=False,
                resources=task.resources or None,
            )
        except Exception as exc:  # reported as the task's failure: never left unanswered
            message = f"{step_label(task)}: could not hand it to Dask: {type(exc).__name__}: {exc}"
            self._results.put((job, failure("DaskError", message, stack_trace=format_trace(exc))))
            return None
        with self._lock:
            job.future = future
            cancelled = job.cancelled
        if cancelled:  # cancel() ran before the future was known: cancel it here
            self._outbox.put(_Cancel([future]))
            return None
        client.loop.add_callback(self._fetch, client, job, future)
        return future

    async def _fetch(self, client: Any, job: _Job, future: Any) -> None:
        """On the client's event loop: wait for the task and fetch its result in one go
        (as ``future.result()`` does), then queue it for the reporting thread. The
        loop itself never calls ``done``."""
        try:
            item: Any = await client.gather(future, asynchronous=True)
        except BaseException as exc:  # the task's error, KilledWorker, a cancellation
            item = exc
        self._results.put((job, item))

    def _check_resources(self) -> None:
        """Fail the waiting tasks whose wait ran out; forget those that can now run."""
        client, now, still = self._client, time.monotonic(), []
        for job in self._awaiting:
            if job.future.done() or job.cancelled:
                continue
            missing = missing_resources(client, job.task.resources or {})
            if missing is None:
                continue
            if now < job.wait_until:
                still.append(job)
                continue
            message = (
                f"{step_label(job.task)}: {missing} (waited {self.resource_wait:g} s for such "
                "a worker to join)"
            )
            # queued before the cancelled future's own report, which is then ignored
            self._results.put((job, failure("ResourcesUnavailable", message)))
            client.cancel([job.future])
        self._awaiting = still

    def _connected(self) -> Any:
        """The client, connecting (or starting a local cluster) the first time."""
        if self._client is None:
            self._client, self._cluster = connect(self._scheduler, self.processes)
        return self._client

    # -- the reporting thread -------------------------------------------------------

    def _report_loop(self) -> None:
        while True:
            item = self._results.get()
            if item is None:
                return
            job, result = item
            outcome = result if isinstance(result, TaskOutcome) else outcome_of(job.task, result)
            with self._lock:
                if job.cancelled or job.finished:
                    continue
                job.finished = True
                jobs = self._jobs.get(job.task.instance_id)
                if jobs is not None:
                    jobs.discard(job)
                    if not jobs:
                        del self._jobs[job.task.instance_id]
            try:
                job.done(job.task, outcome)
            except Exception:
                log.exception("the done callback of %s failed", job.task.key)
