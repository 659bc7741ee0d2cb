"""Following a run reads each history event once: ``wfkit run`` looks at its instance
after every commit, and each look reads only what was committed since the last one
(it used to replay the whole history at every look: quadratic in the run's length).

Work is counted, not timed: the events the looking thread reads from the store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wfkit.cli.main import main
from wfkit.engine.core.history import HistoryEvent
from wfkit.engine.core.state import replay
from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.loop import operations
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

STEPS = (
    "import time\n\n\ndef one(x=None):\n    return x\n\n\n"
    "def slow(x=None):\n    time.sleep(0.005)\n    return x\n"
)
WIDE = """wfkit: 1
name: wide
inputs:
  items: {type: array}
steps:
  each:
    call: wffollow_steps:one
    foreach: ${{ inputs.items }}
    with: {x: "${{ item }}"}
    max_parallel: 1
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    defs = tmp_path / "definitions"
    defs.mkdir()
    (defs / "wffollow_steps.py").write_text(STEPS)
    (defs / "wide.yaml").write_text(WIDE)
    # 5 ms an item: the run outlasts the first look even on a fast, idle machine
    slow = WIDE.replace("name: wide", "name: wide-slow").replace(":one", ":slow")
    (defs / "wide-slow.yaml").write_text(slow)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _count_reads(monkeypatch: pytest.MonkeyPatch, thread: threading.Thread) -> list[int]:
    """Count the history events that ``thread`` reads from the store (the real reads)."""
    read: list[int] = []
    real: Callable[..., list[HistoryEvent]] = operations.load_history

    def counting(*args: Any, **kwargs: Any) -> list[HistoryEvent]:
        events = real(*args, **kwargs)
        if threading.current_thread() is thread:
            read.append(len(events))
        return events

    monkeypatch.setattr(operations, "load_history", counting)
    return read


def test_wfkit_run_reads_each_event_of_a_long_run_once(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A foreach of 300 items, one at a time: some 600 commits, each looked at."""
    read = _count_reads(monkeypatch, threading.current_thread())
    store = f"sqlite:///{folder / 'wfkit.db'}"
    items = "[" + ",".join(str(i) for i in range(300)) + "]"
    code = main(
        ["run", "wide", "--definitions", "definitions", "--store", store, "--workers", "1",
         "--input", '{"items": ' + items + "}", "--id", "w1"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    looks = list(read)
    with Runtime(Settings("definitions", store, 1), run_engine=False) as runtime:
        history = runtime.instance("w1").history()
    assert len(history) > 600
    assert len(looks) >= 5, "the run was looked at a few times at least"
    # each event once (the old code read the whole history at each of the looks)
    assert sum(looks) == len(history), f"{sum(looks)} events read in {len(looks)} looks"


def test_a_state_brought_up_to_date_equals_a_full_replay(folder: Path) -> None:
    settings = Settings("definitions", f"sqlite:///{folder / 'wfkit.db'}", 1)
    with Runtime(settings) as runtime:
        job = runtime.start("wide-slow", {"items": list(range(40))}, instance_id="w2")
        state = job.state()
        seen: list[int] = []
        while not state.is_terminal:
            runtime.engine.wait_committed(0.2)
            state = job.state(since=state)
            seen.append(state.version)
            so_far = [e for e in job.history() if e.seq <= state.version]  # it runs on
            assert state == replay("w2", so_far)
        assert state.status is RuntimeStatus.COMPLETED and len(seen) > 1
        assert state.steps["each"].output == list(range(40))
        assert job.state(since=state) is state  # nothing new: the same state, no read
        # purged and started again under the same id: not mixed with the old one
        runtime.workflows.purge("w2")
        again = runtime.start("wide", {"items": [7]}, instance_id="w2").wait(20)
        fresh = again.state(since=state)
        assert fresh == replay("w2", again.history())
        assert fresh.steps["each"].output == [7]
