"""A store on a file system that fills up: ``wfkit run`` says so once and exits 5 after
the store_outage_timeout setting; a ``wfkit worker`` says so once, keeps trying quietly,
says when the store recovered and completes the instance. A real, small tmpfs mount
(these tests run as root) and real ``wfkit`` processes."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wfkit.store.sqlite import SqliteStore

STEPS = '''
import time
from pathlib import Path


def work():
    """Says it started, waits for the gate file, returns 300 KB (a commit that needs
    room on the disk)."""
    Path("started").write_text("")
    while not Path("gate").exists():
        time.sleep(0.01)
    return "x" * 300_000
'''

FILL = """\
wfkit: 1
name: fill
steps:
  work: {call: "fullsteps:work"}
"""


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs: small enough to fill in a moment."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path) -> Path:
    """Write a file until the file system is full; returns it (delete it to free space)."""
    filler = mount / "filler"
    chunk = b"\0" * 4096
    with open(filler, "wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return filler


def _wfkit(cwd: Path, store: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WFKIT_STORE": store,
        "WFKIT_DEFINITIONS": str(cwd),
        "WFKIT_STORE_OUTAGE_TIMEOUT": "2",
        "WFKIT_WORKERS": "1",
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wfkit", *args], cwd=cwd, env=env, stdout=out, stderr=out
        )


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not in {timeout} s: {what}"
        time.sleep(0.05)


def test_a_full_disk_ends_run_with_5_and_a_worker_recovers(tmp_path: Path, disk: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "fullsteps.py").write_text(STEPS)
    (cwd / "fill.yaml").write_text(FILL)
    store = f"sqlite:///{disk / 'wfkit.db'}"
    run_log, worker_log = tmp_path / "run.log", tmp_path / "worker.log"

    run = _wfkit(cwd, store, "run", "fill", "--id", "job", log=run_log)
    _until((cwd / "started").exists, 60, "the step started")
    filler = _fill(disk)
    (cwd / "gate").write_text("")  # the step returns; its result cannot be committed
    try:
        code = run.wait(timeout=60)
    finally:
        run.kill()
    said = run_log.read_text()
    assert code == 5, said
    assert said.count("the store is failing") == 1, said
    assert "giving up: the store has failed for 2 s" in said
    assert "Traceback" not in said

    worker = _wfkit(cwd, store, "worker", log=worker_log)
    try:
        _until(lambda: "the store is failing" in worker_log.read_text(), 60, "a failure said")
        time.sleep(1.0)  # let it try (quietly) a few more times while the disk is full
        filler.unlink()
        _until(lambda: "the store recovered" in worker_log.read_text(), 60, "recovery said")
        with SqliteStore(disk / "wfkit.db") as reader:
            _until(lambda: _status(reader) == "COMPLETED", 60, "the instance completed")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    said = worker_log.read_text()
    assert said.count("the store is failing") == 1, said
    assert "Traceback" not in said


def _status(store: SqliteStore) -> str:
    row = store.get("job")
    return "" if row is None else row.status
