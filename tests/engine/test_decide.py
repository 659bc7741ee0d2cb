"""The pure core, driven from hand-built histories: no store, no threads, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from wfkit import parse_definition
from wfkit.engine.core.actions import CancelTasks, NotifyParent, RunTask, StartChild, StartTimer
from wfkit.engine.core.decide import Decision, decide
from wfkit.engine.core.history import (
    EventRaised,
    ExecutionCompleted,
    ExecutionResumed,
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
    TaskAbandoned,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)
from wfkit.engine.core.inputs import prepare_input
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import replay
from wfkit.engine.core.status import RuntimeStatus, StepStatus


class Run:
    """A history being written by decide, one batch of new events at a time."""

    def __init__(self, yaml_text: str, inputs: dict[str, Any] | None = None) -> None:
        self.plan = WorkflowPlan.of(parse_definition(yaml_text))
        self.history: list[HistoryEvent] = []
        self.clock = 100.0
        values = prepare_input(self.plan.definition, inputs or {})
        self.last = self.feed(ExecutionStarted(name="t", input=values))

    def feed(self, *events: HistoryEvent, at: float | None = None) -> Decision:
        self.clock = at if at is not None else self.clock + 1
        stamped = [e if e.at else _with_at(e, self.clock) for e in events]
        decision = decide(self.plan, self.history, stamped, instance_id="i1", now=self.clock)
        self.history += decision.events
        self.last = decision
        return decision

    def done(
        self, step: str, output: Any = None, index: int | None = None, attempt: int = 1
    ) -> Decision:
        return self.feed(TaskCompleted(step=step, output=output, index=index, attempt=attempt))

    def fail(
        self, step: str, message: str = "boom", attempt: int = 1, index: int | None = None
    ) -> Decision:
        failure = Failure("ValueError", message)
        return self.feed(TaskFailed(step=step, failure=failure, attempt=attempt, index=index))

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.last.state

    def types(self, decision: Decision | None = None) -> list[str]:
        return [type(e).__name__ for e in (decision or self.last).events]

    def scheduled(self, decision: Decision | None = None) -> list[tuple[str, int | None]]:
        return [
            (a.step, a.index) for a in (decision or self.last).actions if isinstance(a, RunTask)
        ]


def _with_at(event: HistoryEvent, at: float) -> HistoryEvent:
    from dataclasses import replace

    return replace(event, at=at)


CHAIN = """
wfkit: 1
name: chain
inputs: {n: {type: integer, default: 1}}
steps:
  a: {call: "m:a", with: {n: "${{ inputs.n }}"}}
  b: {call: "m:b", with: {x: "${{ steps.a.output }}"}}
  c: {call: "m:c", needs: [b]}
output: {last: "${{ steps.c.output }}", first: "${{ steps.a.output }}"}
"""


def test_start_schedules_the_first_step_with_its_rendered_input() -> None:
    run = Run(CHAIN, {"n": 5})
    # a step without when or foreach has no StepStarted: its TaskScheduled starts it
    assert run.types() == ["ExecutionStarted", "TaskScheduled"]
    (action,) = run.last.actions
    assert action == RunTask("a", None, 1, "call", "m:a", {"n": 5}, {}, None)
    assert run.state.status is RuntimeStatus.RUNNING
    step = run.state.steps["a"]
    assert step.status is StepStatus.RUNNING and step.started_at == run.clock
    assert [t.phase for t in step.tasks] == ["running"]


def test_steps_with_when_or_foreach_record_that_they_started() -> None:
    run = Run(
        """
wfkit: 1
name: gated
steps:
  a: {call: "m:a", when: "${{ true }}"}
  b: {call: "m:b", foreach: "${{ [1, 2] }}"}
  c: {sleep: 5s}
  d: {wait: go}
