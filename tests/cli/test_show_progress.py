"""The progress display of ``wfkit run`` on a terminal: one rewritten line, plus a line
telling how to send the event a step starts waiting for (once)."""

from __future__ import annotations

import io

from wfkit import parse_definition
from wfkit.cli.show import Progress
from wfkit.engine.history import ExecutionStarted, TaskCompleted, TaskScheduled
from wfkit.engine.plan import WorkflowPlan
from wfkit.engine.state import replay

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
    progress.update(plan, replay("g-1", history))
    assert screen.getvalue() == "\r\x1b[2Kg-1 RUNNING   [0/2] running prep"
    history += [
        TaskCompleted(at=2.0, seq=3, step="prep", attempt=1, output=1),
        TaskScheduled(at=2.0, seq=4, step="ok", attempt=1, kind="wait"),
    ]
    for _ in range(3):  # polled again and again while it waits: told once
        progress.update(plan, replay("g-1", history))
    progress.close()
    shown = screen.getvalue().split("\r\x1b[2K")
    hint = "  ok waits for event 'approved'; send it with: wfkit raise-event g-1 approved [DATA]\n"
    assert shown.count(hint) == 1
    assert shown[-1] == "g-1 RUNNING   [1/2] waiting for event 'approved'\n"
