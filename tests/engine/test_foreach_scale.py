"""A wide ``foreach`` costs the same per item however wide it is.

Work is counted, not timed: the lines of wfkit's code that run (``sys.settrace``) while
an engine's deciding goes through a fan-out one result at a time (the worst case: one
commit per result), with what each commit also does beside deciding (the summary the
store keeps, the snapshot the runtime's hooks are handed). Four times the items must cost about
four times the lines; a scan of every item at every result costs sixteen.
"""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import pytest

import wfkit
from wfkit import parse_definition
from wfkit.definition import cel_cost
from wfkit.engine.core.actions import RunTask, StartTimer
from wfkit.engine.core.decide import advance
from wfkit.engine.core.history import (
    ExecutionStarted,
    Failure,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    TimerFired,
)
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState
from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.wire.summary import update_for
from wfkit.runtime.api import Runtime
from wfkit.runtime.snapshot import SnapshotBuilder

FANOUT = """
wfkit: 1
name: fanout
inputs:
  items: {type: array}
steps:
  each:
    call: m:f
    foreach: ${{ inputs.items }}
    with: {x: "${{ item }}"}
    %s
  after:
    call: m:g
    with: {n: "${{ size(steps.each.output) }}"}
"""

_PACKAGE = str(Path(wfkit.__file__).parent)


def _result(task: RunTask, failing: bool, at: float) -> HistoryEvent:
    if failing and task.step == "each" and task.attempt == 1:
        return TaskFailed(
            at=at, step=task.step, index=task.index, attempt=1, failure=Failure("E", "once")
        )
    return TaskCompleted(
        at=at, step=task.step, index=task.index, attempt=task.attempt, output=task.input
    )


def _run(
    plan: WorkflowPlan, width: int, failing: bool, input: dict[str, Any] | None = None
) -> InstanceState:
    """Drive one instance to its end, one result (or fired timer) per decision."""
    state = InstanceState("i1")
    clock = 100.0
    data = {"items": list(range(width))} if input is None else input
    started = ExecutionStarted(at=clock, name=plan.definition.name, input=data)
    todo: deque[Any] = deque(advance(plan, state, [started], now=clock).actions)
    snapshots = SnapshotBuilder()  # what the runtime hands its hooks (a live widget, a worker)
    while todo:
        action = todo.popleft()
        clock += 1
        if isinstance(action, RunTask):
            event = _result(action, failing, clock)
        elif isinstance(action, StartTimer):
            event = TimerFired(at=clock, timer_id=action.timer_id)
        else:
            continue
        decision = advance(plan, state, [event], now=clock, owned=True)
        update_for(plan, state)  # what the engine stores with each commit
        snapshots.build(plan, state, decision.events, now=clock)
        todo.extend(decision.actions)
    return state


def _lines(plan: WorkflowPlan, width: int, failing: bool) -> int:
    """How many lines of wfkit's code run while :func:`_run` goes through ``width``."""
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename.startswith(_PACKAGE) else None

    sys.settrace(tracer)
    try:
        state = _run(plan, width, failing)
    finally:
        sys.settrace(None)
    assert state.status is RuntimeStatus.COMPLETED
    assert state.steps["each"].output == [{"x": n} for n in range(width)]
    assert state.steps["after"].output == {"n": width}
    return count


@pytest.mark.parametrize(
    ("options", "failing"),
    [
        ("", False),  # every item scheduled at once, results one by one
        ("max_parallel: 3", False),  # each result lets one more item start
        ("retry: {max_attempts: 2, initial_interval: 1s}", True),  # each item fails once
    ],
    ids=["all-at-once", "max-parallel", "retries"],
)
def test_the_work_per_item_does_not_grow_with_the_width(options: str, failing: bool) -> None:
    plan = WorkflowPlan.of(parse_definition(FANOUT % options))
    narrow, wide = _lines(plan, 150, failing), _lines(plan, 600, failing)
    # linear: about 4x (a few fixed lines make it a bit less); quadratic: about 16x
    assert wide <= 4.5 * narrow, f"{narrow} lines for 150 items, {wide} for 600"


def test_a_foreach_wider_than_the_limit_fails_its_step_with_a_clear_error() -> None:
    """The width limit fails that one step (not retried: the list would be as long
    again), and the instance with it; nothing of the list is scheduled."""
    plan = WorkflowPlan.of(parse_definition(FANOUT % "retry: {max_attempts: 3}"))
    state = InstanceState("i1")
    started = ExecutionStarted(at=1.0, name="fanout", input={"items": list(range(4))})
    decision = advance(plan, state, [started], now=1.0, max_foreach_items=3)
    assert not [a for a in decision.actions if isinstance(a, RunTask)]
    assert state.status is RuntimeStatus.FAILED
    failure = state.steps["each"].failure
    assert failure is not None and failure.type == "ForeachTooWide"
    assert "4 items, over the limit of 3" in failure.message
    assert "max_foreach_items" in failure.message
    state = InstanceState("i2")
    advance(plan, state, [started], now=1.0, max_foreach_items=4)  # at the limit: runs
    assert state.status is RuntimeStatus.RUNNING and len(state.steps["each"].tasks) == 4