"""
    )
    started = [(type(e).__name__, getattr(e, "step", "")) for e in run.last.events]
    assert started[1:3] == [("StepStarted", "a"), ("TaskScheduled", "a")]
    assert ("StepStarted", "b") in started
    assert ("StepStarted", "c") not in started and ("TimerCreated", "c") in started
    assert ("StepStarted", "d") not in started and ("TaskScheduled", "d") in started
    statuses = {sid: step.status for sid, step in run.state.steps.items()}
    assert statuses == {
        "a": StepStatus.RUNNING,
        "b": StepStatus.RUNNING,
        "c": StepStatus.WAITING,
        "d": StepStatus.WAITING,
    }


def test_a_history_written_with_step_started_for_every_step_replays_the_same() -> None:
    """Histories of earlier wfkit versions have a StepStarted before each plain step."""
    run = Run(CHAIN, {"n": 5})
    run.done("a", 1)
    run.done("b", 2)
    older: list[HistoryEvent] = []
    for event in run.history:
        if isinstance(event, TaskScheduled):
            older.append(StepStarted(step=event.step, at=event.at, seq=event.seq))
        older.append(event)
    older = [replace(e, seq=seq) for seq, e in enumerate(older, 1)]
    now = replay("i1", run.history)
    then = replay("i1", older)
    assert {sid: (s.status, s.started_at, s.output) for sid, s in then.steps.items()} == {
        sid: (s.status, s.started_at, s.output) for sid, s in now.steps.items()
    }
    decision = decide(run.plan, older, [TaskCompleted(step="c", output=3, attempt=1, at=200.0)])
    assert decision.state.status is RuntimeStatus.COMPLETED
    assert decision.state.output == {"last": 3, "first": 1}


def test_a_chain_runs_step_by_step_and_completes_with_its_output() -> None:
    run = Run(CHAIN)
    assert run.scheduled(run.done("a", 10)) == [("b", None)]
    assert run.last.actions[0].input == {"x": 10}  # type: ignore[union-attr]
    assert run.scheduled(run.done("b", 20)) == [("c", None)]
    run.done("c", 30)
    assert run.types()[-1] == "ExecutionCompleted"
    assert run.state.status is RuntimeStatus.COMPLETED
    assert run.state.output == {"last": 30, "first": 10}


def test_events_are_numbered_after_the_history_and_decide_is_pure() -> None:
    run = Run(CHAIN)
    before = list(run.history)
    decision = decide(run.plan, before, [TaskCompleted(at=5, step="a", output=1)], instance_id="i1")
    assert [e.seq for e in decision.events] == list(
        range(len(before) + 1, len(before) + 1 + len(decision.events))
    )
    assert run.history == before  # the history given was not changed
    again = decide(run.plan, before, [TaskCompleted(at=5, step="a", output=1)], instance_id="i1")
    assert again.events == decision.events


def test_parallel_steps_start_together_and_the_join_waits_for_all() -> None:
    run = Run("""
wfkit: 1
name: fan
steps:
  a: {call: "m:f"}
  b: {call: "m:f"}
  c: {call: "m:f", needs: [a, b]}
""")
    assert run.scheduled(run.last) == [("a", None), ("b", None)]
    assert run.scheduled(run.done("a")) == []
    assert run.scheduled(run.done("b")) == [("c", None)]


def test_concurrency_bounds_the_running_steps_of_an_instance() -> None:
    run = Run("""
wfkit: 1
name: bounded
concurrency: 2
steps:
  a: {call: "m:f"}
  b: {call: "m:f"}
  c: {call: "m:f"}
""")
    assert run.scheduled() == [("a", None), ("b", None)]
    # a step waiting for a slot is pending, not shown as running with nothing running
    assert run.state.steps.get("c") is None or run.state.steps["c"].status is StepStatus.PENDING
    assert run.state.step_status("c") is StepStatus.PENDING
    assert run.scheduled(run.done("b")) == [("c", None)]
    assert run.state.steps["c"].status is StepStatus.RUNNING


FOREACH = """
wfkit: 1
name: fe
inputs: {xs: {type: array, default: [10, 20, 30]}}
steps:
  each:
    call: m:f
    foreach: ${{ inputs.xs }}
    max_parallel: 2
    with: {x: "${{ item }}", i: "${{ index }}"}
  after: {call: "m:g", with: {all: "${{ steps.each.output }}"}}
