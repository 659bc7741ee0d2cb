"""What ``wfkit worker`` prints, from hand-built history events (no engine, no process):
the default lines for people, ``-v`` lines and ``--json`` lines."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import datetime

import pytest

from wfkit import parse_definition
from wfkit.cli.show import event_line, worker_event_json
from wfkit.cli.worker_log import OperatorLines, WorkerLog, failure_text
from wfkit.definition.durations import format_seconds
from wfkit.engine.core.history import (
    BreakpointSet,
    EventRaised,
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    Failure,
    HistoryEvent,
    StepFailed,
    StepSkipped,
    StepStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
)
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import replay
from wfkit.runtime.snapshot import SnapshotBuilder, build_snapshot

T0 = 1_800_000_000.0  # epoch seconds of the first event

PIPELINE = """\
wfkit: 1
name: pipeline
steps:
  fetch: {call: "m:fetch", foreach: "${{ [1, 2, 3] }}"}
  check: {call: "m:check", needs: [fetch], retry: {max_attempts: 3, initial_interval: 2s}}
  approve: {wait: {event: Approved}, needs: [check]}
  extra: {call: "m:extra", when: "${{ false }}"}
"""
PLAN = WorkflowPlan.of(parse_definition(PIPELINE))


def at(seconds: float) -> str:
    """The local HH:MM:SS of ``T0 + seconds``, as the default lines show it."""
    return datetime.fromtimestamp(T0 + seconds).strftime("%H:%M:%S")


class Worker:
    """Feeds events to an :class:`OperatorLines` in batches, as the runtime's hook does:
    each batch with a snapshot of the state after it."""

    def __init__(self, instance_id: str = "p-1", *, created_by_start: bool = True) -> None:
        self.instance_id = instance_id
        self.lines = OperatorLines()
        self.history: list[HistoryEvent] = []
        if created_by_start:  # `wfkit start` committed it: the worker never hears of it
            self.history.append(self._numbered(ExecutionStarted(name="pipeline")))

    def _numbered(self, event: HistoryEvent) -> HistoryEvent:
        seq = len(self.history) + 1
        object.__setattr__(event, "seq", seq)
        object.__setattr__(event, "at", T0 + (event.at or seq / 10))
        return event

    def claim(self) -> list[str]:
        """What the engine's hook says when it takes the instance: no events."""
        state = replay(self.instance_id, self.history)
        return self.lines.lines(self.instance_id, [], build_snapshot(PLAN, state))

    def commit(self, *events: HistoryEvent) -> list[str]:
        batch = [self._numbered(e) for e in events]
        self.history.extend(batch)
        state = replay(self.instance_id, self.history)
        state.definition_hash = state.definition_hash or "h"
        snapshot = SnapshotBuilder().build(PLAN, state, batch)
        return self.lines.lines(self.instance_id, batch, snapshot)


def fetch_events(first_at: float = 1.0) -> list[HistoryEvent]:
    """The foreach step ``fetch`` (3 items), every task scheduled and completed."""
    started: list[HistoryEvent] = [StepStarted(at=first_at, step="fetch", items=[1, 2, 3])]
    for i in range(3):
        started.append(TaskScheduled(at=first_at, step="fetch", index=i, kind="call"))
    return started


def test_a_foreach_step_is_one_line_once_all_its_tasks_completed() -> None:
    worker = Worker()
    assert worker.commit(*fetch_events()) == [f"{at(1)} p-1 pipeline: picked up"]
    assert worker.commit(TaskCompleted(at=1.5, step="fetch", index=2)) == []
    done = worker.commit(
        TaskCompleted(at=2.0, step="fetch", index=0), TaskCompleted(at=2.5, step="fetch", index=1)
    )
    assert done == [f"{at(2.5)} p-1 pipeline: step fetch completed (3 tasks, 1.5s)"]


def test_a_retry_says_the_attempt_its_failure_and_when_then_the_step_fails() -> None:
    worker = Worker()
    worker.commit(TaskScheduled(at=1.0, step="check", kind="call"))
    boom = Failure("ValueError", "bad row 7\nTraceback (most recent call last): ...")
    retry = worker.commit(
        TaskFailed(at=2.0, step="check", failure=boom),
        TimerCreated(at=2.0, fire_at=T0 + 4.0, purpose="retry", step="check", attempt=2),
    )
    assert retry == [
        f"{at(2)} p-1 pipeline: step check attempt 1 of 3 failed: ValueError: bad row 7; "
        f"attempt 2 at {at(4)}"
    ]
    worker.commit(TaskScheduled(at=4.0, step="check", kind="call", attempt=2))
    failed = worker.commit(
        TaskFailed(at=5.0, step="check", attempt=2, failure=Failure("KeyError", "'id'")),
        StepFailed(at=5.0, step="check"),
        ExecutionCompleted(
            at=5.0, status="FAILED", failure=Failure("KeyError", "step 'check' failed: 'id'")
        ),
    )
    assert failed == [
        f"{at(5)} p-1 pipeline: step check failed after 2 attempts: KeyError: 'id'",
        f"{at(5)} p-1 pipeline: FAILED in 4.9s: KeyError: step 'check' failed: 'id'",
    ]


