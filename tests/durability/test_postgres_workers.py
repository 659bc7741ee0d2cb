"""Several ``wfkit worker`` processes on one PostgreSQL store: commands from a third
process reach whichever worker holds an instance; a worker of "another host" (its
``WFKIT_HOST`` says so) that hangs is taken over when its lease runs out, with no pid
check, and commits nothing stale when it thaws; killed backend connections cost nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from durability_support import (
    Proc,
    Sandbox,
    completion_counts,
    make_sandbox,
    poll_until,
    seq_problems,
    spawn_worker,
)

from wfkit.engine.core.history import HistoryEvent
from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.loop.records import load_history
from wfkit.engine.settings import EngineSettings
from wfkit.store import open_store
from wfkit.store.postgres import PostgresStore

SETTINGS = EngineSettings()
TAKEOVER = SETTINGS.lease_seconds + SETTINGS.claim_interval  # the documented bound, ~9 s
CHAIN_STEPS = {f"s{n}" for n in range(1, 6)}
ELSEWHERE = "another-machine.example"

WAITER = """\
wfkit: 1
name: waiter
steps:
  w: {wait: {event: go}}
output: ${{ steps.w.output }}
"""


@dataclass
class PgSandbox(Sandbox):
    """The durability sandbox with its store on PostgreSQL."""

    url: str = ""

    @property
    def store_url(self) -> str:
        return self.url


@pytest.fixture
def box(tmp_path: Path, postgres_url: str) -> PgSandbox:
    made = make_sandbox(tmp_path)
    (made.definitions / "waiter.yaml").write_text(WAITER)
    return PgSandbox(made.root, postgres_url)


def wfkit(box: Sandbox, *argv: str, expect: int = 0) -> str:
    """Run one ``wfkit`` command in a process of its own (the "third process")."""
    done = subprocess.run(
        [sys.executable, "-m", "wfkit", *argv, "--store", box.store_url],
        cwd=box.root,
        env=box.env("cli"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == expect, (argv, done.stdout, done.stderr)
    return done.stdout


def events(store: PostgresStore, instance_id: str) -> list[HistoryEvent]:
    return load_history(store, instance_id)


def status(store: PostgresStore, instance_id: str) -> str | None:
    row = store.get(instance_id)
    return None if row is None else row.status


def start_chain(box: Sandbox, instance_id: str, low: int, high: int) -> None:
    out = wfkit(box, "start", "chain", "--id", instance_id, "-i", f"low={low}", "-i", f"high={high}",
                "--definitions", str(box.definitions))  # fmt: skip
    assert out.split() == [instance_id]


def check_exactly_once(store: PostgresStore, ids: list[str]) -> None:
    for instance_id in ids:
        history = events(store, instance_id)
        assert not seq_problems(history), instance_id
        counts = completion_counts(history)
        assert set(counts) == CHAIN_STEPS and set(counts.values()) == {1}, (instance_id, counts)
        assert status(store, instance_id) == RuntimeStatus.COMPLETED.value


def test_commands_from_a_third_process_reach_the_worker_that_holds_the_instance(
    box: PgSandbox,
) -> None:
    store = open_store(box.store_url)
    workers = [spawn_worker(box, "A", workers=2), spawn_worker(box, "B", workers=2)]
    try:
        start_chain(box, "paused", 300, 400)
        poll_until(lambda: any(type(e).__name__ == "TaskCompleted" for e in events(store, "paused")), 60,
                   "the first step to complete")  # fmt: skip
        wfkit(box, "pause", "paused")
        poll_until(lambda: status(store, "paused") == "SUSPENDED", 30, "the pause")
        wfkit(box, "resume", "paused")
        poll_until(lambda: status(store, "paused") == "COMPLETED", 60, "the resumed chain")
        history = [type(e).__name__ for e in events(store, "paused")]
        suspended, resumed = history.index("ExecutionSuspended"), history.index("ExecutionResumed")
        # one step boundary: the step running at the pause finishes, none starts until resume
        assert "TaskScheduled" not in history[suspended:resumed], history
        check_exactly_once(store, ["paused"])

        wfkit(box, "start", "waiter", "--id", "waiting", "--definitions", str(box.definitions))
        poll_until(lambda: status(store, "waiting") == "RUNNING", 30, "a worker to take it")
        wfkit(box, "raise-event", "waiting", "go", '{"by": "a third process"}')
        poll_until(lambda: status(store, "waiting") == "COMPLETED", 30, "the event to arrive")
        assert '"a third process"' in str(store.get("waiting"))

        start_chain(box, "stopped", 2000, 3000)
        poll_until(lambda: status(store, "stopped") == "RUNNING", 30, "a worker to take it")
        wfkit(box, "terminate", "stopped")
        poll_until(lambda: status(store, "stopped") == "TERMINATED", 30, "the termination")
        wfkit(box, "retry", "stopped", "--definitions", str(box.definitions), expect=1)
        wfkit(box, "purge", "stopped")
        assert store.get("stopped") is None
    finally:
        for worker in workers:
            worker.stop()
        store.close()


def _held_by_host(url: str, host: str) -> list[tuple[str, float]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT instance_id, lease_until FROM wfkit_instances "
            "WHERE owner_host = %s AND status NOT IN ('COMPLETED','FAILED','TERMINATED',"
            "'CANCELED')",
            (host,),
        ).fetchall()
    return [(instance_id, float(until)) for instance_id, until in rows]


def test_a_frozen_worker_of_another_host_is_taken_over_within_its_lease_and_fenced(
    box: PgSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(box.store_url)
    monkeypatch.setenv("WFKIT_HOST", ELSEWHERE)
    far = spawn_worker(box, "far", workers=4)  # its owner records say another machine
    monkeypatch.delenv("WFKIT_HOST")
    ids = [f"chain-{n}" for n in range(6)]
    near: Proc | None = None
    try:
        for instance_id in ids:
            start_chain(box, instance_id, 150, 250)
        # a busy worker claims newly started chains at its next round (idle workers take
        # them at once): wait for it to hold some, not for a count the timing may not give
        poll_until(lambda: len(_held_by_host(box.store_url, ELSEWHERE)) >= 1, 60,
                   "the far worker to hold instances")  # fmt: skip
        os.kill(far.pid, signal.SIGSTOP)
        frozen_at = time.time()
        held = _held_by_host(box.store_url, ELSEWHERE)
        near = spawn_worker(box, "near", workers=4)
        poll_until(lambda: not _held_by_host(box.store_url, ELSEWHERE), TAKEOVER + 10,
                   "the near worker to take the far one's instances over", interval=0.05)  # fmt: skip
        taken_at = time.time()
        assert taken_at >= min(until for _, until in held) - 0.5, "taken before the lease ran out"
        assert taken_at - frozen_at <= TAKEOVER + 2
        os.kill(far.pid, signal.SIGCONT)  # it thaws, finds its leases gone, commits nothing
        poll_until(lambda: all(status(store, i) == "COMPLETED" for i in ids), 90, "all chains")
        check_exactly_once(store, ids)
    finally:
        os.kill(far.pid, signal.SIGCONT)
        far.stop()
        if near is not None:
            near.stop()
        store.close()


def _kill_backends(url: str, stop: threading.Event, kills: list[int]) -> None:
    """Terminate every other connection to the database, again and again."""
    with psycopg.connect(url, autocommit=True) as admin:
        while not stop.wait(0.4):
            killed = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            kills.append(int(killed[0]) if killed else 0)


def test_a_worker_lives_through_killed_backend_connections(box: PgSandbox) -> None:
    store = open_store(box.store_url)
    worker = spawn_worker(box, "A", workers=4)
    ids = [f"chain-{n}" for n in range(4)]
    stop, kills = threading.Event(), []
    try:
        for instance_id in ids:
            start_chain(box, instance_id, 100, 200)
        killer = threading.Thread(target=_kill_backends, args=(box.store_url, stop, kills))
        killer.start()
        try:
            poll_until(lambda: sum(kills) >= 6, 60, "several killed connections")
        finally:
            stop.set()
            killer.join(10)
        poll_until(lambda: all(status(store, i) == "COMPLETED" for i in ids), 90, "all chains")
        check_exactly_once(store, ids)
        assert worker.popen.poll() is None
    finally:
        worker.stop()
        store.close()


SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "postgres_server.sh"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server(*argv: str) -> str:
    done = subprocess.run(
        ["bash", str(SERVER_SCRIPT), *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_worker_lives_through_a_database_restart(tmp_path: Path) -> None:
    """Debian's server of our own (tests/postgres_server.sh), restarted mid-run."""
    # not under tmp_path: the server runs as the user postgres, who cannot enter it
    data = Path(tempfile.mkdtemp(prefix="wfkit-restart-"))
    url = _server("start", str(data), str(_free_port()))
    box = PgSandbox(make_sandbox(tmp_path / "box").root, url)
    worker: Proc | None = None
    store = open_store(url)
    try:
        worker = spawn_worker(box, "A", workers=4)
        ids = [f"chain-{n}" for n in range(4)]
        for instance_id in ids:
            start_chain(box, instance_id, 200, 300)
        poll_until(lambda: any(e for i in ids for e in events(store, i)
                               if type(e).__name__ == "TaskCompleted"), 60, "a first step")  # fmt: skip
        _server("restart", str(data))
        poll_until(lambda: all(status(store, i) == "COMPLETED" for i in ids), 90, "all chains",
                   interval=0.2)  # fmt: skip
        check_exactly_once(store, ids)
        assert worker.popen.poll() is None
    finally:
        if worker is not None:
            worker.stop()
        store.close()
        _server("stop", str(data))
