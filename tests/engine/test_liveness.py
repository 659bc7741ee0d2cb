"""The one rule of owner liveness (wfkit.engine.liveness), and that the store's claims
and the readers' ``ownership`` apply it alike."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfkit.engine.liveness import (
    owner_is_lost,
    owner_process_gone,
    parse_owner,
    process_is_gone,
    this_host,
)
from wfkit.engine.protocols import EventRow, InstanceRow, Owner
from wfkit.runtime.ownership import ownership
from wfkit.store import SqliteStore


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def alive() -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_an_exited_process_is_gone_and_a_running_one_is_not(alive: int) -> None:
    assert process_is_gone(_exited_pid())
    assert not process_is_gone(alive)
    assert not process_is_gone(os.getpid())


@pytest.mark.parametrize("pid", [None, 0, -5])
def test_a_doubtful_pid_counts_as_alive(pid: int | None) -> None:
    assert not process_is_gone(pid)


def test_an_owner_id_gives_its_host_and_pid() -> None:
    assert parse_owner("box:a:b:42:f00d") == ("box:a:b", 42)
    assert parse_owner("alice") is None
    assert parse_owner("box:notapid:f00d") is None


def test_a_dead_process_of_this_host_loses_at_once_and_of_another_host_never() -> None:
    dead = _exited_pid()
    assert owner_process_gone(this_host(), dead)
    assert owner_is_lost(host=this_host(), pid=dead, lease_until=2_000.0, now=1_000.0)
    elsewhere = this_host() + "-elsewhere"
    assert not owner_is_lost(host=elsewhere, pid=dead, lease_until=2_000.0, now=1_000.0)


def test_a_live_owner_holds_until_its_lease_ends(alive: int) -> None:
    assert not owner_is_lost(host=this_host(), pid=alive, lease_until=2_000.0, now=1_999.0)
    assert owner_is_lost(host=this_host(), pid=alive, lease_until=2_000.0, now=2_000.0)
    assert owner_is_lost(host="elsewhere", pid=None, lease_until=2_000.0, now=2_001.0)


def _row_owned_by(store: SqliteStore, owner: Owner, lease: float) -> InstanceRow:
    row = InstanceRow("a", "report", "RUNNING", 1.0, 1.0, "hash-1")
    store.create(row, [EventRow(0, "Started", 1.0, "{}")], owner=owner, lease_seconds=lease)
    found = store.get("a")
    assert found is not None
    return found


def test_the_reader_calls_lost_what_the_store_claims(tmp_path: Path, alive: int) -> None:
    with SqliteStore(tmp_path / "store.db") as store:
        host = this_host()
        dead = _exited_pid()
        row = _row_owned_by(store, Owner(f"{host}:{dead}:dead0000", host, dead), 3600)
        seen = ownership(row)
        assert (seen.state, seen.process_gone) == ("lost", True)
        taker = Owner(f"{host}:{alive}:live0000", host, alive)
        assert store.claim(taker, 3600) == ["a"]
        row = store.get("a")
        assert row is not None
        assert ownership(row).state == "owned"
        assert store.claim(Owner("other", host, os.getpid()), 30) == []
