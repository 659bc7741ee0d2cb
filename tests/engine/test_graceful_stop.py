"""A graceful stop (``Runtime.close(drain=...)``, what ``wfkit worker`` does when it is
told to stop): running steps may finish and are recorded, nothing new starts, and the
next engine runs what is left, so that no finished step runs twice."""

from __future__ import annotations

import threading
import time
from typing import Any

from wfkit.engine.core.history import TaskCompleted, TaskScheduled
from wfkit.engine.core.status import RuntimeStatus

CHAIN = """
steps:
  first: {call: "STEPS:slow", with: {name: first, seconds: 0.6}}
  second: {call: "STEPS:slow", with: {name: second, seconds: 0.01}, needs: [first]}
"""

FAN = """
steps:
  a: {call: "STEPS:slow", with: {name: a, seconds: 0.6}}
  b: {call: "STEPS:slow", with: {name: b, seconds: 0.01}}
  c: {call: "STEPS:slow", with: {name: c, seconds: 0.01}}
"""


def _starts(env: Any, step: str) -> int:
    return sum(1 for n in env.notes(step) if n.get("phase") == "start")


def _closed_while_running(env: Any, rt: Any, step: str, drain: float) -> float:
    env.eventually(lambda: _starts(env, step) == 1)
    began = time.monotonic()
    rt.close(drain=drain)
    return time.monotonic() - began


def test_a_step_that_ends_within_the_drain_is_recorded_and_the_next_waits(env: Any) -> None:
    env.define("chain", CHAIN)
    rt = env.runtime()
    job = rt.start("chain")
    took = _closed_while_running(env, rt, "first", drain=5.0)
    assert took < 3.0  # it waited for the step, not for the whole drain
    again = env.runtime()
    events = again.instance(job.id).history()
    done = [e.step for e in events if isinstance(e, TaskCompleted)]
    scheduled = [e.step for e in events if isinstance(e, TaskScheduled)]
    assert done == ["first"] and scheduled == ["first", "second"], (done, scheduled)
    assert _starts(env, "second") == 0  # scheduled, but not started while stopping
    finished = again.instance(job.id).wait(10)
    assert finished.status is RuntimeStatus.COMPLETED
    assert _starts(env, "first") == 1 and _starts(env, "second") == 1  # nothing ran twice


def test_tasks_waiting_for_a_worker_do_not_start_during_a_drain(env: Any) -> None:
    env.define("fan", FAN)
    rt = env.runtime(workers=1)  # a runs; b and c wait in the queue
    job = rt.start("fan")
    _closed_while_running(env, rt, "a", drain=5.0)
    assert _starts(env, "b") == _starts(env, "c") == 0
    again = env.runtime()
    assert again.instance(job.id).wait(10).status is RuntimeStatus.COMPLETED
    assert [_starts(env, s) for s in "abc"] == [1, 1, 1]


def test_a_step_longer_than_the_drain_is_left_to_the_next_engine(env: Any) -> None:
    env.define("chain", CHAIN)
    rt = env.runtime()
    job = rt.start("chain")
    took = _closed_while_running(env, rt, "first", drain=0.1)
    assert took < 2.0
    events = env.runtime(engine=False).instance(job.id).history()
    assert not [e for e in events if isinstance(e, TaskCompleted)]  # not recorded: in flight
    assert env.runtime().instance(job.id).wait(10).status is RuntimeStatus.COMPLETED
    assert _starts(env, "first") == 2  # at-least-once: it ran again


LONG = """
steps:
  first: {call: "STEPS:slow", with: {name: first, seconds: 1.7}}
"""


def test_a_drain_claims_no_new_instance(env: Any) -> None:
    """The engine claims free instances every 0.5 to 1.5 s: a drain longer than that
    would take the other instance, were claims not stopped."""
    env.define("chain", LONG)
    rt = env.runtime()
    rt.start("chain")
    env.eventually(lambda: _starts(env, "first") == 1)
    other = env.runtime(engine=False)
    waiting = other.start("chain")  # free in the store while rt drains
    closing = threading.Thread(target=rt.close, kwargs={"drain": 5.0})
    closing.start()
    closing.join(10)
    events = other.instance(waiting.id).history()
    assert [type(e).__name__ for e in events] == ["ExecutionStarted"]