def test_a_wait_step_says_which_event_and_the_command_that_sends_it_once() -> None:
    worker = Worker("p 2")  # an id the shell must quote
    waits = worker.commit(TaskScheduled(at=1.0, step="approve", kind="wait"))
    assert waits[1] == (
        f"{at(1)} p 2 pipeline: step approve waits for event 'approved'; "
        "send it with: wfkit raise-event 'p 2' approved [DATA]"
    )
    assert worker.commit(TaskScheduled(at=2.0, step="approve", kind="wait", attempt=2)) == []
    arrived = worker.commit(
        EventRaised(at=3.0, name="approved"), TaskCompleted(at=3.0, step="approve", attempt=2)
    )
    assert arrived == [
        f"{at(3)} p 2 pipeline: event 'approved' arrived",
        f"{at(3)} p 2 pipeline: step approve completed (2s)",
    ]


def test_a_wait_that_a_buffered_event_ends_at_once_is_not_said_to_wait() -> None:
    worker = Worker()
    sent = worker._numbered(EventRaised(at=0.5, name="approved", data={"ok": True}))
    worker.history.append(sent)  # by `wfkit raise-event`, before the worker took it
    said = worker.commit(
        TaskScheduled(at=1.0, step="approve", kind="wait"),
        TaskCompleted(at=1.0, step="approve", output={"ok": True}),
    )
    assert [line.split(": ", 1)[1] for line in said] == [
        "picked up (2 events already recorded)",
        "step approve completed (0ms)",
    ]


def test_resume_step_says_which_steps_run_before_it_pauses_again() -> None:
    worker = Worker()
    worker.commit(ExecutionSuspended(at=1.0, reason="pause"))
    resumed = worker.commit(ExecutionResumed(at=2.0, single_step=True))
    assert resumed == [f"{at(2)} p-1 pipeline: resumed to run the next ready steps, then pause"]
    # committed together as the step starts: said before the step completes, as what it is
    started = worker.commit(
        TaskScheduled(at=2.5, step="check", kind="call"), ExecutionSuspended(at=2.5, reason="step")
    )
    assert started == [
        f"{at(2.5)} p-1 pipeline: running step check, then paused; go on with: wfkit resume p-1"
    ]
    done = worker.commit(TaskCompleted(at=3.0, step="check"))
    assert done == [f"{at(3)} p-1 pipeline: step check completed (500ms)"]


def test_a_wait_the_snapshot_does_not_know_says_where_to_look() -> None:
    lines = OperatorLines()
    history = [
        ExecutionStarted(at=T0, seq=1, name="pipeline"),
        TaskScheduled(at=T0, seq=2, step="approve", kind="wait"),
    ]
    other = WorkflowPlan.of(parse_definition("wfkit: 1\nname: pipeline\nsteps: {a: {sleep: 1}}"))
    state = replay("p-3", history)
    said = lines.lines("p-3", history[1:], SnapshotBuilder().build(other, state, history[1:]))
    assert said[1].endswith("step approve waits for an event (wfkit get p-3 says which)")


def test_skips_pauses_breakpoints_resumes_and_termination() -> None:
    worker = Worker()
    said = worker.commit(
        StepSkipped(at=1.0, step="extra"),
        BreakpointSet(at=1.0, step="approve"),
        ExecutionSuspended(at=2.0, reason="breakpoint", step="approve"),
        ExecutionResumed(at=3.0, single_step=True),
        ExecutionSuspended(at=4.0, reason="step"),
        ExecutionResumed(at=5.0),
        ExecutionSuspended(at=6.0, reason="pause"),
        ExecutionTerminated(at=7.0, reason="not needed"),
    )
    assert [line.split(": ", 1)[1] for line in said] == [
        "picked up",
        "step extra skipped (its when is false)",
        "breakpoint before step approve set",
        "breakpoint before step approve reached: paused; go on with: wfkit resume p-1",
        "resumed to run the next ready steps, then pause",
        "running the next ready steps, then paused; go on with: wfkit resume p-1",
        "resumed",
        "paused; go on with: wfkit resume p-1",
        "TERMINATED in 6.9s: not needed",
    ]


