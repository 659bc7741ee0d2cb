"""Statuses, task phases, timer purposes and suspend reasons are enums in the core, and
the history they are stored in reads and writes the same text as before they were; the
decider numbers events without changing the ones it is given."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from wfkit.definition.parse import parse_text
from wfkit.engine.core.decide import advance, decide
from wfkit.engine.core.history import (
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionStarted,
    ExecutionSuspended,
    Failure,
    HistoryDecodeError,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    TimerCreated,
    TimerFired,
    decode_event,
)
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import replay
from wfkit.engine.core.status import (
    RuntimeStatus,
    StepStatus,
    SuspendReason,
    TaskPhase,
    TimerPurpose,
)
from wfkit.engine.loop.records import event_rows, load_history
from wfkit.engine.protocols import EventRow, InstanceRow
from wfkit.store import SqliteStore

TEXT = """wfkit: 1
name: kinds
steps:
  a:
    call: m:f
    retry: {max_attempts: 2, initial_interval: 1s}
  b: {sleep: 5s, needs: [a]}
  c: {wait: {event: go, timeout: 1m}, needs: [b]}
"""

# The rows wfkit wrote for this run before statuses, phases and purposes were enums
# (printed by the code of the commit before them): a pause, a retry timer, a sleep, a
# wait's timeout, a failed end.
ROWS = [
    (1, "ExecutionStarted", 1.0, '{"name":"kinds","input":{},"definition_hash":"","v":2}'),
    (2, "TaskScheduled", 1.0, '{"step":"a","attempt":1,"kind":"call","v":2}'),
    (3, "ExecutionSuspended", 2.0, '{"reason":"pause","v":2}'),
    (4, "ExecutionResumed", 3.0, '{"single_step":false,"v":2}'),
    (
        5,
        "TaskFailed",
        4.0,
        '{"step":"a","attempt":1,"failure":{"type":"ValueError","message":"no","stack_trace":""},"v":2}',
    ),
    (6, "TimerCreated", 4.0, '{"fire_at":5.0,"purpose":"retry","step":"a","attempt":2,"v":2}'),
    (7, "TimerFired", 5.0, '{"timer_id":6,"v":2}'),
    (8, "TaskScheduled", 5.0, '{"step":"a","attempt":2,"kind":"call","v":2}'),
    (9, "TaskCompleted", 6.0, '{"step":"a","attempt":2,"output":{"v":1},"v":2}'),
    (10, "TimerCreated", 6.0, '{"fire_at":11.0,"purpose":"sleep","step":"b","attempt":1,"v":2}'),
    (11, "TimerFired", 11.0, '{"timer_id":10,"v":2}'),
    (12, "TaskCompleted", 11.0, '{"step":"b","attempt":1,"v":2}'),
    (13, "TaskScheduled", 11.0, '{"step":"c","attempt":1,"kind":"wait","v":2}'),
    (14, "TimerCreated", 11.0, '{"fire_at":71.0,"purpose":"timeout","step":"c","attempt":1,"v":2}'),
    (15, "TimerFired", 71.0, '{"timer_id":14,"v":2}'),
    (
        16,
        "TaskFailed",
        71.0,
        '{"step":"c","attempt":1,"failure":{"type":"TimeoutError","message":"step \'c\' timed out after 1m","stack_trace":""},"v":2}',
    ),
    (17, "StepFailed", 71.0, '{"step":"c","v":2}'),
    (
        18,
        "ExecutionCompleted",
        71.0,
        '{"status":"FAILED","failure":{"type":"TimeoutError","message":"step \'c\' timed out after 1m","stack_trace":""},"v":2}',
    ),
]


def _plan() -> WorkflowPlan:
    result = parse_text(TEXT)
    assert result.definition is not None
    return WorkflowPlan.of(result.definition)


def _drive() -> list[HistoryEvent]:
    """Run the definition through ``decide`` with hand-made results and timers."""
    plan = _plan()
    history: list[HistoryEvent] = [ExecutionStarted(at=1.0, seq=1, name="kinds", input={})]

    def step(new: list[HistoryEvent], now: float) -> None:
        history.extend(decide(plan, history, new, instance_id="i", now=now).events)

    step([], 1.0)
    step([ExecutionSuspended(at=2.0, reason="pause")], 2.0)
    step([ExecutionResumed(at=3.0)], 3.0)
    failure = Failure("ValueError", "no")
    step([TaskFailed(at=4.0, step="a", attempt=1, failure=failure)], 4.0)
    step([TimerFired(at=5.0, timer_id=history[-1].seq)], 5.0)  # the retry
    step([TaskCompleted(at=6.0, step="a", attempt=2, output={"v": 1})], 6.0)
    step([TimerFired(at=11.0, timer_id=history[-1].seq)], 11.0)  # the sleep
    step([TimerFired(at=71.0, timer_id=history[-1].seq)], 71.0)  # the wait's timeout
    return history


def _rows(events: list[HistoryEvent]) -> list[tuple[int, str, float, str]]:
    return [(r.seq, r.type, r.at, r.data) for r in event_rows(events)]


def test_the_history_is_written_as_it_was_before_the_enums() -> None:
    assert _rows(_drive()) == ROWS


def test_a_history_stored_before_the_enums_reads_back_the_same(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    store = SqliteStore(path)
    row = InstanceRow("i", "kinds", "FAILED", 1.0, 71.0, "")
    store.create(row, [EventRow(*r) for r in ROWS])
    store.close()

    store = SqliteStore(path)  # a later process opens the file
    try:
        history = load_history(store, "i")
    finally:
        store.close()
    assert _rows(history) == ROWS  # written again, the same text
    ended = history[-1]
    assert isinstance(ended, ExecutionCompleted) and ended.status is RuntimeStatus.FAILED
    purposes = [e.purpose for e in history if isinstance(e, TimerCreated)]
    assert purposes == [TimerPurpose.RETRY, TimerPurpose.SLEEP, TimerPurpose.TIMEOUT]
    assert all(type(p) is TimerPurpose for p in purposes)
    state = replay("i", history)
    assert state.status is RuntimeStatus.FAILED
    assert [t.purpose for t in state.timers.values()] == purposes
    assert state.steps["a"].tasks[0].phase is TaskPhase.COMPLETED
    assert state.steps["c"].tasks[0].phase is TaskPhase.FAILED
    assert state.steps["c"].status is StepStatus.FAILED
    assert state.steps["a"].count(TaskPhase.COMPLETED) == 1
    assert state.steps["a"].count("completed") == 1  # readers that count by text still do


def test_a_timer_made_with_a_plain_string_folds_to_its_member() -> None:
    history = [
        ExecutionStarted(at=1.0, seq=1, name="kinds"),
        TimerCreated(at=1.0, seq=2, fire_at=2.0, purpose="sleep", step="b"),  # type: ignore[arg-type]
    ]
    assert replay("i", history).timers[2].purpose is TimerPurpose.SLEEP


def test_a_stored_timer_of_an_unknown_purpose_is_refused_with_a_clear_error() -> None:
    with pytest.raises(HistoryDecodeError, match=r"unknown purpose 'nap'.*upgrade wfkit"):
        decode_event("TimerCreated", 1.0, 7, '{"fire_at":2.0,"purpose":"nap","step":"b","v":2}')


def test_the_suspend_reasons_are_the_stored_words() -> None:
    history = _drive()
    suspended = [e for e in history if isinstance(e, ExecutionSuspended)]
    assert [e.reason for e in suspended] == [SuspendReason.PAUSE]
    assert replay("i", history[:3]).suspend_reason == "pause"


def _running_a() -> tuple[WorkflowPlan, list[HistoryEvent]]:
    plan = _plan()
    history: list[HistoryEvent] = [ExecutionStarted(at=1.0, seq=1, name="kinds", input={})]
    history += decide(plan, history, [], instance_id="i", now=1.0).events
    return plan, history


def test_advance_never_changes_the_events_it_is_given() -> None:
    plan, history = _running_a()
    given = TaskCompleted(at=6.0, step="a", attempt=1, output={"v": 1})
    for owned in (False, True):
        state = replay("i", history)
        decision = advance(plan, state, [given], now=6.0, owned=owned)
        assert given.seq == 0  # as it was made
        recorded = decision.events[0]
        assert recorded.seq == len(history) + 1 and recorded.at == 6.0
        assert recorded == given


def test_advance_builds_a_draft_with_its_number_and_keeps_a_numbered_event() -> None:
    plan, history = _running_a()
    draft = partial(TaskCompleted, at=6.0, step="a", attempt=1, output={"v": 1})
    decision = advance(plan, replay("i", history), [draft], now=6.0)
    assert decision.events[0] == draft(seq=3) and decision.events[0].seq == 3

    numbered = TaskCompleted(at=6.0, seq=3, step="a", attempt=1, output={"v": 1})
    decision = advance(plan, replay("i", history), [numbered], now=6.0)
    assert decision.events[0] is numbered  # not copied: it already carries its place
    timer = decision.events[1]
    assert isinstance(timer, TimerCreated) and timer.purpose is TimerPurpose.SLEEP
    assert (timer.seq, timer.at) == (4, 6.0)


def test_a_stale_draft_takes_no_number() -> None:
    """A result of another attempt is not recorded; the next event gets the number."""
    plan, history = _running_a()
    stale = partial(TaskCompleted, at=6.0, step="a", attempt=7)
    fresh = partial(TaskCompleted, at=6.0, step="a", attempt=1)
    decision = advance(plan, replay("i", history), [stale, fresh], now=6.0)
    assert [(type(e).__name__, e.seq) for e in decision.events[:1]] == [("TaskCompleted", 3)]
    assert decision.events[0] == fresh(seq=3)
