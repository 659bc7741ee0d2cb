"""Instance.wait(until=...): waiting for a breakpoint, an event wait, an idle run or any
condition, on a real engine and a SQLite file, without polling the store all the time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import wfkit
from wfkit import Instance, RuntimeStatus
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.runtime.waiting import UnknownCondition, Until

STEPS = """\
import time

def nap(seconds):
    time.sleep(seconds)
    return seconds
"""

GATE = """\
wfkit: 1
name: gate
inputs:
  seconds: {type: number, minimum: 0, default: 0}
  amount: {type: number, default: 500}
steps:
  slow: {call: "waitsteps:nap", with: {seconds: "${{ inputs.seconds }}"}}
  approve:
    when: ${{ inputs.amount > 100 }}
    wait: {event: ok}
    needs: [slow]
  done: {call: "waitsteps:nap", with: {seconds: 0}, needs: [approve], pause_before: true}
"""

CHAIN = """\
wfkit: 1
name: chain
inputs: {seconds: {type: number, minimum: 0, default: 0}}
steps:
  a: {call: "waitsteps:nap", with: {seconds: "${{ inputs.seconds }}"}}
  b: {call: "waitsteps:nap", with: {seconds: "${{ inputs.seconds }}"}, needs: [a]}
  c: {call: "waitsteps:nap", with: {seconds: 0}, needs: [b]}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "waitsteps.py").write_text(STEPS)
    (defs / "gate.yaml").write_text(GATE)
    (defs / "chain.yaml").write_text(CHAIN)
    return tmp_path


@pytest.fixture
def rt(folder: Path) -> Iterator[Runtime]:
    runtime = wfkit.open(folder / "defs", f"sqlite:///{folder / 'wait.db'}", workers=2)
    yield runtime
    runtime.close()


def _timed(instance: Instance, **kwargs: object) -> float:
    started = time.monotonic()
    instance.wait(10, **kwargs)  # type: ignore[arg-type]
    return time.monotonic() - started


def test_until_waiting_returns_when_the_wait_step_waits(rt: Runtime) -> None:
    job = rt.start("gate", instance_id="gate-1", seconds=0.3)
    took = _timed(job, until="waiting")
    assert took >= 0.25
    assert job.status is RuntimeStatus.RUNNING
    assert job.properties["wfkit.steps.waiting_now"] == "approve"
    assert job.properties["dapr.workflow.custom_status"] == "waiting for event 'ok'"
    assert _timed(job, until="waiting") < 0.5  # it holds already: one read, no wait


def test_until_suspended_stops_at_the_breakpoint(rt: Runtime) -> None:
    job = rt.start("gate", instance_id="gate-2")
    job.raise_event("ok", {"by": "ana"})  # buffered until approve waits
    job.wait(10, until="suspended")
    assert job.status is RuntimeStatus.SUSPENDED
    assert job.properties["wfkit.paused_at"] == "done"
    assert job.steps["approve"].output == {"by": "ana"}
    job.resume()
    assert job.wait(10).status is RuntimeStatus.COMPLETED


def test_until_idle_waits_for_the_step_a_pause_let_finish(rt: Runtime) -> None:
    job = rt.start("chain", instance_id="chain-1", seconds=0.5)
    job.wait(10, until=lambda j: j.steps["a"].status == "running")
    job.pause()
    job.wait(10, until="suspended")  # at once: `a` is still running
    assert job.steps["a"].status == "running"
    took = _timed(job, until="idle")
    assert job.steps["a"].status == "completed" and took >= 0.2
    assert job.status is RuntimeStatus.SUSPENDED and job.steps["b"].status == "pending"


def test_until_idle_after_each_step(rt: Runtime) -> None:
    job = rt.start("chain", instance_id="chain-2", seconds=0.2)
    job.pause()
    job.wait(10, until="idle")
    for done in ("a", "b", "c"):
        if job.status.is_terminal:
            break
        job.step()
        job.wait(10, until="idle")
        assert job.steps[done].status == "completed", job.steps
    assert job.wait(10).status is RuntimeStatus.COMPLETED


def test_until_idle_when_a_wait_step_waits(rt: Runtime) -> None:
    job = rt.start("gate", instance_id="gate-3", seconds=0.2)
    job.wait(10, until="idle")
    assert job.status is RuntimeStatus.RUNNING
    assert job.properties["wfkit.steps.waiting_now"] == "approve"


def test_a_run_that_ends_ends_every_wait(rt: Runtime) -> None:
    job = rt.start("chain", instance_id="chain-3")
    job.wait(10, until=lambda j: False)
    assert job.status is RuntimeStatus.COMPLETED
    assert job.wait(10, until="waiting").status is RuntimeStatus.COMPLETED


