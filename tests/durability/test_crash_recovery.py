"""Crash recovery with real processes on a real SQLite file (DESIGN.md section 3, Durability).

A runner process (``durability_runner.py``: a Runtime on the store) runs an instance of
``durable`` (a chain, a foreach fan-out, a sleep, two waits fed by raise_event); the test
SIGKILLs it at random moments, many times, and starts a new process on the same store
each time. Between kills it reads the history straight from the store, so the journal
the steps keep can be held against what was committed before each process started.

Set ``WFKIT_TEST_SEED`` to replay one random schedule.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from durability_support import (
    Proc,
    Sandbox,
    completed_keys,
    completion_counts,
    durable_output,
    durable_tasks,
    durable_work_tasks,
    event_problems,
    history,
    journal_count,
    make_sandbox,
    open_store,
    owner_row,
    poll_until,
    read_journal,
    schedule_counts,
    seq_problems,
    spawn_runner,
    spawn_worker,
    wait_ready,
    wait_worker_ready,
)

from wfkit.engine.core.history import (
    EventRaised,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from wfkit.engine.core.state import replay
from wfkit.engine.core.status import Outcome, RuntimeStatus
from wfkit.engine.settings import EngineSettings
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

LEASE = EngineSettings().lease_seconds
ITEMS = list(range(40))
KILLS = 15


def _client(box: Sandbox) -> Runtime:
    """Lifecycle calls from this (test) process, with no engine of its own."""
    return Runtime(
        Settings(definitions=str(box.definitions), store=box.store_url, workers=1),
        run_engine=False,
    )


def _seed() -> int:
    return int(os.environ.get("WFKIT_TEST_SEED") or random.randrange(1 << 30))


def _kill_at_random_moment(
    proc: Proc,
    box: Sandbox,
    version: int,
    rng: random.Random,
    read_version,
    *,
    first_step_start: bool = False,
) -> str:
    """SIGKILL ``proc`` once a random trigger fires: a step just started (journal line),
    a commit just landed (history version), or a random time went by. Returns which.

    ``first_step_start`` kills just after the next step starts (its code sleeps 5-50 ms,
    so it is surely in flight): one such kill makes the at-least-once check meaningful
    whatever the seed, where random triggers alone all missed running steps now and
    then (an idle instance waiting for an event, say)."""
    mode = "journal" if first_step_start else rng.choice(["journal", "version", "time"])
    lines = journal_count(box) + (1 if first_step_start else rng.randint(1, 4))
    target = version + rng.randint(1, 8)
    deadline = time.monotonic() + (rng.uniform(0.02, 0.5) if mode == "time" else 1.0)
    while time.monotonic() < deadline:
        if mode == "journal" and journal_count(box) >= lines:
            break
        if mode == "version" and read_version() >= target:
            break
        time.sleep(0.002)
    proc.kill()
    return mode


def test_sigkill_at_random_moments_keeps_every_durability_promise(tmp_path: Path) -> None:
    seed = _seed()
    rng = random.Random(seed)
    box = make_sandbox(tmp_path)
    store = open_store(box)
    client = _client(box)
    iid = "crash-1"
    start = [("durable", iid, {"items": ITEMS})]
    # Events raised from this process while a runner is alive, in these generations.
    raises = {2: ("GO", {"n": 1}), 7: ("spare", {"x": 1}), 11: ("go", {"n": 2})}
    before: dict[str, set[str]] = {}  # generation -> tasks completed before it started
    # generation -> (journal length, tasks completed) once it was dead
    after_kill: dict[str, tuple[int, set[str]]] = {}
    modes = []
    proc = None
    try:
        for gen in range(KILLS + 1):
            name = f"g{gen:02d}"
            row = store.get(iid)
            before[name] = completed_keys(history(store, iid)) if row else set()
            last = gen == KILLS
            proc = spawn_runner(box, name, start=start, wait=[iid] if last else ())
            wait_ready(proc)
            if gen in raises:
                event, data = raises[gen]
                time.sleep(rng.uniform(0, 0.1))  # a random moment of this generation
                assert client.workflows.raise_event(iid, event, data) is Outcome.APPLY
            if last:
                assert proc.popen.wait(60) == 0, box.log(name).read_text()
                break
            version = store.get(iid).version
            modes.append(
                _kill_at_random_moment(
                    proc,
                    box,
                    version,
                    rng,
                    lambda: store.get(iid).version,
                    first_step_start=gen == 0,
                )
            )
            after_kill[name] = (len(read_journal(box)), completed_keys(history(store, iid)))

        row = store.get(iid)
        events = history(store, iid)
        assert row.status == RuntimeStatus.COMPLETED.value, (seed, row.failure)
        output = client.instance(iid).output
        output["approvals"] = sorted(output["approvals"])
        assert output == durable_output(ITEMS, [1, 2]), seed

        # History: seqs 1..N, each task completed exactly once, each attempt scheduled once.
        assert seq_problems(events) == []
        assert row.version == len(events)
        counts = completion_counts(events)
        assert dict(counts) == {key: 1 for key in durable_tasks(ITEMS)}, seed
        assert [k for k, n in schedule_counts(events).items() if n > 1] == [], seed
        # Events: none lost, each consumed once by one wait, which got its data; the
        # spare one is still buffered.
        assert event_problems(events) == []
        raised = [(e.name, e.data) for e in events if isinstance(e, EventRaised)]
        assert sorted(map(repr, raised)) == sorted(
            map(repr, [("go", {"n": 1}), ("go", {"n": 2}), ("spare", {"x": 1})])
        )
        state = replay(iid, events)
        assert [(e.name, e.data) for e in state.buffered_events()] == [("spare", {"x": 1})]
        waits = [state.steps["approval"].output, state.steps["approval2"].output]
        assert sorted(w["n"] for w in waits) == [1, 2]
        assert state.status is RuntimeStatus.COMPLETED

        # Journal: every step ran; none ran again once its completion was committed
        # (checked against the store before each process started and after each kill;
        # the journal is append-only, so a line's position is its time order).
        journal = read_journal(box)
        assert {line.instance for line in journal} == {iid}
        assert {line.task for line in journal} == durable_work_tasks(ITEMS)
        reruns_after_completion = [line for line in journal if line.task in before[line.generation]]
        for position, done in after_kill.values():
            reruns_after_completion += [line for line in journal[position:] if line.task in done]
        assert reruns_after_completion == [], seed
        # At-least-once: a task in flight when its process died ran again after the kill.
        in_flight = []
        for name, (position, done) in after_kill.items():
            started = {line.task for line in journal[:position] if line.generation == name}
            later = {line.task for line in journal[position:]}
            in_flight += [(name, task, task in later) for task in sorted(started - done)]
        assert in_flight, f"no kill hit a running step (seed {seed}, modes {modes})"
        assert [t for t in in_flight if not t[2]] == [], seed
        print(
            f"seed {seed}: {KILLS} kills ({', '.join(modes)}), {len(journal)} step runs, "
            f"{len(journal) - len(durable_work_tasks(ITEMS))} re-runs, "
            f"{len(in_flight)} tasks in flight at a kill, {len(events)} history events"
        )
    finally:
        if proc is not None:
            proc.kill()
        client.close()
        store.close()


def test_dead_owner_is_taken_over_at_once_not_after_its_lease(tmp_path: Path) -> None:
    box = make_sandbox(tmp_path)
    store = open_store(box)
    iid = "take-1"
    flag = tmp_path / "held.flag"
    first = spawn_runner(box, "a", start=[("holding", iid, {"flag": str(flag)})])
    second = None
    try:
        wait_ready(first)
        poll_until(lambda: flag.exists(), 30, "the held step to run")
        version = store.get(iid).version
        _, pid, lease_until = owner_row(box, iid)
        assert pid == first.pid and lease_until is not None
        first.kill()
        second = spawn_runner(box, "b", wait=[iid])
        poll_until(
            lambda: store.get(iid).version > version, 30, "a new history event", interval=0.005
        )
        took = time.monotonic() - second.started
        first_new_at = time.time()
        print(f"takeover: first new history event {took:.2f} s after the new process started")
        assert took < LEASE / 2, f"taking over a dead owner took {took:.2f} s"
        assert first_new_at < lease_until, "the instance waited for the dead owner's lease"
        assert owner_row(box, iid)[1] == second.pid
        assert second.popen.wait(30) == 0
        row = store.get(iid)
        assert row.status == RuntimeStatus.COMPLETED.value
        journal = read_journal(box)
        assert [(line.task, line.generation) for line in journal] == [
            ("before", "a"),
            ("held", "a"),
            ("held", "b"),  # in flight at the kill: ran again
            ("after", "b"),
        ]
        events = history(store, iid)
        assert seq_problems(events) == []
        assert dict(completion_counts(events)) == {"before": 1, "held": 1, "after": 1}
    finally:
        first.kill()
        if second is not None:
            second.kill()
        store.close()


def test_a_live_owner_keeps_its_instance(tmp_path: Path) -> None:
    box = make_sandbox(tmp_path)
    store = open_store(box)
    iid = "live-1"
    gate = tmp_path / "gate.open"
    owner = spawn_runner(box, "owner", start=[("gated", iid, {"path": str(gate)})], wait=[iid])
    rival = None
    try:
        wait_ready(owner)
        poll_until(lambda: read_journal(box), 30, "the gate step to run")
        rival = spawn_worker(box, "rival")
        wait_worker_ready(box, rival)
        ready_at = time.monotonic()
        _, _, lease = owner_row(box, iid)
        seen = set()

        def renewed_and_rival_tried() -> bool:
            _, pid, until = owner_row(box, iid)
            seen.add(pid)
            return until > lease and time.monotonic() - ready_at > 2.5  # two claim rounds

        poll_until(renewed_and_rival_tried, 3 * LEASE, "the owner to renew its lease")
        assert seen == {owner.pid}, "the rival took the instance from a live owner"
        gate.touch()
        assert owner.popen.wait(30) == 0
        events = history(store, iid)
        assert store.get(iid).status == RuntimeStatus.COMPLETED.value
        assert [k for k, n in schedule_counts(events).items() if n > 1] == []
        assert dict(completion_counts(events)) == {"gate": 1, "after": 1}
        assert {line.generation for line in read_journal(box)} == {"owner"}
        assert seq_problems(events) == []
    finally:
        owner.kill()
        if rival is not None:
            rival.stop()
        store.close()


def test_a_retry_timer_survives_the_crash_of_its_process(tmp_path: Path) -> None:
    box = make_sandbox(tmp_path)
    store = open_store(box)
    iid = "retry-1"
    flag = tmp_path / "failed.once"
    first = spawn_runner(box, "a", start=[("flaky", iid, {"flag": str(flag)})])
    second = None
    try:
        wait_ready(first)
        created = poll_until(
            lambda: [e for e in history(store, iid) if isinstance(e, TimerCreated)],
            30,
            "the retry timer",
        )
        first.kill()
        assert not any(isinstance(e, TimerFired) for e in history(store, iid))
        second = spawn_runner(box, "b", wait=[iid])
        assert second.popen.wait(30) == 0
        assert store.get(iid).status == RuntimeStatus.COMPLETED.value
        events = history(store, iid)
        assert seq_problems(events) == []
        tasks = [
            (type(e).__name__, e.attempt)
            for e in events
            if isinstance(e, TaskScheduled | TaskFailed | TaskCompleted) and e.step == "shaky"
        ]
        assert tasks == [
            ("TaskScheduled", 1),
            ("TaskFailed", 1),
            ("TaskScheduled", 2),
            ("TaskCompleted", 2),
        ]
        (timer,) = created
        assert (timer.purpose, timer.attempt) == ("retry", 2)
        fired = [e for e in events if isinstance(e, TimerFired)]
        assert [e.timer_id for e in fired] == [timer.seq]
        assert fired[0].at >= timer.fire_at
        assert [(line.task, line.generation) for line in read_journal(box)] == [
            ("shaky", "a"),
            ("shaky", "b"),
            ("after", "b"),
        ]
    finally:
        first.kill()
        if second is not None:
            second.kill()
        store.close()
