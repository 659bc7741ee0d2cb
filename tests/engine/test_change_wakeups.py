"""The engine's loop wakes on the store's change notifications instead of polling it.

Another process's ``raise-event`` or ``pause`` (a real ``python -m wfkit`` subprocess)
reaches the engine that owns the instance although its safety poll is set to an hour:
only the store's change token can have told it. And an idle engine that owns an instance
reads the store's versions (and looks for free instances) far less often than once per
poll interval, as it did when it polled.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from wfkit.runtime.api import Runtime

WAITS = """
steps:
  wait: {wait: {event: go}}
  after: {call: STEPS:echo, with: {step: after}, needs: [wait]}
"""


def _engine(env: Any, **settings: float) -> Runtime:
    runtime: Runtime = env.runtime()
    runtime.engine.settings = dataclasses.replace(runtime.engine.settings, **settings)
    return runtime


def _cli(env: Any, *args: str) -> None:
    argv = [sys.executable, "-m", "wfkit", *args, "--store", env.store]
    argv += ["--definitions", str(env.definitions)]
    done = subprocess.run(argv, cwd=env.root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _until_known(runtime: Runtime, instance_id: str, status: str, timeout: float) -> str | None:
    """Wait for the engine's own status of an owned instance (no store read) to be
    ``status``; returns the last one seen."""
    deadline = time.monotonic() + timeout
    known = runtime.engine.known_status(instance_id)
    while known != status and time.monotonic() < deadline:
        runtime.engine.wait_status_change(0.2)
        known = runtime.engine.known_status(instance_id)
    return known


def test_another_process_event_reaches_the_owner_without_a_poll(env: Any) -> None:
    env.define("waits", WAITS)
    runtime = _engine(env, safety_poll_interval=3600.0, claim_interval=3600.0)
    job = runtime.start("waits")
    assert _until_known(runtime, job.id, "RUNNING", 30) == "RUNNING"
    assert runtime.engine.owns(job.id)
    _cli(env, "raise-event", job.id, "go", '{"n": 1}')
    job.wait(timeout=30)  # the owner consumed it and ran `after`
    assert job.status.value == "COMPLETED"
    assert [note["args"] for note in env.notes("echo")] == [{"step": "after"}]


def test_another_process_pause_reaches_the_owner_without_a_poll(env: Any) -> None:
    env.define("waits", WAITS)
    runtime = _engine(env, safety_poll_interval=3600.0, claim_interval=3600.0)
    job = runtime.start("waits")
    assert _until_known(runtime, job.id, "RUNNING", 30) == "RUNNING"
    _cli(env, "pause", job.id)
    assert _until_known(runtime, job.id, "SUSPENDED", 30) == "SUSPENDED"
    assert runtime.engine.owns(job.id)  # still its owner: it folded the pause


def _counting(store: Any, name: str, calls: list[str], after: Callable[[], None]) -> None:
    real = getattr(store, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(name)
        after()
        return result

    setattr(store, name, counted)  # on this store object only: the engine's


def test_an_idle_engine_reads_the_store_far_less_than_every_poll_interval(env: Any) -> None:
    """Counted between lease renewals (one a second): polling every 50 ms read versions
    about 20 times and looked for free instances about 20 times a second."""
    env.define("waits", WAITS)
    runtime = _engine(env, lease_seconds=3.0, claim_interval=3600.0)
    job = runtime.start("waits")
    assert _until_known(runtime, job.id, "RUNNING", 30) == "RUNNING"
    reads: list[str] = []
    renewed = threading.Condition()
    renewals: list[str] = []

    def tell() -> None:
        with renewed:
            renewed.notify_all()

    store = runtime.engine.store
    _counting(store, "renew", renewals, tell)
    for name in ("versions", "has_free", "get", "history"):
        _counting(store, name, reads, lambda: None)
    with renewed:  # from the first renewal counted to the third: two renewal intervals
        assert renewed.wait_for(lambda: len(renewals) >= 1, timeout=30)
        reads.clear()
        assert renewed.wait_for(lambda: len(renewals) >= 3, timeout=30)
        counted = list(reads)
    per_poll_interval = 2 * runtime.engine.settings.lease_seconds / 3 / 0.05  # 40
    # the safety poll (every second) and the wake after each renewal's own commit
    assert len(counted) <= 12, counted
    assert len(counted) < per_poll_interval / 3
