"""Bulk purges (by status and age, with children) and the space they give back to the
disk: real SQLite files, the operations layer, and the ``wfkit`` command."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wfkit.engine.protocols import EventRow, InstanceRow
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.store import SqliteStore

NOW = time.time()
DAY = 86400.0
HISTORY = [EventRow(1, "ExecutionStarted", NOW, json.dumps({"name": "w", "pad": "p" * 3000}))]


def _add(
    store: SqliteStore, instance_id: str, status: str, age_days: float, parent: str = ""
) -> None:
    at = NOW - age_days * DAY
    row = InstanceRow(instance_id, "w", status, at, at, "hash", parent_id=parent or None)
    store.create(row, HISTORY)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    (tmp_path / "defs").mkdir()
    settings = Settings(str(tmp_path / "defs"), f"sqlite:///{tmp_path / 'store.db'}", 1)
    opened = Runtime(settings, run_engine=False)
    yield opened
    opened.close()


def _ids(store: Any) -> set[str]:
    return {row.instance_id for row in store.list_instances(limit=1000)}


def test_bulk_purge_takes_exactly_the_ended_instances_that_match(runtime: Runtime) -> None:
    store = runtime.store
    assert isinstance(store, SqliteStore)
    _add(store, "old-done", "COMPLETED", 10)
    _add(store, "old-failed", "FAILED", 10)
    _add(store, "new-done", "COMPLETED", 0.5)
    _add(store, "old-running", "RUNNING", 10)
    _add(store, "old-suspended", "SUSPENDED", 10)
    _add(store, "parent", "COMPLETED", 10)
    _add(store, "parent-kid", "COMPLETED", 0.1, parent="parent")  # new, but its parent goes
    _add(store, "parent-kid-kid", "FAILED", 0.1, parent="parent-kid")
    _add(store, "busy-parent", "TERMINATED", 10)  # hypothetically: a child still running
    _add(store, "busy-kid", "RUNNING", 10, parent="busy-parent")
    purged = runtime.purge(status=["completed"], before=NOW - DAY)
    assert purged == 4  # old-done, parent and its two descendants
    assert _ids(store) == {
        "old-failed", "new-done", "old-running", "old-suspended", "busy-parent", "busy-kid",
    }  # fmt: skip
    assert runtime.purge(before=NOW - DAY, recursive=False) == 2  # old-failed, busy-parent
    assert _ids(store) == {"new-done", "old-running", "old-suspended", "busy-kid"}
    assert runtime.purge() == 1  # every ended one: new-done; never a running one
    assert _ids(store) == {"old-running", "old-suspended", "busy-kid"}


def test_bulk_purge_goes_in_short_batches_and_reads_each_row_once(runtime: Runtime) -> None:
    store = runtime.store
    assert isinstance(store, SqliteStore)
    for n in range(300):
        _add(store, f"i{n}", "RUNNING" if n % 3 == 0 else "COMPLETED", 5)
    purges: list[int] = []
    walks: list[int] = []
    real_purge, real_find = store.purge, store.find_ended

    def purge(ids: Any) -> int:
        purges.append(len(ids))
        return real_purge(ids)

    def find_ended(**kwargs: Any) -> tuple[list[str], int]:
        found = real_find(**kwargs)
        walks.append(found[1])
        return found

    store.purge = purge  # type: ignore[method-assign]
    store.find_ended = find_ended  # type: ignore[method-assign]
    assert runtime.workflows.purge_ended(batch=25) == 200
    assert max(purges) <= 25 and sum(purges) == 200
    positions = [p for p in walks if p]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert len(walks) <= 300 // 25 + 2  # a bounded stretch each: linear in the instances
    assert len(_ids(store)) == 100


def _checkpointed_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path)


def test_purging_many_instances_shrinks_the_file(runtime: Runtime, tmp_path: Path) -> None:
    store = runtime.store
    assert isinstance(store, SqliteStore)
    for n in range(2000):
        _add(store, f"i{n}", "COMPLETED", 2)
    _add(store, "kept", "RUNNING", 2)
    full = _checkpointed_size(tmp_path / "store.db")
    assert full > 6_000_000
    assert runtime.purge() == 2000
    after = os.path.getsize(tmp_path / "store.db")
    assert after < full / 10, (full, after)
    assert store.space().incremental and store.space().free_bytes < 100_000
    assert _ids(store) == {"kept"}


def _wfkit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFKIT_STORE": f"sqlite:///{cwd / 'old.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "wfkit", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_store_made_before_gets_its_space_back_with_db_vacuum(tmp_path: Path) -> None:
    """A store made by an earlier wfkit has no auto-vacuum: a purge leaves free pages;
    ``wfkit db vacuum`` gives them back and switches it, so the next purge shrinks it."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # as earlier wfkit versions made the file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE scratch (x)")
        conn.execute("DROP TABLE scratch")
    with SqliteStore(path) as store:
        assert not store.space().incremental
        for n in range(1000):
            _add(store, f"i{n}", "COMPLETED" if n < 900 else "FAILED", 3)
    purged = _wfkit(tmp_path, "purge", "--status", "COMPLETED", "--before", "1d", "--json")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout) == {"purged": 900}
    stuck = _checkpointed_size(path)
    vacuumed = _wfkit(tmp_path, "db", "vacuum", "--json")
    assert vacuumed.returncode == 0, vacuumed.stderr
    sizes = json.loads(vacuumed.stdout)
    assert sizes["before"]["incremental"] is False and sizes["after"]["incremental"] is True
    assert _checkpointed_size(path) < stuck / 4
    again = _wfkit(tmp_path, "purge", "--status", "failed", "--before", "2000-01-01")
    assert again.returncode == 0 and "purged 0 instance(s)" in again.stdout
    assert _wfkit(tmp_path, "purge", "--before", "2h").stdout.strip() == "purged 100 instance(s)"
    with SqliteStore(path) as store:
        assert store.space().free_bytes < 100_000  # given back by itself now


def test_purge_needs_an_id_or_a_filter(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "old.db"):
        pass
    bare = _wfkit(tmp_path, "purge")
    assert bare.returncode == 2 and "--status" in bare.stderr
    both = _wfkit(tmp_path, "purge", "x", "--status", "FAILED")
    assert both.returncode == 2 and "not both" in both.stderr
    running = _wfkit(tmp_path, "purge", "--status", "running")
    assert running.returncode == 1 and "only ended ones" in running.stderr
    ancient = _wfkit(tmp_path, "purge", "--before", "0001-01-01")  # before year 1 in UTC
    assert ancient.returncode == 2 and "Traceback" not in ancient.stderr
    assert "argument --before: '0001-01-01' is out of range" in ancient.stderr