"""


def test_foreach_respects_max_parallel_and_keeps_item_order() -> None:
    run = Run(FOREACH)
    assert run.scheduled() == [("each", 0), ("each", 1)]
    assert [a.input for a in run.last.actions] == [{"x": 10, "i": 0}, {"x": 20, "i": 1}]  # type: ignore[union-attr]
    assert run.scheduled(run.done("each", "B", index=1)) == [("each", 2)]
    run.done("each", "C", index=2)
    assert run.scheduled(run.done("each", "A", index=0)) == [("after", None)]
    assert run.last.actions[0].input == {"all": ["A", "B", "C"]}  # type: ignore[union-attr]


def test_foreach_over_an_empty_list_completes_with_an_empty_output() -> None:
    run = Run(FOREACH, {"xs": []})
    assert run.scheduled() == [("after", None)]
    assert run.last.actions[0].input == {"all": []}  # type: ignore[union-attr]


def test_foreach_that_is_not_a_list_fails_the_step_without_retry() -> None:
    run = Run(FOREACH.replace("foreach: ${{ inputs.xs }}", "foreach: ${{ inputs.xs[0] }}"))
    assert run.state.status is RuntimeStatus.FAILED
    assert "not a list" in run.state.failure.message


WHEN = """
wfkit: 1
name: when
inputs: {go: {type: boolean, default: false}}
steps:
  maybe: {call: "m:f", when: "${{ inputs.go }}"}
  after: {call: "m:g", with: {s: "${{ steps.maybe.status }}", o: "${{ steps.maybe.output }}"}}
"""


def test_when_false_skips_the_step_and_its_dependents_still_run() -> None:
    run = Run(WHEN)
    assert "StepSkipped" in run.types()
    assert run.scheduled() == [("after", None)]
    assert run.last.actions[0].input == {"s": "skipped", "o": None}  # type: ignore[union-attr]


def test_when_true_runs_the_step() -> None:
    run = Run(WHEN, {"go": True})
    assert run.scheduled() == [("maybe", None)]


def test_when_that_is_not_a_boolean_fails_with_an_expression_error() -> None:
    run = Run(WHEN.replace('"${{ inputs.go }}"', '"${{ 1 }}"'))
    assert run.state.status is RuntimeStatus.FAILED
    assert run.state.failure.type == "ExpressionError"


RETRY = """
wfkit: 1
name: retry
steps:
  flaky:
    call: m:f
    retry: {max_attempts: 3, initial_interval: 2s, backoff_coefficient: 3, max_interval: 5s}
