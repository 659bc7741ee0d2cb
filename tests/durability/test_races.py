"""Lifecycle operations racing the engine: pause, resume, terminate and raise_event fired
from several threads of the process that runs the engine and from other processes (the
``wfkit`` command) while steps complete. Afterwards every instance's history must tell a
legal story (checked by replaying it with :func:`wfkit.engine.core.state.replay`)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from durability_support import (
    RUNNER,
    Sandbox,
    after_terminal,
    completion_counts,
    event_problems,
    history,
    make_sandbox,
    owner_row,
    poll_until,
    read_journal,
    schedule_counts,
    seq_problems,
    spawn_runner,
    wait_ready,
)

from wfkit.engine.core.history import (
    EventRaised,
    ExecutionResumed,
    ExecutionSuspended,
    HistoryEvent,
    StepStarted,
    TaskCompleted,
    TaskScheduled,
)
from wfkit.engine.core.state import InstanceState, apply, replay
from wfkit.engine.core.status import Outcome, RuntimeStatus
from wfkit.errors import IllegalTransition
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

RACY_TASKS = {"a", *(f"b[{i}]" for i in range(6)), "w1", "c", "w2", "d"}
INSTANCES = 30
ACTIVE = [
    RuntimeStatus.PENDING.value,
    RuntimeStatus.RUNNING.value,
    RuntimeStatus.SUSPENDED.value,
]
CHAOS_SECONDS = 8.0
TERMINATE_TRIALS = 5
# Only `wfkit` commands aim at these; started early, midway and late in the race, so the
# commands (half a second or more each to start) always have a live target.
CLI_ONLY = {"race-00", "race-13", "race-26"}


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    made = make_sandbox(tmp_path)
    monkeypatch.setenv("WFKIT_TEST_JOURNAL", str(made.journal))
    monkeypatch.setenv("WFKIT_TEST_GEN", "engine")
    return made


def _runtime(box: Sandbox, *, engine: bool = True) -> Runtime:
    settings = Settings(definitions=str(box.definitions), store=box.store_url, workers=4)
    return Runtime(settings, run_engine=engine)


def _cli(box: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "wfkit", *args, "--json"]
    argv += ["--store", box.store_url, "--definitions", str(box.definitions)]
    return subprocess.run(
        argv, cwd=box.root, env=box.env("cli"), capture_output=True, text=True, timeout=60
    )


class Ledger:
    """What the racers did: the data of every event raise that applied, per instance."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raised: dict[str, list[Any]] = defaultdict(list)
        self.ops: Counter[tuple[str, str]] = Counter()
        self.errors: list[str] = []

    def record(self, instance_id: str, op: str, outcome: str, data: Any = None) -> None:
        with self.lock:
            self.ops[op, outcome] += 1
            if op.endswith("raise") and outcome == Outcome.APPLY.value:
                self.raised[instance_id].append(data)


