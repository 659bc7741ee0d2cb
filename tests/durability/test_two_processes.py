"""Two ``wfkit worker`` processes on one SQLite file: they share the instances, never
schedule a step attempt twice, and take over from each other when one dies (SIGKILL:
at once, its pid is gone) or hangs (SIGSTOP: after its lease runs out)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from durability_support import (
    Proc,
    Sandbox,
    completed_keys,
    completion_counts,
    history,
    make_sandbox,
    open_store,
    owners,
    poll_until,
    read_journal,
    schedule_counts,
    seq_problems,
    spawn_worker_pair,
)

from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.settings import EngineSettings
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.store import SqliteStore

SETTINGS = EngineSettings()
TAKEOVER = SETTINGS.lease_seconds + SETTINGS.claim_interval  # the documented bound, ~9 s
STEPS = [f"s{n}" for n in range(1, 6)]


def _client(box: Sandbox) -> Runtime:
    return Runtime(
        Settings(definitions=str(box.definitions), store=box.store_url, workers=1),
        run_engine=False,
    )


def _cli_start(box: Sandbox, instance_id: str, low: int, high: int) -> None:
    argv = [sys.executable, "-m", "wfkit", "start", "chain", "--id", instance_id]
    argv += ["-i", f"low={low}", "-i", f"high={high}"]
    argv += ["--store", box.store_url, "--definitions", str(box.definitions)]
    done = subprocess.run(
        argv, cwd=box.root, env=box.env("cli"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [instance_id]


def _start_many(
    box: Sandbox,
    client: Runtime,
    count: int,
    low: int,
    high: int,
    *,
    cli: int = 0,
    rounds: float = 2,
) -> list[str]:
    """Start ``count`` chains, evenly over about ``rounds`` claim rounds so that both
    workers find some free: ``cli`` of them with ``wfkit start`` (in a thread of their
    own, as a command takes about half a second), the rest from a client runtime."""
    ids = [f"chain-{n:02d}" for n in range(count)]
    by_cli = ids[:: count // cli] if cli else []
    failed: list[BaseException] = []

    def run_commands() -> None:
        try:
            for instance_id in by_cli:
                _cli_start(box, instance_id, low, high)
        except BaseException as exc:
            failed.append(exc)

    commands = threading.Thread(target=run_commands, daemon=True)
    commands.start()
    pace = rounds * SETTINGS.claim_interval / count
    for instance_id in ids:
        if instance_id not in by_cli:
            client.start("chain", instance_id=instance_id, low=low, high=high)
        time.sleep(pace)
    commands.join(60)
    assert not commands.is_alive() and not failed, failed
    return ids


class _Starting(threading.Thread):
    """:func:`_start_many` in a thread (with a client runtime of its own), so that the
    test can watch the workers meanwhile; :meth:`finish` joins it and re-raises."""

    def __init__(self, box: Sandbox, count: int, low: int, high: int, *, rounds: float = 2) -> None:
        super().__init__(daemon=True)
        self.box, self.count, self.low, self.high = box, count, low, high
        self.rounds = rounds
        self.ids = [f"chain-{n:02d}" for n in range(count)]
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        client = _client(self.box)
        try:
            _start_many(self.box, client, self.count, self.low, self.high, rounds=self.rounds)
        except BaseException as exc:
            self.error = exc
        finally:
            client.close()

    def finish(self) -> None:
        self.join(60)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error


def _all_terminal(store: SqliteStore, ids: list[str]) -> bool:
    return all(RuntimeStatus(store.get(i).status).is_terminal for i in ids)


def _check_histories(store: SqliteStore, ids: list[str]) -> None:
    """Every chain completed with its output, each task completed and each attempt
    scheduled exactly once, seqs 1..N."""
    for instance_id in ids:
        row = store.get(instance_id)
        events = history(store, instance_id)
        assert row.status == RuntimeStatus.COMPLETED.value, (instance_id, row.failure)
        assert json.loads(row.output) == [1, 2, 3, 4, 5], instance_id
        assert seq_problems(events) == [], instance_id
        assert row.version == len(events)
        doubled = [k for k, n in schedule_counts(events).items() if n > 1]
        assert doubled == [], f"{instance_id}: scheduled twice: {doubled}"
        assert dict(completion_counts(events)) == {s: 1 for s in STEPS}, instance_id


def _tail(path: Path, size: int = 2000) -> str:
    return path.read_text()[-size:] if path.exists() else "(none)"


def _owner_counts(box: Sandbox) -> dict[str, int]:
    """How many instances each owner pid holds, and how many ended (for failure messages)."""
    counts: dict[str, int] = {}
    for _, owner_pid, status in owners(box).values():
        key = "ended" if RuntimeStatus(status).is_terminal else f"pid {owner_pid}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _active_owned_by(box: Sandbox, pid: int) -> set[str]:
    return {
        i
        for i, (_, owner_pid, status) in owners(box).items()
        if owner_pid == pid and not RuntimeStatus(status).is_terminal
    }


def _stop_all(*procs: Proc | None) -> None:
    for proc in procs:
        if proc is not None:
            if proc.popen.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
            proc.stop()


def test_two_workers_share_instances_and_never_schedule_an_attempt_twice(
    tmp_path: Path,
) -> None:
    box = make_sandbox(tmp_path)
    store = open_store(box)
    client = _client(box)
    first, second = spawn_worker_pair(box, SETTINGS.claim_interval)
    try:
        ids = _start_many(box, client, 40, 5, 50, cli=4)
        poll_until(lambda: _all_terminal(store, ids), 120, "40 chains to finish", interval=0.1)
        _check_histories(store, ids)
        journal = read_journal(box)
        runs = defaultdict(list)
        for line in journal:
            runs[line.instance, line.task].append(line.generation)
        assert set(runs) == {(i, s) for i in ids for s in STEPS}
        assert [k for k, gens in runs.items() if len(gens) != 1] == [], "a step ran twice"
        by_worker = defaultdict(set)
        for (instance_id, _), gens in runs.items():
            by_worker[instance_id].update(gens)
        assert [i for i, gens in by_worker.items() if len(gens) != 1] == [], (
            "an instance changed hands with no crash"
        )
        share = {g: sum(1 for gens in by_worker.values() if g in gens) for g in ("A", "B")}
        print(f"instances run by each worker: {share}")
        assert share["A"] > 0 and share["B"] > 0, f"one worker did nothing: {share}"
        assert all(owner is None for owner, _, _ in owners(box).values()), "not released"
    finally:
        client.close()
        store.close()
        _stop_all(first, second)


def test_a_killed_worker_is_taken_over_by_the_other(tmp_path: Path) -> None:
    box = make_sandbox(tmp_path)
    store = open_store(box)
    client = _client(box)
    victim, survivor = spawn_worker_pair(box, SETTINGS.claim_interval)
    try:
        # starts spread over four claim rounds: each worker takes every free instance at
        # each of its rounds, and over two rounds A now and then got fewer than three
        starting = _Starting(box, 40, 60, 150, rounds=4)
        ids = starting.ids
        try:
            poll_until(
                lambda: (
                    len(_active_owned_by(box, victim.pid)) >= 3 and len(read_journal(box)) >= 10
                ),
                60,
                "worker A to be busy",
                interval=0.01,
                check=lambda: victim.popen.poll() is None and survivor.popen.poll() is None,
            )
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; instances by owner now: {_owner_counts(box)} (A is pid {victim.pid},"
                f" B is pid {survivor.pid}); A's log: {_tail(box.log('A'))}"
            ) from None
        victim.kill()
        killed_at = time.monotonic()
        orphans = _active_owned_by(box, victim.pid)
        done_at_kill = {i: completed_keys(history(store, i)) for i in ids}
        assert orphans
        poll_until(
            lambda: not _active_owned_by(box, victim.pid),
            TAKEOVER + 5,
            "worker B to take over A's instances",
            interval=0.01,
        )
        took = time.monotonic() - killed_at
        print(f"{len(orphans)} instances of a killed worker taken over in {took:.2f} s")
        assert took <= TAKEOVER + 1
        starting.finish()
        poll_until(lambda: _all_terminal(store, ids), 120, "40 chains to finish", interval=0.1)
        _check_histories(store, ids)
        journal = read_journal(box)
        assert {(line.instance, line.task) for line in journal} == {
            (i, s) for i in ids for s in STEPS
        }
        # Nothing completed before the kill ran again; A's unfinished tasks ran again on B.
        late = [
            line
            for line in journal
            if line.generation == "B"
            and line.task in done_at_kill[line.instance]
            and line.instance in orphans
        ]
        assert late == []
        for instance_id in orphans:
            started_on_a = {
                line.task
                for line in journal
                if line.instance == instance_id and line.generation == "A"
            }
            for task in started_on_a - done_at_kill[instance_id]:
                assert any(
                    line.instance == instance_id and line.task == task and line.generation == "B"
                    for line in journal
                ), f"{instance_id} {task}: in flight at the kill and never ran again"
    finally:
        client.close()
        store.close()
        _stop_all(victim, survivor)


def _holds_write_lock(box: Sandbox) -> bool:
    conn = sqlite3.connect(box.db, timeout=0.5, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def test_a_frozen_worker_loses_its_instances_when_its_lease_runs_out(tmp_path: Path) -> None:
    box = make_sandbox(tmp_path)
    store = open_store(box)
    client = _client(box)
    frozen, survivor = spawn_worker_pair(box, SETTINGS.claim_interval)
    try:
        # Each claim round takes every free instance, so over two rounds worker A could
        # get none (it did, in CI): 40 chains over eight rounds give both plenty.
        starting = _Starting(box, 40, 150, 300, rounds=8)
        ids = starting.ids
        poll_until(
            lambda: len(_active_owned_by(box, frozen.pid)) >= 3,
            60,
            "worker A to be busy",
            interval=0.01,
        )
        for _ in range(50):  # freeze it outside a write transaction (SQLite would wait on it)
            os.kill(frozen.pid, signal.SIGSTOP)
            if not _holds_write_lock(box):
                break
            os.kill(frozen.pid, signal.SIGCONT)
            time.sleep(0.01)
        frozen_at = time.time()
        held = _active_owned_by(box, frozen.pid)
        assert held
        with sqlite3.connect(box.db) as conn:
            leases = [
                conn.execute(
                    "SELECT lease_until FROM instances WHERE instance_id = ?", (i,)
                ).fetchone()[0]
                for i in held
            ]
        conn.close()
        poll_until(
            lambda: not _active_owned_by(box, frozen.pid),
            TAKEOVER + 5,
            "worker B to take over a frozen worker's instances",
            interval=0.02,
        )
        taken_at = time.time()
        print(
            f"{len(held)} instances of a frozen worker taken over {taken_at - frozen_at:.2f} s "
            f"after it froze (its leases ran out {max(leases) - frozen_at:.2f} s after)"
        )
        assert taken_at >= min(leases), "a live owner was robbed before its lease ran out"
        assert taken_at - frozen_at <= TAKEOVER + 1
        os.kill(frozen.pid, signal.SIGCONT)  # it thaws, finds its leases gone, records nothing
        starting.finish()
        poll_until(lambda: _all_terminal(store, ids), 120, "20 chains to finish", interval=0.1)
        time.sleep(SETTINGS.lease_seconds / 3 + 0.5)  # one renew round of the thawed worker
        _check_histories(store, ids)
        assert frozen.popen.poll() is None and survivor.popen.poll() is None
    finally:
        client.close()
        store.close()
        _stop_all(frozen, survivor)