"""


def test_retry_is_a_durable_timer_with_capped_backoff_and_then_a_failure() -> None:
    run = Run(RETRY)
    run.fail("flaky", attempt=1)
    timers = [e for e in run.last.events if isinstance(e, TimerCreated)]
    assert [(t.purpose, t.attempt, t.fire_at - run.clock) for t in timers] == [("retry", 2, 2.0)]
    assert run.last.actions == [StartTimer(timers[0].seq, timers[0].fire_at)]
    run.feed(TimerFired(timer_id=timers[0].seq))
    assert run.scheduled() == [("flaky", None)]
    assert run.last.actions[0].attempt == 2  # type: ignore[union-attr]
    run.fail("flaky", attempt=2)
    second = next(e for e in run.last.events if isinstance(e, TimerCreated))
    assert second.fire_at - run.clock == 5.0  # 2 * 3 = 6, capped at 5
    run.feed(TimerFired(timer_id=second.seq))
    run.fail("flaky", "third", attempt=3)
    assert "StepFailed" in run.types()
    assert run.state.status is RuntimeStatus.FAILED
    assert run.state.failure.message == "step 'flaky' failed: third"


def test_retry_timeout_stops_retrying() -> None:
    run = Run(RETRY.replace("max_interval: 5s}", "max_interval: 5s, retry_timeout: 3s}"))
    run.fail("flaky", attempt=1)  # retry at +2 s is within 3 s
    timer = next(e for e in run.last.events if isinstance(e, TimerCreated))
    run.feed(TimerFired(timer_id=timer.seq), at=timer.fire_at)
    run.fail("flaky", attempt=2)  # the next delay would end past the retry timeout
    assert run.state.status is RuntimeStatus.FAILED


def test_a_late_result_of_an_earlier_attempt_is_ignored() -> None:
    run = Run(RETRY)
    run.fail("flaky", attempt=1)
    timer = next(e for e in run.last.events if isinstance(e, TimerCreated))
    run.feed(TimerFired(timer_id=timer.seq))
    late = run.done("flaky", "stale", attempt=1)
    assert run.state.steps["flaky"].status.value == "running"
    assert late.events == []  # not even recorded


def test_a_second_result_of_a_finished_task_is_not_recorded() -> None:
    """An owner that lost its instance to another worker reports a task the new owner
    ran again: each attempt keeps one result in the history."""
    run = Run(CHAIN)
    run.done("a", 1)
    assert run.types(run.done("a", 2)) == []
    assert run.types(run.fail("a")) == []
    assert run.state.steps["a"].output == 1
    assert run.scheduled(run.done("b", 3)) == [("c", None)]


ON_ERROR = """
wfkit: 1
name: onerr
steps:
  best_effort: {call: "m:f", on_error: continue}
  must: {call: "m:f"}
  check: {call: "m:g", needs: [best_effort, must], with: {s: "${{ steps.best_effort.status }}"}}
finally:
  notify: {call: "m:n", with: {status: "${{ workflow.status }}"}}
"""


def test_on_error_continue_lets_dependents_run_and_see_the_status() -> None:
    run = Run(ON_ERROR)
    run.fail("best_effort")
    assert run.state.status is RuntimeStatus.RUNNING
    assert run.scheduled(run.done("must")) == [("check", None)]
    assert run.last.actions[0].input == {"s": "failed"}  # type: ignore[union-attr]
    assert run.scheduled(run.done("check")) == [("notify", None)]
    assert run.last.actions[0].input == {"status": "COMPLETED"}  # type: ignore[union-attr]
    run.done("notify")
    assert run.state.status is RuntimeStatus.COMPLETED


def test_a_failed_step_lets_running_steps_finish_then_runs_finally_and_fails() -> None:
    run = Run(ON_ERROR)
    run.fail("must", "disk full")
    assert run.scheduled() == []  # best_effort still runs; nothing new starts
    assert run.state.status is RuntimeStatus.RUNNING
    assert run.scheduled(run.done("best_effort")) == [("notify", None)]
    assert run.last.actions[0].input == {"status": "FAILED"}  # type: ignore[union-attr]
    run.done("notify")
    assert run.state.status is RuntimeStatus.FAILED
    assert run.state.failure == Failure("ValueError", "step 'must' failed: disk full")
    assert run.state.step_status("check").value == "canceled"


WAIT = """
wfkit: 1
name: approval
steps:
  prepare: {call: "m:f"}
  approve: {wait: {event: Model-Approved, timeout: 1h}, needs: [prepare]}
  second: {wait: {event: model-approved}, needs: [prepare]}
  publish: {call: "m:p", with: {ok: "${{ steps.approve.output.ok }}"}}
