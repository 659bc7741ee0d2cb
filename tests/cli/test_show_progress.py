"""The progress display of ``wfkit run`` on a terminal: one rewritten line, plus a line
telling how to send the event a step starts waiting for (once), and lines saying why the
run is paused, how to go on, and when it runs again."""

from __future__ import annotations

import io

from wfkit import parse_definition
from wfkit.cli.show import Progress
from wfkit.engine.core.history import (
    ExecutionResumed,
    ExecutionStarted,
    ExecutionSuspended,
    HistoryEvent,
    TaskCompleted,
    TaskScheduled,
)
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import replay
from wfkit.runtime.snapshot import build_snapshot

GATE = """\
wfkit: 1
name: gate
steps:
  prep: {call: "m:f"}
  ok: {wait: {event: Approved}, needs: [prep]}
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_and_the_event_hint_once() -> None:
    plan = WorkflowPlan.of(parse_definition(GATE))
    started = ExecutionStarted(at=1.0, seq=1, name="gate", input={}, definition_hash="h")
    history = [
        started,
        TaskScheduled(at=1.0, seq=2, step="prep", attempt=1, kind="call"),
    ]
    screen = Terminal()
    progress = Progress(screen, "g-1")
    progress.update(build_snapshot(plan, replay("g-1", history)))
    assert screen.getvalue() == "\r\x1b[2Kg-1 RUNNING   [0/2] running prep"
    history += [
        TaskCompleted(at=2.0, seq=3, step="prep", attempt=1, output=1),
        TaskScheduled(at=2.0, seq=4, step="ok", attempt=1, kind="wait"),
    ]
    for _ in range(3):  # polled again and again while it waits: told once
        progress.update(build_snapshot(plan, replay("g-1", history)))
    progress.close()
    shown = screen.getvalue().split("\r\x1b[2K")
    hint = "  ok waits for event 'approved'; send it with: wfkit raise-event g-1 approved [DATA]\n"
    assert shown.count(hint) == 1
    assert shown[-1] == "g-1 RUNNING   [1/2] waiting for event 'approved'\n"


BREAK = """\
wfkit: 1
name: brk
steps:
  a: {call: "m:f"}
  b: {call: "m:f", needs: [a], pause_before: true}
"""


def _at_the_breakpoint() -> list[HistoryEvent]:
    """The history of a ``brk`` run: step a done, suspended before step b."""
    return [
        ExecutionStarted(at=1.0, seq=1, name="brk", input={}, definition_hash="h"),
        TaskScheduled(at=1.0, seq=2, step="a", attempt=1, kind="call"),
        TaskCompleted(at=2.0, seq=3, step="a", attempt=1, output=1),
        ExecutionSuspended(at=2.0, seq=4, reason="breakpoint", step="b"),
    ]


def test_a_pause_is_said_with_why_and_how_to_go_on_and_so_is_the_resume() -> None:
    plan = WorkflowPlan.of(parse_definition(BREAK))
    history = _at_the_breakpoint()
    screen = io.StringIO()  # not a terminal: a line per change
    progress = Progress(screen, "b-1")
    for _ in range(2):  # polled again while it waits: told once
        progress.update(build_snapshot(plan, replay("b-1", history)))
    history += [
        ExecutionResumed(at=3.0, seq=5),
        TaskScheduled(at=3.0, seq=6, step="b", attempt=1, kind="call"),
    ]
    progress.update(build_snapshot(plan, replay("b-1", history)))
    history.append(ExecutionSuspended(at=3.5, seq=7, reason="pause"))
    progress.update(build_snapshot(plan, replay("b-1", history)))
    history += [
        ExecutionResumed(at=4.0, seq=8, single_step=True),
        ExecutionSuspended(at=4.0, seq=9, reason="step"),
    ]
    progress.update(build_snapshot(plan, replay("b-1", history)))
    assert screen.getvalue().splitlines() == [
        "✓ a completed",
        "  paused at the breakpoint before step b; go on with: wfkit resume b-1",
        "  resumed",  # before the steps the resume let start
        "… b running",
        "  paused; go on with: wfkit resume b-1",
        "  running the next ready steps, then paused; go on with: wfkit resume b-1",
    ]


def test_a_terminal_gets_the_pause_line_above_the_progress_line() -> None:
    plan = WorkflowPlan.of(parse_definition(BREAK))
    history = _at_the_breakpoint()
    screen = Terminal()
    progress = Progress(screen, "b 2")  # an id the shell must quote
    progress.update(build_snapshot(plan, replay("b 2", history)))
    assert screen.getvalue().split("\r\x1b[2K")[1:] == [
        "  paused at the breakpoint before step b; go on with: wfkit resume 'b 2'\n",
        "b 2 SUSPENDED [1/2] paused at the breakpoint before b",
    ]
