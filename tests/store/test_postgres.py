"""What the PostgreSQL store does beyond the contract suite: opening by URL (and saying
which extra to install), hiding passwords, schema versions and a creation race between
processes, VACUUM and sizes, and ``wfkit`` commands run end to end on it.

A real server throughout (``postgres_url`` in conftest.py: a fresh schema per test).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner
from wfkit.errors import StoreError
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.store import open_store
from wfkit.store.postgres import PostgresStore

from .pg_wire import RoundTrips

PASSWORD = "s3cret-Pw"


def _row(instance_id: str, status: str = "RUNNING") -> InstanceRow:
    return InstanceRow(instance_id, "w", status, 1.0, 1.0, "hash")


def _with_password(url: str) -> str:
    """``url`` with a password (the test servers trust local connections: any works)."""
    scheme, _, rest = url.partition("://")
    user, at, host = rest.partition("@")
    assert at, url
    return f"{scheme}://{user.partition(':')[0]}:{PASSWORD}@{host}"


def _sql(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)  # type: ignore[call-overload]
        return cursor.fetchall() if cursor.description else []


# -- round trips ----------------------------------------------------------------------------


def test_an_append_and_a_read_cost_one_round_trip_each(postgres_url: str) -> None:
    """A step's append is on the engine's critical path: its cost on PostgreSQL is counted
    in round trips (each ends with one ReadyForQuery of the server). An append, fenced by
    version and owner, with its events and notification, is one; so is a read."""
    alice = Owner("alice", "h", 1)
    with RoundTrips(postgres_url) as wire, PostgresStore(wire.url) as store:
        store.create(_row("a"), [EventRow(1, "ExecutionStarted", 1.0, "{}")])
        store.create(_row("b"), [EventRow(1, "ExecutionStarted", 1.0, "{}")])
        assert store.claim(alice, 30.0) == ["a", "b"]
        version = 1

        def step() -> list[str]:
            nonlocal version
            events = [EventRow(0, "TaskCompleted", 2.0, "{}"), EventRow(0, "Scheduled", 2.0, "{}")]
            batch = [(i, version, events, InstanceUpdate(updated_at=2.0)) for i in "ab"]
            version += 2
            return store.append_many(batch, owner=alice)

        for _ in range(8):  # psycopg prepares a statement at its 5th use: past that
            assert step() == [] and store.get("a") is not None
        before = wire.count
        for _ in range(10):
            assert step() == []
        appends = wire.count - before
        before = wire.count
        for _ in range(10):
            assert store.get("b") is not None
        reads = wire.count - before
    assert (appends, reads) == (10, 10)
    with PostgresStore(postgres_url) as store:
        for instance_id in "ab":
            assert [e.seq for e in store.history(instance_id)] == list(range(1, 38))


def test_a_busy_channel_wakes_a_listening_store_a_few_times_not_once_a_commit(
    postgres_url: str,
) -> None:
    """Each commit of any process notifies every listening store; under a stream of them
    the listener passes them on once per short pause, not one wake-up (and a turn of
    the GIL) per commit, while a waiter still hears of each burst."""
    with PostgresStore(postgres_url) as other, PostgresStore(postgres_url) as store:
        other.create(_row("a"), [EventRow(1, "ExecutionStarted", 1.0, "{}")])
        token = start = store.wait_for_change(0)
        for version in range(1, 301):
            other.append("a", version, [EventRow(0, "Note", 2.0, "{}")], InstanceUpdate())
        while (moved := store.wait_for_change(0.5, after=token)) != token:
            token = moved
    assert 1 <= token - start < 100  # one a notification before: 300


# -- opening ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgres_url_opens_a_postgres_store(postgres_url: str, scheme: str) -> None:
    url = scheme + postgres_url.removeprefix("postgresql")
    store = open_store(url)
    try:
        assert isinstance(store, PostgresStore)
        store.create(_row("a"), [EventRow(0, "Started", 1.0, "{}")])
        assert store.versions(["a"]) == {"a": 1}
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://bob:{PASSWORD}@127.0.0.1:1/wfkit",
        f"postgres://bob@127.0.0.1:1/w?password={PASSWORD}",
    ],
)
def test_an_unreachable_server_is_a_retryable_error_without_the_password(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert PASSWORD not in message and PASSWORD not in caught.value.url
    assert "***" in caught.value.url and "opening the store failed" in message
    assert caught.value.retryable


def test_without_the_driver_the_error_says_which_extra_to_install() -> None:
    script = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # as if the postgres extra were not installed\n"
        "from wfkit.store import open_store\n"
        "open_store(sys.argv[1])\n"
    )
    url = f"postgresql://bob:{PASSWORD}@127.0.0.1:1/wfkit"
    done = subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "pip install 'wfkit[postgres]'" in done.stderr
    assert "StoreError" in done.stderr and PASSWORD not in done.stderr


def test_a_store_opened_with_a_password_never_shows_it(postgres_url: str) -> None:
    url = _with_password(postgres_url)
    store = open_store(url)
    try:
        assert PASSWORD not in repr(store) and PASSWORD not in store.url  # type: ignore[attr-defined]
        _sql(postgres_url, "ALTER TABLE wfkit_definitions ADD CHECK (length(text) < 5)")
        with pytest.raises(StoreError) as caught:
            store.save_definition("h", "n", "too long a text")
        assert PASSWORD not in str(caught.value) and not caught.value.retryable
    finally:
        store.close()


# -- schema versions ----------------------------------------------------------------------


def test_a_new_store_records_its_schema_version(postgres_url: str) -> None:
    open_store(postgres_url).close()
    open_store(postgres_url).close()  # a second open finds it built
    assert _sql(postgres_url, "SELECT version FROM wfkit_schema") == [(1,)]


def test_a_store_of_a_newer_wfkit_is_refused_naming_both_versions(postgres_url: str) -> None:
    open_store(postgres_url).close()
    _sql(postgres_url, "UPDATE wfkit_schema SET version = 7")
    with pytest.raises(StoreError) as caught:
        open_store(postgres_url)
    assert "schema version 7" in str(caught.value) and "up to version 1" in str(caught.value)


def test_a_reader_finds_no_store_in_an_empty_schema(postgres_url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(postgres_url, create=False)
    assert "there is no wfkit store in this database" in str(caught.value)
    assert (
        _sql(postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        == []
    )


def test_tables_of_another_program_with_wfkit_names_are_left_alone(postgres_url: str) -> None:
    _sql(postgres_url, "CREATE TABLE wfkit_instances (x int)")
    with pytest.raises(StoreError) as caught:
        open_store(postgres_url)
    assert "not a wfkit store's" in str(caught.value)


def test_processes_creating_the_store_at_once_do_not_collide(postgres_url: str) -> None:
    """Each process waits for a go on its stdin, so that they open the new store at
    the same moment; the advisory lock makes one build it and the others find it."""
    script = (
        "import sys\n"
        "from wfkit.store import open_store\n"
        "sys.stdin.readline()\n"
        "open_store(sys.argv[1]).close()\n"
        "print('opened')\n"
    )
    for _round in range(3):
        _sql(postgres_url, "DROP TABLE IF EXISTS wfkit_history, wfkit_instances, "
             "wfkit_definitions, wfkit_schema")  # fmt: skip
        children = [
            subprocess.Popen(
                [sys.executable, "-c", script, postgres_url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for child in children:  # every process has imported wfkit by the time it reads
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=60) for child in children]
        assert [child.returncode for child in children] == [0] * 4, results
        assert _sql(postgres_url, "SELECT version FROM wfkit_schema") == [(1,)]


# -- space -----------------------------------------------------------------------------------


def test_reclaim_makes_purged_space_free_and_a_full_one_gives_it_back(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        pad = json.dumps({"pad": [f"{n:05}" for n in range(150)]})  # ~1.3 KB, kept inline
        for n in range(300):
            events = [EventRow(0, "Started", 1.0, pad) for _ in range(3)]
            store.create(_row(f"i{n}", "COMPLETED"), events)
        store.create(_row("kept"), [EventRow(0, "Started", 1.0, pad)])
        filled = store.reclaim()  # statistics now know the rows
        assert filled.file_bytes > 300 * 3 * 1000 and not filled.incremental
        assert store.purge([f"i{n}" for n in range(300)]) == 300
        freed = store.reclaim()
        assert freed.free_bytes > 300 * 3 * 1000 // 2  # reusable, still in the files
        assert freed.file_bytes > freed.free_bytes
        compact = store.reclaim(full=True)
        assert compact.file_bytes < filled.file_bytes // 4 and compact.free_bytes < freed.free_bytes
        assert store.space() == compact and store.versions(["kept"]) == {"kept": 1}
    finally:
        store.close()


# -- end to end: the wfkit command on a PostgreSQL store ------------------------------------------

THREE_STEPS = """wfkit: 1
name: three
steps:
  a: {call: "pgsteps:add", with: {x: 1}}
  b: {call: "pgsteps:add", with: {x: "${{ steps.a.output }}"}, needs: [a]}
  c: {call: "pgsteps:add", with: {x: "${{ steps.b.output }}"}, needs: [b]}
