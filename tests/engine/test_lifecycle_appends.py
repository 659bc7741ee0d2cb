"""Raising an event, pausing and resuming cost the same whatever the history's length:
they write the row fields an append leads to from the row's stored summary, without
reading the history. Checked against a full replay, on real stores and engines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from wfkit.engine.core.history import EventRaised
from wfkit.engine.core.state import replay
from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.wire.summary import update_for
from wfkit.errors import EventBufferFull, OutputTooLarge
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

BUSY = """
steps:
  work: {call: "STEPS:gate", with: {name: work, seconds: 30}}
  approve: {wait: {event: go}}
  nap: {sleep: 1h}
  later: {call: "STEPS:echo", needs: [work, approve]}
  stop_here: {call: "STEPS:echo", needs: [later], pause_before: true}
"""


def _runtime(env: Any, *, engine: bool, **limits: Any) -> Runtime:
    settings = Settings(definitions=str(env.definitions), store=env.store, workers=2)
    runtime = Runtime(replace(settings, **limits), run_engine=engine)
    env.runtimes.append(runtime)
    return runtime


def _row_matches_a_replay(runtime: Runtime, instance_id: str) -> None:
    row = runtime.store.get(instance_id)
    assert row is not None
    plan = runtime.engine.plan_for(row.definition_hash)
    expected = update_for(plan, replay(instance_id, runtime.workflows.history(instance_id)))
    assert (row.status, row.custom_status, row.properties, row.updated_at) == (
        expected.status,
        expected.custom_status,
        expected.properties,
        expected.updated_at,
    )


def _count_history_reads(runtime: Runtime) -> Callable[[], int]:
    calls: list[object] = []
    real = runtime.store.history

    def history(instance_id: str, after: int = 0) -> Any:
        calls.append(instance_id)
        return real(instance_id, after)

    runtime.store.history = history  # type: ignore[method-assign]
    return lambda: len(calls)


def _busy_instance(env: Any) -> str:
    """An instance with a step running, one waiting for an event and one asleep, left
    by its engine (closed) as it was."""
    env.define("busy", BUSY)
    runner = _runtime(env, engine=True)
    job = runner.start("busy")
    env.eventually(lambda: job.steps["approve"].status == "waiting" and bool(env.notes("work")))
    env.eventually(lambda: job.steps["nap"].status == "waiting")
    runner.close()
    return job.id


def test_events_pauses_and_resumes_write_what_a_replay_gives(env: Any) -> None:
    instance_id = _busy_instance(env)
    reader = _runtime(env, engine=False)
    ops = reader.workflows
    _row_matches_a_replay(reader, instance_id)
    for act in (
        lambda: ops.raise_event(instance_id, "Other", {"n": 1}),
        lambda: ops.pause(instance_id),
        lambda: ops.raise_event(instance_id, "go", [1, 2]),
        lambda: ops.resume(instance_id),
        lambda: ops.resume(instance_id),  # not suspended: a no-op
        lambda: ops.raise_event(instance_id, "other", None),
    ):
        act()
        _row_matches_a_replay(reader, instance_id)
    row = ops.get(instance_id)
    assert row.status == RuntimeStatus.RUNNING.value
    assert row.custom_status == "waiting for event 'go'"


def test_resume_from_a_breakpoint_writes_what_a_replay_gives(env: Any) -> None:
    env.define(
        "stops",
        "steps:\n  a: {call: 'STEPS:echo'}\n  b: {call: 'STEPS:echo', needs: [a], pause_before: true}\n  c: {wait: {event: go}}\n",
    )
    runner = _runtime(env, engine=True)
    job = runner.start("stops")
    env.eventually(lambda: job.status is RuntimeStatus.SUSPENDED)
    runner.close()
    ops_runtime = _runtime(env, engine=False)
    _row_matches_a_replay(ops_runtime, job.id)
    ops_runtime.workflows.resume(job.id)
    _row_matches_a_replay(ops_runtime, job.id)
    assert ops_runtime.workflows.get(job.id).custom_status == "waiting for event 'go'"


def test_raising_pausing_and_resuming_read_no_history(env: Any) -> None:
    env.define("waits", "steps:\n  ok: {wait: {event: go}}\n")
    runtime = _runtime(env, engine=False)
    job = runtime.start("waits")
    for n in range(200):
        job.raise_event("noise", n)
    reads = _count_history_reads(runtime)
    job.raise_event("noise", "one more")
    job.pause()
    job.raise_event("noise", "while paused")
    job.resume()
    assert reads() == 0
    assert len(job.history()) == 1 + 200 + 4
    assert job.properties["wfkit.events_buffered"] == "202"


def test_buffered_events_are_capped_and_the_one_over_is_not_sent(env: Any) -> None:
    env.define("waits", "steps:\n  ok: {wait: {event: go}}\n")
    runtime = _runtime(env, engine=False, max_buffered_events=3)
    job = runtime.start("waits")
    for n in range(3):
        job.raise_event("noise", n)
    with pytest.raises(EventBufferFull) as caught:
        job.raise_event("noise", 3)
    assert caught.value.limit == 3
    assert "max_buffered_events" in str(caught.value)
    assert [e.data for e in job.history() if isinstance(e, EventRaised)] == [0, 1, 2]


def test_event_data_over_the_output_limit_is_refused(env: Any) -> None:
    env.define("waits", "steps:\n  ok: {wait: {event: go}}\n")
    runtime = _runtime(env, engine=False, max_output_bytes=1000)
    job = runtime.start("waits")
    job.raise_event("go", "x" * 990)  # 992 bytes of JSON: just under
    with pytest.raises(OutputTooLarge) as caught:
        job.raise_event("go", "é" * 500)  # 1,002 bytes of JSON in UTF-8
    assert (caught.value.size, caught.value.limit) == (1002, 1000)
    assert "max_output_bytes" in str(caught.value)
    assert len([e for e in job.history() if isinstance(e, EventRaised)]) == 1