class Targets:
    """Instances started so far (a starter thread adds them during the race); racers aim
    at the ones still active, refreshed from the store every tenth of a second."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = threading.Lock()
        self.ids: list[str] = []

    def add(self, instance_id: str) -> None:
        with self.lock:
            self.ids.append(instance_id)

    def active(self) -> list[str]:
        rows = self.runtime.store.list_instances(status=ACTIVE, limit=1000)
        found = [row.instance_id for row in rows if row.instance_id not in CLI_ONLY]
        with self.lock:
            return found or list(self.ids)


def _starter(runtime: Runtime, targets: Targets, until: float) -> None:
    pace = (until - time.monotonic()) * 0.7 / INSTANCES
    for n in range(INSTANCES):
        instance_id = f"race-{n:02d}"
        slow = {"low": 150, "high": 400} if instance_id in CLI_ONLY else {"low": 40, "high": 120}
        targets.add(runtime.start("racy", instance_id=instance_id, **slow).id)
        time.sleep(pace)


def _pick(rng: random.Random, targets: Targets, cache: dict[str, Any]) -> str | None:
    if time.monotonic() > cache.get("at", 0):
        cache["ids"], cache["at"] = targets.active(), time.monotonic() + 0.1
    return rng.choice(cache["ids"]) if cache["ids"] else None


def _op(rng: random.Random, instance_id: str, names: list[str]) -> str:
    """pause, resume or raise mostly; terminate only for every third instance."""
    weights = [35, 40, 15, 2 if int(instance_id[-2:]) % 3 == 0 else 0]
    return rng.choices(names, weights)[0]


def _thread_racer(
    runtime: Runtime, targets: Targets, ledger: Ledger, name: str, seed: int, until: float
) -> None:
    rng = random.Random(seed)
    cache: dict[str, Any] = {}
    count = 0
    while time.monotonic() < until:
        instance_id = _pick(rng, targets, cache)
        if instance_id is None:
            time.sleep(0.01)
            continue
        instance = runtime.instance(instance_id)
        op = _op(rng, instance_id, ["pause", "resume", "raise", "terminate"])
        try:
            if op == "pause":
                outcome = instance.pause()
            elif op == "resume":
                outcome = instance.resume()
            elif op == "terminate":
                outcome = instance.terminate("racer")
            else:
                count += 1
                data = {"by": name, "n": count}
                outcome = instance.raise_event(rng.choice(["ping", "PING", "Ping"]), data)
                ledger.record(instance_id, op, outcome.value, data)
                continue
            ledger.record(instance_id, op, outcome.value)
        except IllegalTransition:
            ledger.record(instance_id, op, "refused")  # pause/resume of a finished run
        except Exception as exc:  # anything else is a bug: keep it for the assertion
            ledger.errors.append(f"{name} {op} {instance_id}: {type(exc).__name__}: {exc}")
        time.sleep(rng.uniform(0, 0.02))


def _cli_racer(
    box: Sandbox, targets: Targets, ledger: Ledger, name: str, seed: int, until: float
) -> None:
    rng = random.Random(seed)
    count = 0
    while time.monotonic() < until:
        # A command takes about half a second to start, longer than most instances live
        # under fire: the commands have slower instances of their own (the others race
        # them only by sharing the engine and the store).
        rows = [
            r
            for r in targets.runtime.store.list_instances(status=ACTIVE)
            if r.instance_id in CLI_ONLY
        ]
        if not rows:
            time.sleep(0.05)
            continue
        row = rng.choice(rows)
        instance_id = row.instance_id
        if row.status == RuntimeStatus.SUSPENDED.value:
            op = rng.choices(["resume", "raise-event", "pause"], [70, 20, 10])[0]
        else:
            op = rng.choices(["pause", "raise-event", "resume"], [60, 30, 10])[0]
        data = None
        if op == "raise-event":
            count += 1
            data = {"by": name, "n": count}
            done = _cli(box, "raise-event", instance_id, "PinG", json.dumps(data))
        else:
            done = _cli(box, op, instance_id)
        op = "raise" if data else op
        if done.returncode != 0:
            ledger.record(instance_id, f"cli-{op}", "refused")
            if not (op in ("pause", "resume") and "cannot" in done.stderr):
                ledger.errors.append(
                    f"{name} {op} {instance_id}: exit {done.returncode}: {done.stderr.strip()}"
                )
            continue
        outcome = json.loads(done.stdout)["outcome"]
        ledger.record(instance_id, f"cli-{op}", outcome, data)


def _racing_process(box: Sandbox, seed: int) -> tuple[subprocess.Popen[str], Path]:
    """A second process firing lifecycle operations through its own client runtime."""
    ledger = box.root / f"ledger-{seed}.jsonl"
    argv = [sys.executable, str(RUNNER), "--store", box.store_url, "--definitions"]
    argv += [str(box.definitions), "--race", str(CHAOS_SECONDS), "--seed", str(seed)]
    argv += ["--ledger", str(ledger)]
    log = box.log(f"racer-{seed}").open("a")
    process = subprocess.Popen(
        argv, cwd=box.root, env=box.env("racer"), stdout=subprocess.DEVNULL, stderr=log, text=True
    )
    log.close()
    return process, ledger


def _legal_story(instance_id: str, events: list[HistoryEvent]) -> list[str]:
    """Problems with one history, found by folding it event by event."""
    problems = list(seq_problems(events)) + event_problems(events)
    late = after_terminal(events)
    if late:
        problems.append(f"events after the instance ended: {[type(e).__name__ for e in late]}")
    state = InstanceState(instance_id)
    for event in events:
        if isinstance(event, TaskScheduled | StepStarted) and state.suspended:
            problems.append(f"seq {event.seq}: {type(event).__name__} while suspended")
        if isinstance(event, TaskCompleted) and event.event_seq is not None and state.suspended:
            problems.append(f"seq {event.seq}: a wait consumed an event while suspended")
        if isinstance(event, ExecutionSuspended) and state.suspended:
            problems.append(f"seq {event.seq}: suspended twice")
        if isinstance(event, ExecutionResumed) and not state.suspended:
            problems.append(f"seq {event.seq}: resumed while not suspended")
        apply(state, event)
    return problems


def test_lifecycle_races_from_threads_and_processes_leave_legal_histories(box: Sandbox) -> None:
    seed = random.randrange(1 << 30)
    runtime = _runtime(box)
    ledger = Ledger()
    processes: list[tuple[subprocess.Popen[str], Path]] = []
    try:
        targets = Targets(runtime)
        until = time.monotonic() + CHAOS_SECONDS
        threads = [threading.Thread(target=_starter, args=(runtime, targets, until))]
        threads += [
            threading.Thread(
                target=_thread_racer, args=(runtime, targets, ledger, f"t{n}", seed + n, until)
            )
            for n in range(4)
        ]
        threads += [
            threading.Thread(
                target=_cli_racer, args=(box, targets, ledger, f"cli{n}", seed + 10 + n, until)
            )
            for n in range(2)
        ]
        processes += [_racing_process(box, seed + 20 + n) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for process, ledger_file in processes:
            assert process.wait(60) == 0
            for text in ledger_file.read_text().splitlines():
                line = json.loads(text)
                if line["outcome"].startswith("error"):
                    ledger.errors.append(f"{line}")
                ledger.record(line["instance"], f"proc-{line['op']}", line["outcome"], line["data"])
        assert ledger.errors == [], ledger.errors
        ids = list(targets.ids)
        assert len(ids) == INSTANCES
        for source in ("cli-", "proc-"):
            applied = sum(
                n
                for (op, outcome), n in ledger.ops.items()
                if op.startswith(source) and outcome == "apply"
            )
            assert applied > 0, (source, ledger.ops)

        # Settle: resume what is paused and feed the waits; everything must then end.
        for instance_id in ids:
            instance = runtime.instance(instance_id)
            if instance.status is RuntimeStatus.SUSPENDED:
                ledger.record(instance_id, "resume", instance.resume().value)
            for n in range(2):
                data = {"by": "settle", "n": n}
                ledger.record(instance_id, "raise", instance.raise_event("ping", data).value, data)
        poll_until(
            lambda: all(runtime.instance(i).status.is_terminal for i in ids),
            60,
            "every instance to end once resumed and fed",
            interval=0.05,
        )

        statuses = Counter()
        suspended_results = 0
        for instance_id in ids:
            row = runtime.store.get(instance_id)
            events = history(runtime.store, instance_id)
            state = replay(instance_id, events)
            statuses[row.status] += 1
            assert row.version == len(events)
            assert row.status == state.status.value, instance_id
            assert _legal_story(instance_id, events) == [], (seed, instance_id)
            assert [k for k, n in schedule_counts(events).items() if n > 1] == [], instance_id
            counts = completion_counts(events)
            if row.status == RuntimeStatus.COMPLETED.value:
                assert dict(counts) == {task: 1 for task in RACY_TASKS}, instance_id
                output = json.loads(row.output)
                assert output == {"w1": state.steps["w1"].output, "d": state.steps["w2"].output}
            else:
                assert row.status == RuntimeStatus.TERMINATED.value, (instance_id, row.failure)
                assert max(counts.values(), default=0) <= 1, instance_id
            # Every raise that applied is in the history, once; none appeared from nowhere.
            raised = [e.data for e in events if isinstance(e, EventRaised)]
            key = lambda d: json.dumps(d, sort_keys=True)  # noqa: E731
            assert sorted(map(key, raised)) == sorted(map(key, ledger.raised[instance_id]))
            consumed = {e.event_seq for e in events if isinstance(e, TaskCompleted)} - {None}
            buffered = state.buffered_events()
            assert len(consumed) + len(buffered) == len(raised), instance_id
            # Results of steps that were running when a pause came are still recorded.
            paused = False
            for event in events:
                if isinstance(event, ExecutionSuspended):
                    paused = True
                elif isinstance(event, ExecutionResumed):
                    paused = False
                elif paused and isinstance(event, TaskCompleted) and event.event_seq is None:
                    suspended_results += 1

        # No crash here: a step of a completed instance ran exactly once.
        runs = Counter((line.instance, line.task) for line in read_journal(box))
        for instance_id in ids:
            if runtime.store.get(instance_id).status == RuntimeStatus.COMPLETED.value:
                ran = {task: n for (i, task), n in runs.items() if i == instance_id}
                assert ran == {t: 1 for t in RACY_TASKS - {"w1", "w2"}}, instance_id
        print(
            f"seed {seed}: {dict(statuses)}, ops {dict(ledger.ops)}, "
            f"{suspended_results} results recorded while paused"
        )
        assert statuses[RuntimeStatus.COMPLETED.value] > 0
        assert ledger.ops["pause", "apply"] > 0 and ledger.ops["resume", "apply"] > 0
        assert statuses[RuntimeStatus.TERMINATED.value] > 0
        assert suspended_results > 0, "no step finished while its instance was paused"
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        runtime.close()


@pytest.mark.parametrize("where", ["same process", "other process"])
def test_a_terminated_instance_is_given_up_by_its_owner(box: Sandbox, where: str) -> None:
    """Terminate, like completion, ends the owner's claim: the engine stops renewing the
    lease and polling the instance (the owner and lease in the store are cleared)."""
    gate = box.root / "never.open"
    runtime = _runtime(box)
    try:
        instance = runtime.start("gated", path=str(gate), instance_id="term-1")
        poll_until(lambda: read_journal(box), 30, "the gate step to run")
        assert runtime.engine.owns(instance.id)
        if where == "same process":
            assert instance.terminate("enough") is Outcome.APPLY
        else:
            done = _cli(box, "terminate", instance.id, "--reason", "enough")
            assert done.returncode == 0, done.stderr
        poll_until(lambda: instance.status is RuntimeStatus.TERMINATED, 10, "TERMINATED")
        poll_until(
            lambda: owner_row(box, instance.id)[0] is None and not runtime.engine.owns(instance.id),
            5,
            "the engine to give up the terminated instance (owner/lease still set, still owned)",
        )
        assert after_terminal(history(runtime.store, instance.id)) == []
    finally:
        gate.touch()
        runtime.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_terminate_from_another_process_kills_the_running_shell_step(box: Sandbox) -> None:
    """DESIGN.md section 3: on terminate, running shell steps are killed, also when the
    terminate comes from another process just as the owner commits something else.

    To make that race happen on purpose, this test holds the SQLite write lock while the
    owner (another process) has a step result to commit: the owner decides, then waits
    for the lock; the terminate from here waits too; the lock is released and the
    terminate, which has waited less (SQLite's busy handler polls a young waiter more
    often), is usually appended first, so the owner's append conflicts."""
    # Enough step slots that shell steps left running cannot starve the next trials.
    engine = spawn_runner(box, "engine", workers=2 * TERMINATE_TRIALS + 2)
    client = _runtime(box, engine=False)
    pids: list[int] = []
    survivors, terminate_first = [], 0
    try:
        wait_ready(engine)
        for n in range(TERMINATE_TRIALS):
            iid = f"kill-{n:02d}"
            pidfile, gate = box.root / f"shell-{n}.pid", box.root / f"gate-{n}"
            client.start("killable", instance_id=iid, pidfile=str(pidfile), gate=str(gate))
            poll_until(lambda p=pidfile: p.exists() and p.read_text().strip(), 30, "the shell step")
            poll_until(lambda i=iid: _journaled(box, i, "tick"), 30, "the tick step")
            pids.append(int(pidfile.read_text()))
            lock = sqlite3.connect(box.db, isolation_level=None, timeout=30)
            lock.execute("BEGIN IMMEDIATE")
            try:
                gate.touch()  # tick returns: the owner decides and waits for the lock
                time.sleep(0.6)  # long enough for its busy handler to poll slowly
                outcome: list[Outcome] = []
                terminate = threading.Thread(
                    target=lambda i=iid, out=outcome: out.append(
                        client.workflows.terminate(i, "stop")
                    )
                )
                terminate.start()
                time.sleep(0.05)  # the terminate now waits for the lock too
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            terminate.join(30)
            assert outcome == [Outcome.APPLY]
            events = history(client.store, iid)
            terminate_first += not any(
                isinstance(e, TaskCompleted) and e.step == "tick" for e in events
            )
            deadline = time.monotonic() + 3
            while _alive(pids[-1]) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pids[-1]):
                survivors.append(iid)
        print(
            f"the terminate was appended before the owner's commit in {terminate_first} "
            f"of {TERMINATE_TRIALS} trials; shell steps left running: {survivors}"
        )
        assert survivors == [], (
            f"{len(survivors)} of {TERMINATE_TRIALS} terminated instances kept their shell "
            f"step running: {survivors}"
        )
        assert terminate_first > 0, "the race this test is about never happened"
    finally:
        client.close()
        engine.stop()
        for pid in pids:  # the `sleep 60` processes this test started, if any were left
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _journaled(box: Sandbox, instance_id: str, task: str) -> bool:
    return any(line.instance == instance_id and line.task == task for line in read_journal(box))