"""


def test_events_are_buffered_fifo_and_each_is_consumed_by_one_waiter() -> None:
    run = Run(WAIT)
    run.feed(EventRaised(name="model-approved", data={"ok": True}))
    run.feed(EventRaised(name="model-approved", data={"ok": False}))
    assert run.state.buffered_events()[0].data == {"ok": True}
    run.done("prepare")
    assert run.state.steps["approve"].output == {"ok": True}
    assert run.state.steps["second"].output == {"ok": False}
    assert run.state.buffered_events() == []
    assert run.scheduled() == [("publish", None)]


def test_a_wait_times_out_through_its_durable_timer() -> None:
    run = Run(WAIT)
    run.done("prepare")
    timer = next(e for e in run.last.events if isinstance(e, TimerCreated))
    assert (timer.purpose, timer.fire_at - run.clock) == ("timeout", 3600.0)
    run.feed(TimerFired(timer_id=timer.seq))
    assert run.state.status is RuntimeStatus.FAILED
    assert run.state.failure.type == "TimeoutError"


def test_an_event_arriving_after_the_wait_completes_stays_buffered() -> None:
    run = Run(WAIT)
    run.done("prepare")
    run.feed(
        EventRaised(name="MODEL-APPROVED", data={"ok": 1}),
        EventRaised(name="model-approved", data={"ok": 2}),
    )
    assert run.state.steps["approve"].output == {"ok": 1}
    assert run.state.steps["second"].output == {"ok": 2}
    run.feed(EventRaised(name="model-approved", data={"ok": 3}))
    assert [e.data for e in run.state.buffered_events()] == [{"ok": 3}]


def test_pause_lets_running_steps_finish_but_starts_nothing_and_consumes_nothing() -> None:
    run = Run(WAIT)
    run.feed(ExecutionSuspended(reason="pause"))
    assert run.state.status is RuntimeStatus.SUSPENDED
    run.done("prepare", "ready")
    assert run.state.steps["prepare"].output == "ready"  # recorded while paused
    assert run.scheduled() == [] and "TaskScheduled" not in run.types()
    run.feed(EventRaised(name="model-approved", data={"ok": True}))
    assert len(run.state.buffered_events()) == 1
    run.feed(ExecutionResumed())
    assert run.state.status is RuntimeStatus.RUNNING
    assert run.state.steps["approve"].output == {"ok": True}


def test_a_timer_that_fires_while_paused_acts_only_after_resume() -> None:
    run = Run(RETRY)
    run.fail("flaky")
    timer = next(e for e in run.last.events if isinstance(e, TimerCreated))
    run.feed(ExecutionSuspended())
    run.feed(TimerFired(timer_id=timer.seq))
    assert run.scheduled() == []
    run.feed(ExecutionResumed())
    assert run.scheduled() == [("flaky", None)]


def test_pausing_twice_and_resuming_a_running_instance_change_nothing() -> None:
    run = Run(CHAIN)
    run.feed(ExecutionSuspended())
    assert run.types(run.feed(ExecutionSuspended())) == []
    run.feed(ExecutionResumed())
    assert run.types(run.feed(ExecutionResumed())) == []


BREAKPOINT = """
wfkit: 1
name: bp
steps:
  a: {call: "m:f"}
  b: {call: "m:f", needs: [a], pause_before: true}
  c: {call: "m:f", needs: [b]}
"""


def test_a_breakpoint_suspends_before_its_step_and_resume_passes_it() -> None:
    run = Run(BREAKPOINT)
    run.done("a")
    assert run.types() == ["TaskCompleted", "ExecutionSuspended"]
    assert (run.state.suspend_reason, run.state.suspended_at_step) == ("breakpoint", "b")
    assert run.scheduled(run.feed(ExecutionResumed())) == [("b", None)]
    assert run.scheduled(run.done("b")) == [("c", None)]


def test_single_step_runs_the_next_ready_steps_then_pauses_again() -> None:
    run = Run(CHAIN)
    run.feed(ExecutionSuspended())
    run.done("a")
    decision = run.feed(ExecutionResumed(single_step=True))
    assert run.scheduled(decision) == [("b", None)]
    assert run.state.status is RuntimeStatus.SUSPENDED
    assert run.state.suspend_reason == "step"
    run.done("b")
    assert run.scheduled() == []


def test_terminate_cancels_work_and_later_results_are_ignored() -> None:
    run = Run(CHAIN)
    run.feed(ExecutionTerminated(reason="enough"))
    assert run.state.status is RuntimeStatus.TERMINATED
    assert CancelTasks() in run.last.actions
    assert run.state.steps["a"].status.value == "canceled"
    assert run.types(run.done("a", "late")) == []


def test_sleep_is_a_durable_timer() -> None:
    run = Run("""
