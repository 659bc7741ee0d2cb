"""The runtime's frozen read model of an instance: hooks receive snapshots (never the
engine's live state), failures arrive decoded, and a snapshot made at each commit
rebuilds only what the commit touched, yet equals one built from scratch."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

import wfkit
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import replay
from wfkit.runtime.snapshot import (
    Failure,
    InstanceSnapshot,
    SnapshotBuilder,
    build_snapshot,
    decode_failure,
)

STEPS = """\
def echo(x=None):
    return x

def boom(x=None):
    raise ValueError("bad " + str(x))
"""

FLOW = """\
wfkit: 1
name: flow
steps:
  first: {call: "snapsteps:echo", with: {x: 1}}
  each: {call: "snapsteps:echo", foreach: "${{ [1, 2, 3, 4] }}", with: {x: "${{ item }}"},
         needs: [first]}
  gate: {wait: {event: go}, needs: [each]}
  bad: {call: "snapsteps:boom", with: {x: 7}, needs: [gate],
        retry: {max_attempts: 2, initial_interval: 10ms}}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    found = tmp_path / "definitions"
    found.mkdir()
    (found / "snapsteps.py").write_text(STEPS)
    (found / "flow.yaml").write_text(FLOW)
    return found


def _facts(snapshot: InstanceSnapshot) -> tuple[Any, ...]:
    """What must be the same whichever way a snapshot was made (not its time)."""
    steps = tuple(
        dataclasses.replace(step, duration=None, output=None, details=None)
        for step in snapshot.steps
    )
    return (snapshot.status, snapshot.version, snapshot.failure, snapshot.suspend_reason, steps)


def test_hooks_receive_frozen_snapshots_with_decoded_failures(folder: Path, tmp_path: Path) -> None:
    heard: list[dict[str, Any]] = []
    incremental: list[InstanceSnapshot] = []
    from_scratch: list[InstanceSnapshot] = []
    waiting = threading.Event()

    def hook(**kwargs: Any) -> None:
        heard.append(kwargs)
        snapshot = kwargs["snapshot"]
        incremental.append(snapshot)
        if snapshot.waiting_events == ("go",):
            waiting.set()

    runtime = wfkit.open(definitions=str(folder), store=f"sqlite:///{tmp_path / 's.db'}")
    runtime.hooks.append(hook)

    def check(*, instance_id: str, state: Any, **_: Any) -> None:
        # an engine hook after the runtime's: the same state, built again from scratch
        plan = runtime.engine.plan_for(state.definition_hash)
        from_scratch.append(build_snapshot(plan, state))

    runtime.engine.hooks.append(check)
    try:
        job = runtime.start("flow")
        assert waiting.wait(30)
        job.raise_event("go")
        job.wait(30)
    finally:
        runtime.close()
    assert heard and all("state" not in kwargs for kwargs in heard)
    assert all(isinstance(kwargs["snapshot"], InstanceSnapshot) for kwargs in heard)
    with pytest.raises(dataclasses.FrozenInstanceError):
        incremental[-1].status = "RUNNING"  # type: ignore[misc]
    assert [_facts(s) for s in incremental] == [_facts(s) for s in from_scratch]
    last = incremental[-1]
    assert last.status == "FAILED"
    bad = last.step("bad")
    assert bad.failure == Failure("ValueError", "bad 7", bad.traceback)
    assert bad.attempts == 2 and bad.max_attempts == 2
    assert last.step("each").units == (4, 4) and last.step("gate").event == "go"
    assert isinstance(last.failure, Failure) and "bad 7" in last.failure.message


def test_a_commit_builds_again_only_the_steps_it_touched(folder: Path, tmp_path: Path) -> None:
    from wfkit import parse_definition
    from wfkit.engine.core.history import ExecutionStarted, TaskCompleted, TaskScheduled

    plan = WorkflowPlan.of(parse_definition((folder / "flow.yaml").read_text()))
    history = [
        ExecutionStarted(at=1.0, seq=1, name="flow"),
        TaskScheduled(at=2.0, seq=2, step="first", kind="call"),
    ]
    state = replay("i1", history)
    builder = SnapshotBuilder()
    before = builder.build(plan, state, now=3.0)
    done = TaskCompleted(at=3.0, seq=3, step="first", output=1)
    from wfkit.engine.core.state import apply

    apply(state, done)
    after = builder.build(plan, state, [done], now=4.0)
    assert after.step("first").status == "completed" and after.step("first").output == 1
    assert after.step("gate") is before.step("gate")  # untouched: the same object
    assert after.task("first", None) is not None
    assert _facts(after) == _facts(build_snapshot(plan, state, now=4.0))


def test_stored_failures_are_decoded_once_in_the_runtime() -> None:
    assert decode_failure(None) is None and decode_failure("") is None
    text = '{"type": "E", "message": "m"}'
    assert decode_failure(text) == Failure("E", "m", "")