def test_an_instance_started_here_a_taken_over_one_and_a_child() -> None:
    here = Worker("p-4", created_by_start=False)
    said = here.commit(ExecutionStarted(at=1.0, name="pipeline"), *fetch_events())
    assert said == [f"{at(1)} p-4 pipeline: started"]
    child = Worker("p-4:1", created_by_start=False)
    said = child.commit(ExecutionStarted(at=1.0, name="pipeline", parent_id="p-4", parent_step="k"))
    assert said == [f"{at(1)} p-4:1 pipeline: started, as a child of p-4 (step k)"]
    moved = Worker("p-5")
    for event in fetch_events():  # committed by a worker that died
        moved.history.append(moved._numbered(event))
    said = moved.commit(TaskCompleted(at=2.0, step="fetch", index=0))
    assert said == [f"{at(2)} p-5 pipeline: picked up (5 events already recorded)"]


def test_an_instance_claimed_is_said_at_once_and_only_once() -> None:
    waiting = Worker("p-6")
    for event in fetch_events():  # committed by a worker that stopped
        waiting.history.append(waiting._numbered(event))
    said = waiting.claim()  # before anything new is committed: a wait may take hours
    assert [line.split(": ", 1)[1] for line in said] == ["picked up (5 events already recorded)"]
    assert re.fullmatch(r"\d\d:\d\d:\d\d p-6 pipeline: .*", said[0])
    assert waiting.commit(TaskCompleted(at=2.0, step="fetch", index=0)) == []
    fresh = Worker("p-7")
    assert [line.split(": ", 1)[1] for line in fresh.claim()] == ["picked up"]


def test_a_child_workflow_step_completes_with_its_child() -> None:
    worker = Worker()
    worker.commit(
        SubOrchestrationInstanceCreated(at=1.0, step="check", child_id="p-1:1", name="kid")
    )
    done = worker.commit(SubOrchestrationInstanceCompleted(at=3.0, child_id="p-1:1"))
    assert done == [f"{at(3)} p-1 pipeline: step check completed (2s)"]


def test_an_ended_instance_is_forgotten_and_a_retried_one_tells_again() -> None:
    worker = Worker()
    worker.commit(*fetch_events())
    worker.commit(*(TaskCompleted(at=2.0, step="fetch", index=i) for i in range(3)))
    worker.commit(ExecutionCompleted(at=3.0, status="FAILED", failure=Failure("E", "x")))
    assert worker.lines.told == {}  # nothing kept for an instance that ended
    again = worker.commit(ExecutionRewound(at=4.0, steps=["fetch"]), *fetch_events(4.0))
    assert [line.split(": ", 1)[1] for line in again] == [
        "picked up (9 events already recorded)",
        "retried: fetch run again",
    ]
    redone = worker.commit(*(TaskCompleted(at=5.0, step="fetch", index=i) for i in range(3)))
    assert redone == [f"{at(5)} p-1 pipeline: step fetch completed (3 tasks, 1s)"]


def test_an_empty_foreach_completes_as_it_starts() -> None:
    worker = Worker()
    said = worker.commit(StepStarted(at=1.0, step="fetch", items=[]))
    assert said[1] == f"{at(1)} p-1 pipeline: step fetch completed (0 tasks, 0ms)"


def test_failure_text_is_one_clipped_line() -> None:
    assert failure_text(Failure("OSError", "disk full\nmore")) == "OSError: disk full"
    assert failure_text(Failure("E", "")) == "E"
    assert failure_text(None) == "no details"
    long = failure_text(Failure("E", "x" * 500), width=40)
    assert len(long) == 40 and long.endswith("…")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (0.0123, "12ms"),
        (2.0, "2s"),
        (4.2, "4.2s"),
        (4.256, "4.26s"),
        (42.46, "42.5s"),
        (125, "2m05s"),
        (3720, "1h02m"),
        (90000, "1d01h"),
    ],
)
def test_one_duration_form_for_every_printed_duration(seconds: float | None, text: str) -> None:
    """The worker's log and the notebook views print durations the same way."""
    from wfkit.views.instance import format_seconds as views_format_seconds

    assert format_seconds(seconds) == text
    assert views_format_seconds is format_seconds


def test_verbose_lines_keep_the_old_form_with_the_foreach_index() -> None:
    scheduled = TaskScheduled(at=T0, seq=3, step="fetch", index=3, kind="call")
    assert event_line("p-1", scheduled) == "2027-01-15T08:00:00.000Z p-1 TaskScheduled fetch[3]"
    plain = TaskCompleted(at=T0, seq=4, step="check")
    assert event_line("p-1", plain) == "2027-01-15T08:00:00.000Z p-1 TaskCompleted check"
    end = ExecutionCompleted(at=T0, seq=5)
    assert event_line("p-1", end) == "2027-01-15T08:00:00.000Z p-1 ExecutionCompleted"