wfkit: 1
name: nap
steps:
  nap: {sleep: 10m}
  after: {call: "m:f", needs: [nap]}
""")
    timer = next(e for e in run.last.events if isinstance(e, TimerCreated))
    assert (timer.purpose, timer.fire_at - run.clock) == ("sleep", 600.0)
    assert run.state.steps["nap"].status.value == "waiting"
    assert run.scheduled(run.feed(TimerFired(timer_id=timer.seq))) == [("after", None)]


CHILD = """
wfkit: 1
name: parent
steps:
  kid: {workflow: child, with: {n: 3}}
  use: {call: "m:f", with: {r: "${{ steps.kid.output }}"}}
"""


def test_a_child_workflow_is_started_and_its_output_is_the_steps_output() -> None:
    run = Run(CHILD)
    created = next(e for e in run.last.events if isinstance(e, SubOrchestrationInstanceCreated))
    assert (created.child_id, created.name, created.input) == ("i1:1", "child", {"n": 3})
    assert StartChild("i1:1", "child", {"n": 3}, "kid") in run.last.actions
    run.feed(SubOrchestrationInstanceCompleted(child_id="i1:1", output={"sum": 6}))
    assert run.last.actions[0].input == {"r": {"sum": 6}}  # type: ignore[union-attr]


def test_a_finished_child_notifies_its_parent() -> None:
    run = Run(CHAIN)
    run.history[0] = ExecutionStarted(
        at=1, seq=1, name="chain", input={}, parent_id="p", parent_step="s"
    )
    run.done("a", 1)
    run.done("b", 2)
    run.done("c", 3)
    (notify,) = [a for a in run.last.actions if isinstance(a, NotifyParent)]
    assert (notify.parent_id, notify.child_id, notify.status) == ("p", "i1", "COMPLETED")


def test_nothing_is_accepted_after_completion() -> None:
    run = Run(CHAIN)
    for step, out in (("a", 1), ("b", 2), ("c", 3)):
        run.done(step, out)
    assert run.types(run.feed(EventRaised(name="x"))) == []
    assert isinstance(run.history[-1], ExecutionCompleted)


def test_an_output_expression_error_fails_the_instance() -> None:
    run = Run(
        CHAIN.replace('first: "${{ steps.a.output }}"', 'first: "${{ steps.a.output.missing }}"')
    )
    for step in ("a", "b", "c"):
        run.done(step, {"x": 1})
    assert run.state.status is RuntimeStatus.FAILED
    assert "missing" in run.state.failure.message


def test_replaying_any_prefix_gives_the_same_state_as_deciding_along() -> None:
    run = Run(ON_ERROR)
    run.fail("best_effort")
    run.done("must")
    run.done("check")
    run.done("notify")
    from wfkit.engine.core.state import replay

    assert replay("i1", run.history).steps == run.state.steps
    assert replay("i1", run.history).status is RuntimeStatus.COMPLETED


def _events_of(types: Sequence[str], decision: Decision) -> bool:
    return [type(e).__name__ for e in decision.events] == list(types)


@pytest.mark.parametrize("event", [StepSkipped(step="a"), StepFailed(step="a")])
def test_every_event_type_has_a_fold_handler(event: HistoryEvent) -> None:
    from wfkit.engine.core.history import EVENT_TYPES
    from wfkit.engine.core.state import _HANDLERS

    assert set(_HANDLERS) == set(EVENT_TYPES.values())
    assert type(event) in _HANDLERS


def test_a_task_in_flight_at_a_takeover_is_recorded_abandoned_then_runs_again() -> None:
    """The new owner records the lost attempt (who, when) and runs the task again as
    attempt 2, with the input it was scheduled with; the step's times start over."""
    run = Run(CHAIN, {"n": 7})
    scheduled = next(e for e in run.history if isinstance(e, TaskScheduled))
    assert scheduled.input == {"n": 7}
    from wfkit.engine.core.actions import abandoned_tasks, recovery_actions

    state = replay("i1", run.history)
    assert recovery_actions(run.plan, state) == []  # the task is not run again as attempt 1
    lost = abandoned_tasks(run.plan, state, "host:1:dead", 95.0)
    assert lost == [TaskAbandoned(step="a", attempt=1, owner="host:1:dead", lost_at=95.0)]
    decision = run.feed(*lost, at=150.0)
    assert run.types() == ["TaskAbandoned", "TaskScheduled"]
    assert decision.actions == [RunTask("a", None, 2, "call", "m:a", {"n": 7}, {}, None)]
    step = run.state.steps["a"]
    assert (step.started_at, step.tasks[0].attempt, step.tasks[0].abandoned) == (150.0, 2, 1)
    assert replay("i1", run.history).steps == run.state.steps
    run.done("a", 1, attempt=2)
    assert run.state.steps["a"].status is StepStatus.COMPLETED


