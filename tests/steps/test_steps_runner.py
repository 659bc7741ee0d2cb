"""LocalRunner: a real pool of threads running real handlers, cancellation and close."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest

from wfkit.engine.protocols import StepRunner, TaskOutcome, TaskSpec
from wfkit.errors import WfkitError
from wfkit.steps import (
    CallHandler,
    CancelToken,
    LocalRunner,
    NotebookHandler,
    ShellHandler,
    TaskHandler,
    default_handlers,
)


class Recorder:
    """A done callback that records every call, with its thread, and can wait for them."""

    def __init__(self) -> None:
        self.calls: list[tuple[TaskSpec, TaskOutcome, str]] = []
        self._cond = threading.Condition()

    def __call__(self, task: TaskSpec, outcome: TaskOutcome) -> None:
        with self._cond:
            self.calls.append((task, outcome, threading.current_thread().name))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= count, timeout)

    def outcome(self, step: str) -> TaskOutcome:
        return next(o for t, o, _ in self.calls if t.step == step)


class SleepHandler:
    """A plugin kind: sleeps ``target`` seconds, records its interval, returns the input."""

    kind = "sleepy"

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        start = time.monotonic()
        cancel.wait(float(task.target))
        with self.lock:
            self.intervals.append((start, time.monotonic()))
        return TaskOutcome(output=task.input)


class BlockHandler:
    """A plugin kind that blocks on an event no cancel can interrupt (like a Python call)."""

    kind = "block"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        self.started.release()
        self.release.wait(30)
        return TaskOutcome(output="released")


class BrokenHandler:
    kind = "broken"

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        raise RuntimeError("handler bug")


def spec(kind: str, target: Any, step: str = "s", instance_id: str = "i", **kw: Any) -> TaskSpec:
    return TaskSpec(instance_id=instance_id, step=step, kind=kind, target=target, **kw)


def test_default_handlers_are_the_built_in_kinds_and_plugins_are_added_by_mapping() -> None:
    handlers = default_handlers()
    assert set(handlers) == {"call", "shell", "notebook"}
    assert isinstance(handlers["call"], CallHandler)
    assert isinstance(handlers["shell"], ShellHandler)
    assert isinstance(handlers["notebook"], NotebookHandler)
    assert all(isinstance(h, TaskHandler) for h in handlers.values())
    runner: StepRunner = LocalRunner({**handlers, "sleepy": SleepHandler()}, workers=1)
    assert runner.kinds() == frozenset({"call", "shell", "notebook", "sleepy"})
    done = Recorder()
    runner.submit(spec("sleepy", 0, input={"x": 1}), done)
    assert done.wait_for(1)
    assert done.calls[0][1].output == {"x": 1}
    runner.close()


@pytest.mark.parametrize("workers", [1, 3])
def test_n_workers_run_n_tasks_at_once(workers: int) -> None:
    sleepy = SleepHandler()
    done = Recorder()
    with LocalRunner({"sleepy": sleepy}, workers=workers) as runner:
        for i in range(3):
            runner.submit(spec("sleepy", 0.3, step=f"s{i}"), done)
        assert done.wait_for(3)
    starts = [s for s, _ in sleepy.intervals]
    ends = [e for _, e in sleepy.intervals]
    overlapping = max(starts) < min(ends)
    assert overlapping == (workers == 3)
    if workers == 1:  # strictly one after the other
        ordered = sorted(sleepy.intervals)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered))


def test_done_is_called_exactly_once_per_task_from_a_pool_thread(folders: Any) -> None:
    name = folders.module("def echo(value):\n    return value\n")
    done = Recorder()
    with LocalRunner(workers=2) as runner:
        for i in range(500):
            runner.submit(folders.task("call", f"{name}:echo", input={"value": i}, index=i), done)
        assert done.wait_for(500)
        time.sleep(0.05)
    counts = Counter(task.index for task, _, _ in done.calls)
    assert len(done.calls) == 500 and set(counts.values()) == {1}
    assert all(outcome.output == task.index for task, outcome, _ in done.calls)
    threads = {thread for _, _, thread in done.calls}
    assert (
        threads <= {"wfkit-step-1", "wfkit-step-2"}
        and threading.current_thread().name not in threads
    )


def test_cancel_drops_queued_and_running_tasks_and_reports_nothing_for_them() -> None:
    block = BlockHandler()
    sleepy = SleepHandler()
    done = Recorder()
    runner = LocalRunner({"block": block, "sleepy": sleepy}, workers=1)
    runner.submit(spec("block", None, step="running", instance_id="a"), done)
    assert block.started.acquire(timeout=5)
    for i in range(5):
        runner.submit(spec("sleepy", 0, step=f"queued{i}", instance_id="a"), done)
    runner.submit(spec("sleepy", 0, step="other", instance_id="b"), done)
    runner.cancel("a")
    # the worker stuck in the blocked task was replaced: b runs although a still blocks
    assert done.wait_for(1)
    assert [t.step for t, _, _ in done.calls] == ["other"]
    block.release.set()  # the abandoned task finishes now; its outcome is thrown away
    time.sleep(0.2)
    assert [t.step for t, _, _ in done.calls] == ["other"]
    assert len(sleepy.intervals) == 1  # the queued tasks of a never started
    runner.close()


def test_cancel_kills_a_running_shell_step_and_reports_nothing(
    folders: Any, grandchild_script: str, read_pids: Any, gone: Any
) -> None:
    pidfile = folders.workdir / "pids"
    done = Recorder()
    with LocalRunner(workers=1) as runner:
        runner.submit(
            folders.task(
                "shell", ("python", "-c", grandchild_script), env={"PIDFILE": str(pidfile)}
            ),
            done,
        )
        parent, grandchild = read_pids(pidfile)
        runner.cancel("inst")
        assert gone(parent) and gone(grandchild)
        time.sleep(0.3)
    assert done.calls == []


def test_a_call_step_timeout_is_reported_once_and_the_late_result_never(folders: Any) -> None:
    name = folders.module(
        "import threading\nrelease = threading.Event()\n"
        "def slow():\n    release.wait(30)\n    return 'late'\n"
    )
    done = Recorder()
    with LocalRunner(workers=1) as runner:
        runner.submit(folders.task("call", f"{name}:slow", timeout=0.2), done)
        assert done.wait_for(1)
        assert done.calls[0][1].error_type == "TimeoutError"
        sys.modules[name].release.set()
        time.sleep(0.2)
    assert len(done.calls) == 1


def test_a_crashing_handler_or_done_callback_never_kills_a_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = Recorder()
    calls: list[str] = []

    def bad_done(task: TaskSpec, outcome: TaskOutcome) -> None:
        calls.append(task.step)
        raise ValueError("listener bug")

    with LocalRunner({"broken": BrokenHandler(), "sleepy": SleepHandler()}, workers=1) as runner:
        runner.submit(spec("broken", None, step="b"), done)
        runner.submit(spec("sleepy", 0, step="after-bad-done"), bad_done)
        runner.submit(spec("nope", None, step="unknown"), done)
        runner.submit(spec("sleepy", 0, step="last", input=1), done)
        assert done.wait_for(3)
    crashed = done.outcome("b")
    assert crashed.error_type == "RuntimeError"
    assert "handler failed unexpectedly" in crashed.error_message
    assert "handler bug" in crashed.stack_trace
    unknown = done.outcome("unknown")
    assert unknown.error_type == "UnknownStepKind"
    assert "it runs: broken, sleepy" in unknown.error_message
    assert done.outcome("last").output == 1
    assert calls == ["after-bad-done"]
    assert "listener bug" in caplog.text


def test_close_cancels_everything_joins_the_threads_and_refuses_new_work(
    folders: Any, grandchild_script: str, read_pids: Any, gone: Any
) -> None:
    pidfile = folders.workdir / "pids"
    done = Recorder()
    runner = LocalRunner(workers=2)
    runner.submit(
        folders.task("shell", ("python", "-c", grandchild_script), env={"PIDFILE": str(pidfile)}),
        done,
    )
    parent, grandchild = read_pids(pidfile)
    before = threading.active_count()
    runner.close()
    assert gone(parent) and gone(grandchild)
    workers = [t for t in threading.enumerate() if t.name.startswith("wfkit-step-")]
    assert workers == []
    assert threading.active_count() < before
    assert done.calls == []
    with pytest.raises(WfkitError, match="closed"):
        runner.submit(spec("call", "m:f"), done)
    runner.close()  # twice is fine


def test_close_gives_up_on_a_stuck_function_after_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    block = BlockHandler()
    runner = LocalRunner({"block": block}, workers=1)
    runner.submit(spec("block", None), Recorder())
    assert block.started.acquire(timeout=5)
    started = time.monotonic()
    runner.close(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert "threads still running" in caplog.text
    block.release.set()


def _seconds_per_task(tasks: list[TaskSpec]) -> float:
    """Submit every task to a 2-worker runner; seconds per task until the last done."""
    finished = threading.Event()
    count = [0]
    lock = threading.Lock()

    def done(task: TaskSpec, outcome: TaskOutcome) -> None:
        with lock:
            count[0] += 1
            if count[0] == len(tasks):
                finished.set()

    with LocalRunner(workers=2) as runner:
        runner.submit(tasks[0], lambda t, o: None)  # warm up: threads, import
        time.sleep(0.05)
        started = time.perf_counter()
        for task in tasks:
            runner.submit(task, done)
        assert finished.wait(30)
        return (time.perf_counter() - started) / len(tasks)


def test_handoff_overhead_is_well_under_50_microseconds_per_task(folders: Any) -> None:
    name = folders.module("def echo(value):\n    return value\n")
    tasks = [folders.task("call", f"{name}:echo", input={"value": i}) for i in range(10_000)]
    best = min(_seconds_per_task(tasks) for _ in range(3))
    echo = sys.modules[name].echo
    started = time.perf_counter()
    for task in tasks:
        echo(**task.input)
    own = (time.perf_counter() - started) / len(tasks)
    print(f"\nhandoff: {(best - own) * 1e6:.1f} us per trivial call task over its own cost")
    assert best - own < 50e-6


def test_runners_left_open_kill_their_processes_when_the_interpreter_exits(
    folders: Any, grandchild_script: str, read_pids: Any, gone: Any
) -> None:
    pidfile = folders.workdir / "pids"
    program = f"""