def test_the_foreach_limit_is_a_setting(env: Any) -> None:
    from wfkit.runtime.settings import Settings, SettingsError

    assert Settings().max_foreach_items == 1_000_000
    assert Settings.from_properties({"max_foreach_items": "5"}).max_foreach_items == 5
    with pytest.raises(SettingsError, match="max_foreach_items must be at least 1"):
        Settings.from_properties({"max_foreach_items": "0"})
    env.define("wide", "inputs: {items: {type: array}}\nsteps:\n"
               "  each: {call: STEPS:echo, foreach: '${{ inputs.items }}'}\n")  # fmt: skip
    settings = Settings(str(env.definitions), env.store, 2, max_foreach_items=2)
    with Runtime(settings) as runtime:
        done = runtime.start("wide", {"items": [1, 2, 3]}).wait(20)
        assert done.status is RuntimeStatus.FAILED
        assert done.failure is not None and done.failure.type == "ForeachTooWide"


BIG_INPUT = """
wfkit: 1
name: bigin
inputs:
  big: {type: array}
steps:
  each:
    call: m:f
    foreach: ${{ inputs.big }}
    with: {x: "${{ item + 1 }}", n: "${{ size(inputs.big) }}"}
    %s
"""


class _Sizes:
    """Wraps a compiled CEL program: adds up the JSON size of every context handed to it
    (CEL converts the whole context at each evaluation)."""

    def __init__(self, program: Any, total: list[int]) -> None:
        self.program, self.total = program, total

    def execute(self, context: dict[str, Any]) -> Any:
        self.total[0] += len(orjson.dumps(context))
        return self.program.execute(context)


def _data_walked(plan: WorkflowPlan, width: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Characters of data that evaluating the ``with`` of ``width`` items hands to CEL
    and to the cost check, all items run to the end."""
    total = [0]
    real_chars = cel_cost._chars

    def chars(value: Any) -> int:
        size = real_chars(value)
        total[0] += size
        return size

    expressions = list(plan.spec("each").with_.expressions())  # type: ignore[union-attr]
    programs = [e.program for e in expressions]
    with monkeypatch.context() as patch:
        patch.setattr(cel_cost, "_chars", chars)
        try:  # expressions are frozen (and shared: compiled once per process)
            for expression, program in zip(expressions, programs, strict=True):
                object.__setattr__(expression, "program", _Sizes(program, total))
            state = _run(plan, width, failing=False, input={"big": list(range(width))})
        finally:
            for expression, program in zip(expressions, programs, strict=True):
                object.__setattr__(expression, "program", program)
    assert state.status is RuntimeStatus.COMPLETED
    assert state.steps["each"].output == [{"x": i + 1, "n": width} for i in range(width)]
    return total[0]


@pytest.mark.parametrize("options", ["", "max_parallel: 3"], ids=["all-at-once", "max-parallel"])
def test_an_expression_beside_a_big_list_costs_the_same_per_item(
    options: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``item + 1`` is not handed the big list it does not read, and ``size(inputs.big)``,
    the same for every item, is evaluated once per foreach (it used to be both, at each
    item: quadratic)."""
    plan = WorkflowPlan.of(parse_definition(BIG_INPUT % options))
    narrow = _data_walked(plan, 150, monkeypatch)
    wide = _data_walked(plan, 600, monkeypatch)
    # linear: about 4x (the list itself is 4x longer); quadratic: about 16x
    assert wide <= 5 * narrow, f"{narrow} characters for 150 items, {wide} for 600"


def test_the_runner_is_handed_only_what_it_can_start_soon(env: Any) -> None:
    """A foreach of 500 items on 2 workers: the runner never holds more than a few tasks
    per worker (it held all 500 at once); the rest wait in the engine, in order, and
    every item runs once."""
    env.define("wide", "inputs: {items: {type: array}}\nsteps:\n"
               "  each: {call: STEPS:add, foreach: '${{ inputs.items }}',"
               " with: {a: '${{ item }}', b: 1}}\n")  # fmt: skip
    runtime = env.runtime(workers=2)
    runner = runtime.runner
    held: list[int] = []
    submit = runner.submit

    def counting_submit(task: Any, done: Any) -> None:
        submit(task, done)
        held.append(runner.unfinished())

    runner.submit = counting_submit  # type: ignore[method-assign]
    done = runtime.start("wide", {"items": list(range(500))}).wait(60)
    assert done.status is RuntimeStatus.COMPLETED
    assert done.steps["each"].output == [i + 1 for i in range(500)]
    assert len(held) == 500
    assert max(held) <= 2 * 3, f"the runner held up to {max(held)} tasks"


def test_terminating_a_wide_foreach_drops_its_waiting_tasks(env: Any) -> None:
    """The tasks a terminated foreach had waiting in the engine never run, and other
    instances' tasks get the runner's places."""
    env.define("slowfan", "inputs: {items: {type: array}}\nsteps:\n"
               "  each: {call: STEPS:slow, foreach: '${{ inputs.items }}',"
               " with: {name: s, seconds: 0.01}}\n")  # fmt: skip
    env.define("wide", "inputs: {items: {type: array}}\nsteps:\n"
               "  each: {call: STEPS:add, foreach: '${{ inputs.items }}',"
               " with: {a: '${{ item }}', b: 1}}\n")  # fmt: skip
    runtime = env.runtime(workers=2)
    first = runtime.start("slowfan", {"items": list(range(300))})
    env.eventually(lambda: len(env.notes("s")) > 4)
    first.terminate()
    assert first.wait(20).status is RuntimeStatus.TERMINATED
    started = sum(1 for note in env.notes("s") if note["phase"] == "start")
    other = runtime.start("wide", {"items": list(range(20))}).wait(30)
    assert other.status is RuntimeStatus.COMPLETED
    assert other.steps["each"].output == [i + 1 for i in range(20)]
    later = sum(1 for note in env.notes("s") if note["phase"] == "start")
    assert started < 300 and later <= started + 2  # at most what had just been taken