def test_the_timeout_says_what_the_run_is_still_doing(rt: Runtime) -> None:
    job = rt.start("gate", instance_id="gate-4")
    job.wait(10, until="waiting")
    with pytest.raises(TimeoutError) as caught:
        job.wait(0.2)
    assert str(caught.value) == (
        "gave up after 0.2 s waiting until workflow 'gate-4' ends: "
        "it is still RUNNING, waiting for event 'ok'"
    )
    small = rt.start("gate", instance_id="gate-5", amount=50)  # approve is skipped
    with pytest.raises(
        TimeoutError,
        match="until workflow 'gate-5' waits for an event: it is "
        "still SUSPENDED, paused at the breakpoint before done",
    ):
        small.wait(0.5, until="waiting")

    def approved(instance: Instance) -> bool:
        return instance.steps["approve"].status == "completed"

    with pytest.raises(
        TimeoutError,
        match=r"until test_the_timeout_says.*\.approved\(instance\) "
        "is true for workflow 'gate-4': it is still RUNNING",
    ):
        job.wait(0.2, until=approved)


def test_mistakes_are_named(rt: Runtime) -> None:
    job = rt.start("chain", instance_id="chain-4")
    with pytest.raises(UnknownCondition, match=r"'idel'.*did you mean 'idle'\?") as caught:
        job.wait(until="idel")  # type: ignore[arg-type]
    assert caught.value.name == "idel" and isinstance(caught.value, wfkit.WfkitError)
    with pytest.raises(TypeError, match="not both"):
        job.wait(until="idle", stop_when_suspended=True)
    assert job.wait(10, stop_when_suspended=True).status is RuntimeStatus.COMPLETED


def test_waiting_costs_the_waiting_thread_almost_no_cpu(rt: Runtime) -> None:
    """Waiting a second for each kind of condition uses a few ms of the waiter's CPU: it
    sleeps until the engine commits, rather than reading the store in a loop."""
    job = rt.start("chain", instance_id="chain-5", seconds=1.0)
    cpu = time.thread_time()
    job.wait(10, until=lambda j: j.steps["b"].status == "running")
    assert time.thread_time() - cpu < 0.15
    gate = rt.start("gate", instance_id="gate-6", seconds=1.0)
    cpu = time.thread_time()
    gate.wait(10, until="waiting")
    assert time.thread_time() - cpu < 0.15
    cpu = time.thread_time()
    job.wait(10)
    assert time.thread_time() - cpu < 0.15
    in_vain: list[Until] = ["suspended", "terminal", lambda j: False]  # a second each
    for until in in_vain:
        cpu = time.thread_time()
        with pytest.raises(TimeoutError):
            gate.wait(1.0, until=until)
        assert time.thread_time() - cpu < 0.15, until


def test_an_instance_run_by_another_engine(rt: Runtime, folder: Path) -> None:
    """A runtime without an engine (another process, say) waits by reading the store."""
    settings = Settings(str(folder / "defs"), f"sqlite:///{folder / 'wait.db'}", 1)
    watcher = Runtime(settings, run_engine=False)
    try:
        rt.start("gate", instance_id="gate-7", seconds=0.3)
        job = watcher.instance("gate-7")
        assert not watcher.engine.owns(job.id)
        job.wait(10, until="waiting")
        assert job.properties["wfkit.steps.waiting_now"] == "approve"
        answer = threading.Timer(0.2, lambda: rt.instance("gate-7").raise_event("ok", 1))
        answer.start()
        job.wait(10, until="suspended")
        answer.join()
        assert job.properties["wfkit.paused_at"] == "done"
    finally:
        watcher.close()


def test_a_watcher_reads_an_instance_run_elsewhere_only_when_the_store_changes(
    rt: Runtime, folder: Path
) -> None:
    """Waiting in vain on an instance no commit touches reads its row a couple of times,
    not at intervals (the store tells of changes: Store.wait_for_change)."""
    settings = Settings(str(folder / "defs"), f"sqlite:///{folder / 'wait.db'}", 1)
    watcher = Runtime(settings, run_engine=False)
    try:
        rt.start("gate", instance_id="gate-8")
        rt.instance("gate-8").wait(10, until="waiting")
        reads = 0
        real_get = watcher.store.get

        def counted(instance_id: str) -> object:
            nonlocal reads
            reads += 1
            return real_get(instance_id)

        watcher.store.get = counted  # type: ignore[method-assign,assignment]
        with pytest.raises(TimeoutError):
            watcher.instance("gate-8").wait(1.5, until=lambda j: False)
        # polling read it 10 times; now: the first check, the last, the timeout message, and
        # a look after each of the other engine's idle claims and renewals (write transactions)
        assert reads <= 7
    finally:
        watcher.close()