def test_json_lines_have_the_stable_keys_and_only_those_the_event_has() -> None:
    failed = TaskFailed(
        at=T0 + 0.25, seq=7, step="fetch", index=2, attempt=3, failure=Failure("E", "no")
    )
    assert worker_event_json("p-1", failed, "pipeline") == {
        "at": "2027-01-15T08:00:00.250Z",
        "instanceID": "p-1",
        "workflowName": "pipeline",
        "type": "TaskFailed",
        "seq": 7,
        "step": "fetch",
        "index": 2,
        "attempt": 3,
        "failure": {"type": "E", "message": "no", "stack_trace": ""},
    }
    end = ExecutionCompleted(at=T0, seq=9, status="COMPLETED", output={"big": "not copied"})
    assert worker_event_json("p-1", end) == {
        "at": "2027-01-15T08:00:00.000Z",
        "instanceID": "p-1",
        "type": "ExecutionCompleted",
        "seq": 9,
        "status": "COMPLETED",
    }
    paused = ExecutionSuspended(at=T0, seq=10, reason="pause")  # step is None: left out
    assert set(worker_event_json("p-1", paused, "pipeline")) == {
        "at",
        "instanceID",
        "workflowName",
        "type",
        "seq",
    }


def test_the_log_writes_each_form_to_its_stream() -> None:
    history = [
        ExecutionStarted(at=T0, seq=1, name="pipeline"),
        TaskScheduled(at=T0, seq=2, step="check", kind="call"),
    ]
    state = replay("p-1", history)
    for form, check in (
        ("human", lambda text: text == f"{at(0)} p-1 pipeline: picked up\n"),
        ("verbose", lambda text: text.endswith(" p-1 TaskScheduled check\n")),
        ("json", lambda text: json.loads(text)["type"] == "TaskScheduled"),
    ):
        out = io.StringIO()
        snapshot = build_snapshot(PLAN, state)
        WorkerLog(out, form).hook(
            instance_id="p-1", events=history[1:], snapshot=snapshot, status="x"
        )
        assert check(out.getvalue()), (form, out.getvalue())
    with pytest.raises(ValueError, match="form must be one of"):
        WorkerLog(io.StringIO(), "xml")


def test_the_log_keeps_lines_whole_across_threads() -> None:
    out = io.StringIO()
    log = WorkerLog(out, "json")

    def hook_many(instance_id: str) -> None:
        history = [ExecutionStarted(at=T0, seq=1, name="pipeline")]
        for seq in range(2, 202):
            event = TaskScheduled(at=T0, seq=seq, step="fetch", index=seq, kind="call")
            snapshot = build_snapshot(PLAN, replay(instance_id, history))
            log.hook(instance_id=instance_id, events=[event], snapshot=snapshot)

    threads = [threading.Thread(target=hook_many, args=(f"i-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 800
    for n in range(4):
        assert [r["seq"] for r in records if r["instanceID"] == f"i-{n}"] == list(range(2, 202))


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError


def test_the_log_stops_writing_once_its_reader_is_gone() -> None:
    log = WorkerLog(ClosedPipe(), "json")
    event = TaskScheduled(at=T0, seq=2, step="check", kind="call")
    log.hook(instance_id="p-1", events=[event], snapshot=None)
    assert log.closed
    log.hook(instance_id="p-1", events=[event], snapshot=None)  # nothing raised, nothing tried


def test_without_a_state_the_default_form_prints_every_event() -> None:
    out = io.StringIO()
    event = TaskScheduled(at=T0, seq=2, step="check", kind="call")
    WorkerLog(out).hook(instance_id="p-1", events=[event])
    assert out.getvalue() == "2027-01-15T08:00:00.000Z p-1 TaskScheduled check\n"


class Pipe(io.StringIO):
    """Records what a reader at the other end could see: the text flushed so far."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def flush(self) -> None:
        self.seen.append(self.getvalue())


def test_each_line_is_flushed_as_it_is_written() -> None:
    pipe = Pipe()
    events = [TaskScheduled(at=T0, seq=seq, step="fetch", index=seq, kind="call") for seq in (2, 3)]
    WorkerLog(pipe, "json").hook(instance_id="p-1", events=events, snapshot=None)
    assert [text.count("\n") for text in pipe.seen] == [1, 2]


def test_one_clip_folds_white_space_unless_told_to_keep_it() -> None:
    """The runtime's previews fold white space; ``wfkit get``'s tail of captured output
    keeps it (indentation means something there). Both cut the same way."""
    from wfkit.runtime.preview import clip

    assert clip("a  b\n   c", 60) == "a b c"
    assert clip("    indented  line", 60, fold_space=False) == "    indented  line"
    assert clip("x" * 100, 10, fold_space=False) == "x" * 9 + "…"
