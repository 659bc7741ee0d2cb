"""The local step runner: a pool of worker threads running tasks through kind handlers.

:class:`LocalRunner` implements :class:`wfkit.engine.protocols.StepRunner`. Tasks wait in
one queue; each of ``workers`` threads takes the next one, looks its kind up in the
handler mapping and calls ``done(task, outcome)`` when the handler returns, on that
worker thread. A handler that raises gives a failure outcome; the worker lives on.

Cancellation (``cancel(instance_id)``) covers every task of the instance that has not
finished: a queued task never starts, a running one has its :class:`CancelToken`
cancelled (its subprocess is killed, a thread running a Python function is abandoned)
and its outcome is thrown away, so ``done`` is never called for it. A worker whose task
was cancelled is retired and a fresh worker takes its place at once, so a stuck Python
function never costs the pool a slot. A task that had already finished when ``cancel``
was called is not cancelled: its ``done`` may still be running when ``cancel`` returns.

A task submitted from inside a ``done`` callback (the engine deciding the next step of a
chain on the worker that finished the last one) is kept by that worker and run next,
without going through the queue: the first one only, the others are queued for any
worker. A chain of steps then runs on one thread with no hand-off between steps.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Mapping

from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.errors import RunnerClosed
from wfkit.steps.base import CancelToken, TaskHandler, run_handler, wait_until
from wfkit.steps.call import CallHandler
from wfkit.steps.notebook import NotebookHandler
from wfkit.steps.shell import ShellHandler

__all__ = ["Done", "LocalRunner", "default_handlers"]

log = logging.getLogger("wfkit.steps")

Done = Callable[[TaskSpec, TaskOutcome], None]
"""The callback of :meth:`LocalRunner.submit`: called once with the task and its outcome."""


def default_handlers() -> dict[str, TaskHandler]:
    """A new mapping of the built-in step kinds to their handlers: call, shell, notebook."""
    handlers: list[TaskHandler] = [CallHandler(), ShellHandler(), NotebookHandler()]
    return {handler.kind: handler for handler in handlers}


class _Job:
    __slots__ = ("cancelled", "done", "task", "token", "worker")

    def __init__(self, task: TaskSpec, done: Done) -> None:
        self.task = task
        self.done = done
        self.token = CancelToken()
        self.cancelled = False
        self.worker: _Worker | None = None


class _Worker:
    __slots__ = ("retired", "thread")

    def __init__(self) -> None:
        self.retired = False
        self.thread: threading.Thread | None = None


_open_runners: weakref.WeakSet[LocalRunner] = weakref.WeakSet()


@atexit.register
def _close_open_runners() -> None:
    """At interpreter exit, stop what still runs: shell processes and kernels are killed."""
    for runner in list(_open_runners):
        runner.close(timeout=1.0)


class LocalRunner:
    """Runs tasks on ``workers`` threads of this process (default: the CPU count).

    ``handlers`` maps step kinds to :class:`~wfkit.steps.base.TaskHandler` objects
    (default: :func:`default_handlers`). Threads start with the first task. Also a
    context manager (``close()`` on exit); runners still open when the interpreter
    exits are closed then, so their shell processes and kernels do not outlive it.
    """

    def __init__(
        self, handlers: Mapping[str, TaskHandler] | None = None, *, workers: int | None = None
    ) -> None:
        self._handlers = dict(default_handlers() if handlers is None else handlers)
        self.workers = max(1, workers if workers is not None else os.cpu_count() or 1)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._jobs: dict[str, set[_Job]] = {}
        self._threads: set[_Worker] = set()
        self._started = False
        self._closed = False
        self._spawned = 0
        self._local = threading.local()  # .kept: the job a done callback submitted first
        _open_runners.add(self)

    def kinds(self) -> frozenset[str]:
        """The step kinds of the handlers."""
        return frozenset(self._handlers)

    def submit(self, task: TaskSpec, done: Done) -> None:
        """Queue ``task``; ``done(task, outcome)`` is called once from a worker thread,
        unless the task is cancelled first. Raises :class:`~wfkit.errors.RunnerClosed`
        after close."""
        job = _Job(task, done)
        with self._lock:
            if self._closed:
                raise RunnerClosed(task.key)
            jobs = self._jobs.get(task.instance_id)
            if jobs is None:
                jobs = self._jobs[task.instance_id] = set()
            jobs.add(job)
            if not self._started:
                self._started = True
                for _ in range(self.workers):
                    self._spawn()
        local = self._local
        if getattr(local, "keeping", False) and local.kept is None:
            local.kept = job  # run next by this worker, once its done callback returns
            return
        self._queue.put(job)

    def queued(self) -> int:
        """How many submitted tasks wait for a free worker (a hint: it may be stale)."""
        return self._queue.qsize()

    def cancel(self, instance_id: str) -> None:
        """Cancel every queued and running task of the instance (see the module docstring)."""
        with self._lock:
            jobs = self._jobs.pop(instance_id, set())
            replacements = 0
            for job in jobs:
                job.cancelled = True
                if job.worker is not None and not job.worker.retired:
                    job.worker.retired = True
                    replacements += 1
            if not self._closed:
                for _ in range(replacements):
                    self._spawn()
        for job in jobs:
            job.token.cancel()

    def unfinished(self) -> int:
        """How many submitted tasks have not ended yet (running or waiting for a worker)."""
        with self._lock:
            return sum(len(jobs) for jobs in self._jobs.values())

    def drain(self, timeout: float) -> bool:
        """Drop the tasks that wait for a worker (they are never reported: for the
        engine they stay scheduled, and the next owner runs them) and wait up to
        ``timeout`` seconds for the running ones to end and report; True when none is
        left. For a graceful stop: what runs may finish, nothing new starts."""
        with self._lock:
            waiting = [j for jobs in self._jobs.values() for j in jobs if j.worker is None]
            for job in waiting:
                job.cancelled = True  # a worker that takes it from the queue skips it
                self._forget(job)
        return wait_until(self._lock, lambda: not self._jobs, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting tasks, cancel every task, and join the threads for up to
        ``timeout`` seconds in all (threads stuck in an abandoned function are left)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            instances = list(self._jobs)
        _open_runners.discard(self)
        for instance_id in instances:
            self.cancel(instance_id)
        with self._lock:
            workers = list(self._threads)
        for _ in workers:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        current = threading.current_thread()
        for worker in workers:
            if worker.thread is not None and worker.thread is not current:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [
            w.thread.name
            for w in workers
            if w.thread is not None and w.thread is not current and w.thread.is_alive()
        ]
        if stuck:
            log.warning("step runner closed with threads still running: %s", ", ".join(stuck))

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> None:
        """Start one worker thread (called with the lock held)."""
        worker = _Worker()
        self._spawned += 1
        thread = threading.Thread(
            target=self._work, args=(worker,), name=f"wfkit-step-{self._spawned}", daemon=True
        )
        worker.thread = thread
        self._threads.add(worker)
        thread.start()

    def _work(self, worker: _Worker) -> None:
        """A worker's loop: take a job, run it, report it; exit when retired or closed."""
        get = self._queue.get
        lock = self._lock
        local = self._local
        local.keeping = False
        local.kept = None
        kept: _Job | None = None
        try:
            while True:
                job = kept if kept is not None else get()
                kept = None
                if job is None:
                    return
                with lock:
                    if job.cancelled:
                        continue
                    job.worker = worker
                outcome = self._run(job)
                with lock:
                    report = not job.cancelled
                    if report:
                        self._forget(job)
                    retired = worker.retired
                if report:
                    local.keeping = not retired
                    try:
                        _report(job, outcome)
                    finally:
                        local.keeping = False
                        kept, local.kept = local.kept, None
                if retired:
                    if kept is not None:
                        self._queue.put(kept)
                    return
        finally:
            with lock:
                self._threads.discard(worker)

    def _forget(self, job: _Job) -> None:
        """Drop a finished job from its instance's set (called with the lock held)."""
        jobs = self._jobs.get(job.task.instance_id)
        if jobs is not None:
            jobs.discard(job)
            if not jobs:
                del self._jobs[job.task.instance_id]

    def _run(self, job: _Job) -> TaskOutcome:
        return run_handler(self._handlers, job.task, job.token, "this runner")


def _report(job: _Job, outcome: TaskOutcome) -> None:
    try:
        job.done(job.task, outcome)
    except Exception:
        log.exception("the done callback of %s failed", job.task.key)
