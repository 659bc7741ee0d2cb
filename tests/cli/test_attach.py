"""``wfkit run --attach ID`` and ``workers=0``: a client that runs nothing follows an
instance that a ``wfkit worker`` subprocess runs, waking on the store's change
notifications. Work is counted, not timed: the history reads of the following thread."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import wfkit
from wfkit.cli.main import main
from wfkit.engine.core.history import HistoryEvent
from wfkit.engine.loop import operations

STEPS = (
    "import time\n\n"
    "def slow(x=None, fail=False):\n"
    "    time.sleep(0.2)\n"
    "    if fail:\n"
    "        raise RuntimeError('asked to fail')\n"
    "    return x\n"
)
CHAIN = """wfkit: 1
name: chain
inputs:
  fail: {type: boolean, default: false}
steps:
  a: {call: wfattach_steps:slow, with: {x: 1}}
  b: {call: wfattach_steps:slow, with: {x: 2}, needs: [a]}
  c: {call: wfattach_steps:slow, with: {x: 3, fail: "${{ inputs.fail }}"}, needs: [b]}
  d: {call: wfattach_steps:slow, with: {x: 4}, needs: [c]}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    defs = tmp_path / "definitions"
    defs.mkdir()
    (defs / "wfattach_steps.py").write_text(STEPS)
    (defs / "chain.yaml").write_text(CHAIN)
    monkeypatch.chdir(tmp_path)
    for name in ("WFKIT_STORE", "WFKIT_DEFINITIONS", "WFKIT_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def worker(folder: Path, postgres_url: str) -> Iterator[subprocess.Popen[str]]:
    argv = [sys.executable, "-m", "wfkit", "worker", "--store", postgres_url, "--workers", "2"]
    proc = subprocess.Popen(argv, cwd=folder, stderr=subprocess.DEVNULL, text=True)
    yield proc
    proc.terminate()
    proc.wait(30)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> dict[threading.Thread, list[int]]:
    """The history events each thread reads from the store (the real reads)."""
    read: dict[threading.Thread, list[int]] = {}
    real: Callable[..., list[HistoryEvent]] = operations.load_history

    def counting(*args: Any, **kwargs: Any) -> list[HistoryEvent]:
        events = real(*args, **kwargs)
        read.setdefault(threading.current_thread(), []).append(len(events))
        return events

    monkeypatch.setattr(operations, "load_history", counting)
    return read


def _attach(url: str, instance_id: str) -> tuple[int, threading.Thread]:
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(main(["run", "--attach", instance_id, "--store", url]))
    )
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and result
    return result[0], thread


@pytest.mark.parametrize(("fail", "code"), [(False, 0), (True, 1)])
def test_run_attach_follows_a_worker_s_instance_to_its_end_reading_each_event_once(
    folder: Path,
    postgres_url: str,
    worker: subprocess.Popen[str],
    monkeypatch: pytest.MonkeyPatch,
    fail: bool,
    code: int,
) -> None:
    client = wfkit.open(store=postgres_url, workers=0)  # a client: runs nothing
    try:
        assert not client.engine.running
        instance = client.start("chain", fail=fail)
        read = _count_reads(monkeypatch)
        exit_code, thread = _attach(postgres_url, instance.id)
        assert exit_code == code
        history = instance.history()
        reads = read[thread]
        assert sum(reads) == len(history)  # each event read once, whatever the run's length
        # woken by notifications, not a poll: a read finds new events, bar a few
        # notifications that bring none of this instance's (claims, lease handovers)
        assert reads.count(0) <= 4, reads
        assert worker.poll() is None
    finally:
        client.close()


def test_a_client_with_no_workers_waits_for_what_a_worker_runs(
    folder: Path, postgres_url: str, worker: subprocess.Popen[str]
) -> None:
    client = wfkit.open(store=postgres_url, workers=0)
    try:
        done = client.run("chain", timeout=60)
        assert done.status == "COMPLETED" and done.steps["d"].output == 4
        assert client.engine.owner.id not in str(done.row().last_owner)
    finally:
        client.close()


def test_run_attach_to_an_unknown_instance_says_so(folder: Path, capsys: Any) -> None:
    main(["worker", "--for", "0.1"])  # makes the store
    assert main(["run", "--attach", "nobody-has-this"]) != 0
    assert "nobody-has-this" in capsys.readouterr().err