import os, sys, time
from wfkit.engine.protocols import TaskSpec
from wfkit.steps import LocalRunner
runner = LocalRunner(workers=1)
task = TaskSpec("i", "s", "shell", ("python", "-c", {grandchild_script!r}),
                env={{"PIDFILE": {str(pidfile)!r}}})
runner.submit(task, lambda t, o: None)
while not os.path.exists({str(pidfile)!r}):
    time.sleep(0.01)
time.sleep(0.1)
"""  # exits without closing the runner
    finished = subprocess.run([sys.executable, "-c", program], timeout=30, check=False)
    assert finished.returncode == 0
    parent, grandchild = read_pids(pidfile)
    assert gone(parent) and gone(grandchild)


def test_close_from_a_done_callback_does_not_deadlock() -> None:
    closed = threading.Event()
    runner = LocalRunner({"sleepy": SleepHandler()}, workers=2)

    def done(task: TaskSpec, outcome: TaskOutcome) -> None:
        runner.close(timeout=2)
        closed.set()

    runner.submit(spec("sleepy", 0), done)
    assert closed.wait(5)
    with pytest.raises(WfkitError):
        runner.submit(spec("sleepy", 0), done)


class ThreadNameHandler:
    """A plugin kind that returns the name of the thread it runs on."""

    kind = "where"

    def run(self, task: TaskSpec, cancel: CancelToken) -> TaskOutcome:
        return TaskOutcome(output=threading.current_thread().name)


def test_a_task_submitted_by_a_done_callback_runs_next_on_the_same_worker() -> None:
    """A chain (each result submits the next step) stays on one thread: no hand-off."""
    runner = LocalRunner({"where": ThreadNameHandler()}, workers=4)
    threads: list[tuple[str, str]] = []  # (ran on, reported on)
    finished = threading.Event()

    def done(task: TaskSpec, outcome: TaskOutcome) -> None:
        threads.append((outcome.output, threading.current_thread().name))
        if task.attempt < 50:
            runner.submit(TaskSpec("i", "s", "where", None, attempt=task.attempt + 1), done)
            runner.submit(TaskSpec("j", "t", "where", None), lambda *_: None)  # queued
        else:
            finished.set()

    with runner:
        runner.submit(TaskSpec("i", "s", "where", None), done)
        assert finished.wait(10)
    assert len(threads) == 50
    assert len({ran for ran, _ in threads}) == 1, threads
    assert all(ran == reported for ran, reported in threads)


def test_a_kept_task_is_cancelled_like_a_queued_one() -> None:
    runner = LocalRunner({"where": ThreadNameHandler()}, workers=1)
    reported: list[str] = []

    def done(task: TaskSpec, outcome: TaskOutcome) -> None:
        reported.append(task.step)
        if task.step == "first":
            runner.submit(TaskSpec("i", "second", "where", None), done)
            runner.cancel("i")  # before the worker gets to it

    with runner:
        runner.submit(TaskSpec("i", "first", "where", None), done)
        runner.submit(TaskSpec("k", "other", "where", None), done)
        deadline = time.monotonic() + 10
        while "other" not in reported and time.monotonic() < deadline:
            time.sleep(0.01)
    assert reported == ["first", "other"]