output: ${{ steps.c.output }}
"""


def test_wfkit_runs_a_workflow_on_postgres_and_reads_it_back(
    postgres_url: str, tmp_path: Path
) -> None:
    defs = tmp_path / "definitions"
    defs.mkdir()
    (defs / "pgsteps.py").write_text("def add(x):\n    return x + 1\n")
    (defs / "three.yaml").write_text(THREE_STEPS)
    url = _with_password(postgres_url)
    env = {**os.environ, "WFKIT_STORE": url, "WFKIT_WORKERS": "2"}

    def wfkit(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "wfkit", *args], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert PASSWORD not in done.stdout + done.stderr
        return done

    ran = wfkit("run", "three", "--id", "pg-run-1", "--json")
    assert ran.returncode == 0, ran.stderr
    got = wfkit("get", "pg-run-1", "--json")
    assert got.returncode == 0, got.stderr
    state = json.loads(got.stdout)
    assert state["runtimeStatus"] == "COMPLETED", state
    assert state["properties"]["dapr.workflow.output"] == "4"
    assert PASSWORD not in got.stdout
    listed = wfkit("list", "--json", "--store", url)
    assert listed.returncode == 0, listed.stderr
    assert "pg-run-1" in listed.stdout
    history = wfkit("history", "pg-run-1", "--json")
    assert history.returncode == 0, history.stderr
    kinds = [event["type"] for event in json.loads(history.stdout)]
    assert kinds.count("TaskCompleted") == 3 and kinds[-1] == "ExecutionCompleted"
    vacuumed = wfkit("db", "vacuum")
    assert vacuumed.returncode == 0, vacuumed.stderr
    assert "run this again to give it back" in vacuumed.stdout  # not SQLite's "by itself"


def test_a_worker_and_a_runtime_on_postgres_never_show_the_password(
    postgres_url: str, tmp_path: Path
) -> None:
    (tmp_path / "definitions").mkdir()
    url = _with_password(postgres_url)
    env = {**os.environ, "WFKIT_STORE": url}
    worker = subprocess.run(
        [sys.executable, "-m", "wfkit", "worker", "--for", "0.5"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr
    assert "worker " in worker.stderr and ":***@" in worker.stderr
    assert PASSWORD not in worker.stdout + worker.stderr
    settings = Settings(str(tmp_path / "definitions"), url, 1)
    runtime = Runtime(settings, run_engine=False)
    try:
        assert ":***@" in repr(runtime) and PASSWORD not in repr(runtime)
    finally:
        runtime.close()


# -- connections the server cuts -----------------------------------------------------------


def _cutting(times: int) -> tuple[list[int], Any]:
    """A transaction's work that ends its own connection (``pg_terminate_backend``, as an
    administrator or a server restart does) the first ``times`` times it runs."""
    pids: list[int] = []

    def work(conn: psycopg.Connection) -> int:
        pids.append(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        if len(pids) <= times:
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return int(conn.execute("SELECT 42").fetchone()[0])

    return pids, work


def test_a_connection_cut_before_the_commit_is_retried_once_on_a_new_one(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from wfkit.store.postgres._connections import Connections, PoolNoise

    conns = Connections(postgres_url, "the-store", "wfkit_test", 2, lambda: None)
    noise = next(f for f in logging.getLogger("psycopg.pool").filters if isinstance(f, PoolNoise))
    dropped = noise.dropped
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(3):  # three cuts: the call succeeds each time, on a new backend
                pids, work = _cutting(1)
                assert conns.transact("reading", work) == 42
                assert len(pids) == 2 and pids[0] != pids[1]
            pids, work = _cutting(2)  # cut again on the retry: the error is the caller's
            with pytest.raises(StoreError, match="terminating connection") as caught:
                conns.transact("reading", work)
            assert caught.value.retryable and len(pids) == 2
    finally:
        conns.close()
    # the pool's "discarding closed connection" lines: none reach the log, one of ours
    assert noise.dropped >= dropped + 3
    assert not [r for r in caplog.records if r.name.startswith("psycopg")]
    ours = [r for r in caplog.records if r.name == "wfkit.store"]
    assert len(ours) <= 1


def test_a_cut_listening_connection_is_said_once_per_outage_and_listened_again(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from wfkit.store.postgres._connections import CUTS

    store = open_store(postgres_url)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(3):  # cut the listener three times: waiters look again each time
                token = store.wait_for_change(0)
                cuts = CUTS.dropped
                _sql(postgres_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")  # fmt: skip
                assert store.wait_for_change(30, after=token) != token
                assert CUTS.dropped > cuts
    finally:
        store.close()
    assert not [r for r in caplog.records if "listening for changes" in r.getMessage()]
    assert len([r for r in caplog.records if r.name == "wfkit.store"]) <= 1
