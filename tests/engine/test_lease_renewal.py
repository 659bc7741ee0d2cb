"""Leases outlive long decisions, and an engine that lost one records nothing more.

Two engines share one SQLite file with a short lease (1.5 s), the second ready to take
over any instance whose lease runs out. A decision that holds the first engine's decision
lock for three leases must not let the second take its instance (and run its steps
again); and once another owner holds an instance, the first engine's results for it are
refused by the store and the instance is dropped there.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from wfkit.engine.core.history import TaskCompleted, TaskScheduled
from wfkit.engine.core.status import RuntimeStatus
from wfkit.runtime.api import Runtime

LEASE = 1.5  # short, yet long enough for a loaded CI machine to renew within it
CHAIN = """
steps:
  a: {call: STEPS:echo, with: {step: a}}
  b: {call: STEPS:echo, with: {step: b}, needs: [a]}
  c: {call: STEPS:echo, with: {step: c}, needs: [b]}
"""


def _engine(env: Any) -> Runtime:
    """A runtime whose engine claims free instances, with short leases and claims."""
    runtime: Runtime = env.runtime(engine=False)
    runtime.engine.settings = dataclasses.replace(
        runtime.engine.settings, lease_seconds=LEASE, claim_interval=0.05, poll_interval=0.02
    )
    runtime.engine.start_background()
    return runtime


def _claims(runtime: Runtime) -> list[str]:
    """The instances ``runtime``'s engine takes from the store (hooks hear of a claim as
    a call with no events)."""
    taken: list[str] = []

    def hook(*, instance_id: str, events: list[Any], **_: Any) -> None:
        if not events:
            taken.append(instance_id)

    runtime.engine.hooks.append(hook)
    return taken


def test_a_decision_longer_than_the_lease_does_not_lose_the_instance(env: Any) -> None:
    env.define("chain", CHAIN)
    first, second = _engine(env), _engine(env)
    taken_by_second = _claims(second)
    spun = threading.Event()

    def long_decision(*, events: list[Any], **_: Any) -> None:
        # called under the decision lock, after `a` completed and `b` was scheduled:
        # three leases of pure Python, the GIL shared as any busy decision shares it
        if any(isinstance(e, TaskCompleted) and e.step == "a" for e in events):
            end = time.monotonic() + 3 * LEASE
            while time.monotonic() < end:
                pass
            spun.set()

    first.engine.hooks.append(long_decision)
    instance = first.start("chain")
    assert instance.wait(20).status is RuntimeStatus.COMPLETED
    assert spun.is_set()
    assert taken_by_second == []
    ran = [note["args"]["step"] for note in env.notes("echo")]  # type: ignore[index]
    assert sorted(ran) == ["a", "b", "c"]  # each step once
    scheduled = [e.step for e in instance.history() if isinstance(e, TaskScheduled)]
    assert scheduled == ["a", "b", "c"]


def test_an_engine_whose_instance_was_taken_over_records_nothing_more_for_it(
    env: Any,
) -> None:
    """The store fences off the old owner: its result for a step is refused even though
    the new owner has not written anything yet, and the old owner forgets the instance."""
    env.define("gated", "steps:\n  a: {call: STEPS:gate, with: {name: a}}\n"
               "  b: {call: STEPS:echo, with: {step: b}, needs: [a]}\n")  # fmt: skip
    first = _engine(env)
    instance = first.start("gated")
    env.eventually(lambda: any(n.get("phase") == "start" for n in env.notes("a")))
    # the lease is taken from under it, as after a stall the renewal thread could not
    # help (a C call holding the GIL, a frozen process): another owner holds it now
    store = first.store
    thief = dataclasses.replace(first.engine.owner, id="thief:1:x")
    store.release(first.engine.owner, [instance.id])
    assert store.claim(thief, 60, ids=[instance.id]) == [instance.id]
    version = instance.row().version
    env.open_gate("a")
    env.eventually(lambda: not first.engine.owns(instance.id))
    assert instance.row().version == version  # nothing recorded by the old owner
    row = instance.row()
    assert row.owner == "thief:1:x" and row.status == RuntimeStatus.RUNNING.value
    assert env.notes("echo") == []  # and b was not started