def test_an_abandoned_attempt_does_not_use_up_the_retry_budget() -> None:
    """max_attempts counts attempts that ran to an answer: without retry (one attempt)
    the step still runs after a crash, and with 3 it still gets 3 answers."""
    run = Run(CHAIN)
    run.feed(TaskAbandoned(step="a", attempt=1, owner="x"))
    run.fail("a", attempt=2)
    assert "StepFailed" in run.types()  # no retry policy: its one real attempt failed
    run = Run(RETRY)
    run.feed(TaskAbandoned(step="flaky", attempt=1, owner="x"))
    for attempt in (2, 3):
        run.fail("flaky", attempt=attempt)
        timer = next(e for e in run.last.events if isinstance(e, TimerCreated))
        assert timer.attempt == attempt + 1
        run.feed(TimerFired(timer_id=timer.seq))
    run.fail("flaky", "third", attempt=4)
    assert "StepFailed" in run.types()


def test_an_abandonment_of_an_attempt_that_answered_is_not_recorded() -> None:
    run = Run(CHAIN)
    run.done("a", 1)
    assert run.feed(TaskAbandoned(step="a", attempt=1, owner="x")).events == []
    assert run.feed(TaskAbandoned(step="b", attempt=2, owner="x")).events == []


def _counters(progress: Any) -> tuple[Any, ...]:
    return (
        dict(progress.shares), +progress.counts, dict(progress.unsettled),
        dict(progress.running), progress.active, dict(progress.remaining),
        set(progress.ready), set(progress.open), set(progress.failed_attempts),
        set(progress.failing),
    )  # fmt: skip


@pytest.mark.parametrize("text", [CHAIN, ON_ERROR], ids=["chain", "on_error"])
def test_the_incremental_counters_match_counters_built_afresh(text: str) -> None:
    """The engine folds each decision into one state with counters kept up to date
    event by event; at every step they equal counters built from the state."""
    from wfkit.engine.core.decide import advance
    from wfkit.engine.core.progress import Progress
    from wfkit.engine.core.state import InstanceState

    plan = WorkflowPlan.of(parse_definition(text))
    state = InstanceState("i1")
    clock = 100.0
    decision = advance(plan, state, [ExecutionStarted(at=clock, name="t", input={"n": 1})])
    for _ in range(20):
        assert _counters(Progress.of(plan, state)) == _counters(Progress(plan, state))
        tasks = [a for a in decision.actions if isinstance(a, RunTask)]
        if not tasks:
            break
        clock += 1
        results: list[HistoryEvent] = [
            TaskFailed(at=clock, step=t.step, attempt=t.attempt, failure=Failure("E", "x"))
            if t.step == "best_effort"
            else TaskCompleted(at=clock, step=t.step, attempt=t.attempt, output=1)
            for t in tasks
        ]
        decision = advance(plan, state, results, owned=True)
    assert state.status is RuntimeStatus.COMPLETED
    assert _counters(Progress.of(plan, state)) == _counters(Progress(plan, state))
