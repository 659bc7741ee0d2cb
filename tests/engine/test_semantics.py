"""Every semantic of DESIGN section 3, through the real engine: SQLite file, threads,
subprocesses. ``env`` (tests/engine/conftest.py) gives a definitions folder and store."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from wfkit.engine.core.history import (
    ExecutionSuspended,
    TaskScheduled,
    TimerCreated,
)
from wfkit.engine.core.status import Outcome, RuntimeStatus
from wfkit.errors import (
    IllegalTransition,
    InstanceAlreadyExists,
    InstanceFailed,
    InstanceNotFound,
    InvalidEventData,
    InvalidInput,
    InvalidInstanceId,
)

CHAIN = """
inputs:
  n: {type: integer, default: 2}
  label: {type: string, enum: [a, b], default: a}
steps:
  first: {call: "STEPS:echo", with: {n: "${{ inputs.n }}", label: "${{ inputs.label }}"}}
  second: {call: "STEPS:add", with: {a: "${{ steps.first.output.n }}", b: 40}}
output: {sum: "${{ steps.second.output }}"}
"""


def types(history: list[Any]) -> list[str]:
    return [type(e).__name__ for e in history]


# -- start -------------------------------------------------------------------------------


def test_run_completes_with_output_and_properties(env: Any) -> None:
    env.define("chain", CHAIN)
    rt = env.runtime()
    run = rt.run("chain", n=2, timeout=10)
    assert run.status is RuntimeStatus.COMPLETED
    assert run.output == {"sum": 42}
    assert run.steps["first"].output == {"n": 2, "label": "a"}
    props = run.properties
    assert json.loads(props["dapr.workflow.input"]) == {"n": 2, "label": "a"}
    assert json.loads(props["dapr.workflow.output"]) == {"sum": 42}
    assert props["wfkit.steps.completed"] == "2"
    assert props["wfkit.definition_hash"] == rt.definition("chain").content_hash
    assert "dapr.workflow.failure.error_type" not in props


def test_instance_ids_follow_the_rules(env: Any) -> None:
    env.define("chain", CHAIN)
    rt = env.runtime(engine=False)
    generated = rt.start("chain").id
    assert len(generated) == 36 and generated.count("-") == 4  # a uuid4
    assert rt.start("chain", instance_id="Ok_id-1").id == "Ok_id-1"
    with pytest.raises(InvalidInstanceId, match="contains ' /'"):
        rt.start("chain", instance_id="bad id/")
    with pytest.raises(InvalidInstanceId, match="65 characters"):
        rt.start("chain", instance_id="x" * 65)


def test_start_reuses_an_id_only_when_the_old_instance_is_terminal(env: Any) -> None:
    env.define("chain", CHAIN)
    rt = env.runtime()
    rt.run("chain", instance_id="same", timeout=10)
    again = rt.run("chain", instance_id="same", n=5, timeout=10)
    assert again.output == {"sum": 45}
    assert types(again.history()).count("ExecutionStarted") == 1  # the old history is gone
    client = env.runtime(engine=False)
    client.start("chain", instance_id="active")
    with pytest.raises(InstanceAlreadyExists) as info:
        client.start("chain", instance_id="active")
    assert str(info.value) == "an active workflow with ID 'active' already exists"


def test_invalid_input_is_refused_and_nothing_is_stored(env: Any) -> None:
    env.define("chain", CHAIN)
    rt = env.runtime(engine=False)
    with pytest.raises(InvalidInput) as info:
        rt.start("chain", instance_id="nope", n="two", label="c", extra=1)
    message = str(info.value)
    assert "unknown input 'extra'" in message
    assert "input 'n'" in message and "input 'label'" in message
    with pytest.raises(InstanceNotFound):
        rt.instance("nope")


def test_input_that_is_not_json_is_refused_not_stored_as_null(env: Any) -> None:
    env.define("any", "inputs:\n  blob: {}\n  n: {type: number}\nsteps:\n  a: {call: STEPS:echo}\n")
    rt = env.runtime(engine=False)
    with pytest.raises(InvalidInput) as info:
        rt.start("any", instance_id="nan", blob={"x": [1.0, float("nan")]}, n=float("inf"))
    message = str(info.value)
    assert "input 'blob' is not JSON" in message and "input 'n' is not JSON" in message
    with pytest.raises(InstanceNotFound):
        rt.instance("nan")


def test_a_new_instance_is_pending_until_its_first_step_is_scheduled(env: Any) -> None:
    env.define("chain", CHAIN)
    client = env.runtime(engine=False)
    pending = client.start("chain")
    assert pending.status is RuntimeStatus.PENDING
    assert types(pending.history()) == ["ExecutionStarted"]
    worker = env.runtime()  # an engine claims and runs it
    env.eventually(lambda: pending.status is RuntimeStatus.COMPLETED)
    assert worker.instance(pending.id).output == {"sum": 42}


# -- pause points ----------------------------------------------------------------------------

GATED = """
steps:
  first: {call: "STEPS:gate", with: {name: first}}
  second: {call: "STEPS:slow", with: {name: second, seconds: 0.01}, needs: [first]}
"""


def test_pause_lets_the_running_step_finish_and_starts_nothing_until_resume(env: Any) -> None:
    env.define("gated", GATED)
    rt = env.runtime()
    job = rt.start("gated")
    env.eventually(lambda: env.notes("first"))
    assert job.pause() is Outcome.APPLY
    assert job.status is RuntimeStatus.SUSPENDED  # at once
    env.open_gate("first")
    env.eventually(lambda: job.steps["first"].status == "completed")
    time.sleep(0.3)
    assert job.status is RuntimeStatus.SUSPENDED, [(e.seq, type(e).__name__) for e in job.history()]
    assert env.notes("second") == []
    assert "second" not in [e.step for e in job.history() if isinstance(e, TaskScheduled)]
    assert job.pause() is Outcome.NO_OP  # twice: nothing
    job.resume()
    job.wait(10)
    assert job.status is RuntimeStatus.COMPLETED


def test_pause_and_resume_of_finished_instances_are_errors(env: Any) -> None:
    env.define("chain", CHAIN)
    run = env.runtime().run("chain", timeout=10)
    with pytest.raises(IllegalTransition, match="cannot pause workflow"):
        run.pause()
    with pytest.raises(IllegalTransition):
        run.resume()
    assert run.terminate() is Outcome.NO_OP


def test_pause_before_is_a_breakpoint_and_step_runs_one_step(env: Any) -> None:
    env.define(
        "bp",
        """
steps:
  a: {call: "STEPS:echo", with: {x: 1}}
  b: {call: "STEPS:echo", with: {x: 2}, needs: [a], pause_before: true}
  c: {call: "STEPS:echo", with: {x: 3}, needs: [b]}
  d: {call: "STEPS:echo", with: {x: 4}, needs: [c]}
""",
    )
    rt = env.runtime()
    job = rt.run("bp", timeout=10)  # run() returns when the instance suspends
    assert job.status is RuntimeStatus.SUSPENDED
    assert job.properties["wfkit.paused_at"] == "b"
    assert job.row().custom_status == "paused at the breakpoint before b"
    assert job.step() is Outcome.APPLY
    env.eventually(
        lambda: job.steps["b"].status == "completed" and job.status is RuntimeStatus.SUSPENDED
    )
    assert job.steps["c"].status == "pending"
    job.step()
    env.eventually(lambda: job.steps["c"].status == "completed")
    job.resume()
    assert job.wait(10).status is RuntimeStatus.COMPLETED


# -- events ----------------------------------------------------------------------------------

WAIT = """
steps:
  ready: {call: "STEPS:echo"}
  approve: {wait: {event: Model-Approved}, needs: [ready]}
  again: {wait: {event: model-approved}, needs: [approve]}
  done: {call: "STEPS:echo", with: {a: "${{ steps.approve.output }}", b: "${{ steps.again.output }}"}}
"""


def test_events_are_case_insensitive_buffered_fifo_and_consumed_once(env: Any) -> None:
    env.define("waits", WAIT)
    client = env.runtime(engine=False)
    job = client.start("waits")
    job.raise_event("MODEL-APPROVED", {"n": 1})  # before anything runs: buffered
    job.raise_event("model-approved", {"n": 2})
    job.raise_event("model-approved", {"n": 3})
    assert job.properties["wfkit.events_buffered"] == "3"
    env.runtime()
    job.wait(10)
    assert job.output is None and job.status is RuntimeStatus.COMPLETED
    assert job.steps["done"].output == {"a": {"n": 1}, "b": {"n": 2}}
    assert job.properties["wfkit.events_buffered"] == "1"


def test_event_data_that_is_not_json_is_refused_and_nothing_is_sent(env: Any) -> None:
    env.define("waits", WAIT)
    client = env.runtime(engine=False)
    job = client.start("waits")
    before = len(job.history())
    for data in ({"score": float("nan")}, [float("inf")], {"tags": {"a", "b"}}):
        with pytest.raises(InvalidEventData) as info:
            job.raise_event("model-approved", data)
        assert info.value.event == "model-approved" and "not JSON" in str(info.value)
    assert len(job.history()) == before
    assert job.properties["wfkit.events_buffered"] == "0"


def test_raising_to_an_unknown_instance_is_an_error(env: Any) -> None:
    env.define("chain", CHAIN)
    rt = env.runtime(engine=False)
    with pytest.raises(InstanceNotFound, match="no workflow instance with ID 'ghost'"):
        rt.workflows.raise_event("ghost", "x")


def test_a_wait_times_out_on_its_durable_timer_and_retry_applies(env: Any) -> None:
    env.define(
        "timeout",
        """
steps:
  approve:
    wait: {event: never, timeout: 300ms}
    retry: {max_attempts: 2, initial_interval: 100ms}
""",
    )
    job = env.runtime().run("timeout", timeout=10)
    assert job.status is RuntimeStatus.FAILED
    assert job.failure is not None and job.failure.type == "TimeoutError"
    timers = [e.purpose for e in job.history() if isinstance(e, TimerCreated)]
    assert timers == ["timeout", "retry", "timeout"]
    assert job.steps["approve"].attempts == 2


# -- terminate and purge -----------------------------------------------------------------------


def test_terminate_kills_shell_steps_and_children_and_is_recursive(env: Any) -> None:
    pidfile = env.root / "child.pid"
    env.define(
        "sleeper",
        f"""
steps:
  nap:
    shell: [python, -c, "import os,time; open(r'{pidfile}','w').write(str(os.getpid())); time.sleep(60)"]
""",
    )
    env.define(
        "parent",
        """
steps:
  kid: {workflow: sleeper}
""",
    )
    rt = env.runtime()
    job = rt.start("parent")
    env.eventually(lambda: pidfile.exists() and pidfile.read_text())
    pid = int(pidfile.read_text())
    assert job.terminate("enough") is Outcome.APPLY
    assert job.status is RuntimeStatus.TERMINATED
    child = rt.instance(f"{job.id}:1")
    env.eventually(lambda: child.status is RuntimeStatus.TERMINATED)
    env.eventually(lambda: not _alive(pid))
    assert job.failure is not None and job.failure.message == "enough"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie awaiting its parent's wait() is as good as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_terminate_abandons_a_running_call_and_never_applies_its_result(env: Any) -> None:
    env.define("gated", GATED)
    rt = env.runtime()
    job = rt.start("gated")
    env.eventually(lambda: env.notes("first"))
    job.terminate()
    env.open_gate("first")
    env.eventually(lambda: len(env.notes("first")) == 2)
    time.sleep(0.2)
    assert "TaskCompleted" not in types(job.history())
    assert job.steps["first"].status == "canceled"


def test_purge_only_terminal_instances_and_removes_everything(env: Any) -> None:
    env.define("gated", GATED)
    env.define("parent", "steps:\n  kid: {workflow: gated}\n")
    rt = env.runtime()
    job = rt.start("parent")
    env.eventually(lambda: env.notes("first"))
    with pytest.raises(IllegalTransition) as info:
        job.purge()
    assert info.value.message == f"workflow '{job.id}' has not yet completed"
    job.terminate()
    assert job.purge() == 2  # the child went too
    with pytest.raises(InstanceNotFound):
        rt.instance(job.id)
    with pytest.raises(InstanceNotFound):
        rt.instance(f"{job.id}:1")
    with pytest.raises(InstanceNotFound):
        rt.workflows.purge("never-was")


# -- failures, retries, timeouts --------------------------------------------------------------


def test_a_failing_call_records_type_message_and_traceback(env: Any) -> None:
    env.define("fails", 'steps:\n  bad: {call: "STEPS:boom", with: {message: "disk on fire"}}\n')
    job = env.runtime().run("fails", timeout=10)
    assert job.status is RuntimeStatus.FAILED
    props = job.properties
    assert props["dapr.workflow.failure.error_type"] == "RuntimeError"
    assert props["dapr.workflow.failure.error_message"] == "step 'bad' failed: disk on fire"
    assert "raise RuntimeError(message)" in props["dapr.workflow.failure.stack_trace"]
    assert "dapr.workflow.output" not in props
    with pytest.raises(InstanceFailed, match="disk on fire"):
        job.raise_if_failed()


def test_retries_follow_the_policy_and_show_in_history(env: Any) -> None:
    env.define(
        "retry",
        """
steps:
  flaky:
    call: STEPS:flaky
    with: {name: f, failures: 2}
    retry: {max_attempts: 3, initial_interval: 50ms, backoff_coefficient: 2}
""",
    )
    job = env.runtime().run("retry", timeout=10)
    assert job.status is RuntimeStatus.COMPLETED
    assert job.steps["flaky"].output == 3 and job.steps["flaky"].attempts == 3
    retries = [e for e in job.history() if isinstance(e, TimerCreated)]
    delays = [round(t.fire_at - t.at, 3) for t in retries]
    assert delays == [0.05, 0.1]


def test_a_shell_step_over_its_timeout_is_killed(env: Any) -> None:
    env.define(
        "slowshell",
        """
steps:
  nap: {shell: [python, -c, "import time; time.sleep(30)"], timeout: 300ms}
""",
    )
    started = time.monotonic()
    job = env.runtime().run("slowshell", timeout=20)
    assert time.monotonic() - started < 10
    assert job.failure is not None and job.failure.type == "TimeoutError"


def test_a_call_step_over_its_timeout_fails_and_its_late_result_is_discarded(env: Any) -> None:
    env.define(
        "slowcall",
        """
steps:
  lazy: {call: "STEPS:slow", with: {name: lazy, seconds: 1.0}, timeout: 200ms, on_error: continue}
  after: {call: "STEPS:echo", with: {s: "${{ steps.lazy.status }}"}}
""",
    )
    job = env.runtime().run("slowcall", timeout=10)
    assert job.status is RuntimeStatus.COMPLETED
    assert job.steps["lazy"].status == "failed"
    assert job.steps["lazy"].error.type == "TimeoutError"  # type: ignore[union-attr]
    assert job.steps["after"].output == {"s": "failed"}
    env.eventually(lambda: len(env.notes("lazy")) == 2)  # the thread ran on ...
    time.sleep(0.1)
    assert job.steps["lazy"].output is None  # ... and its result was never applied


def test_a_non_json_output_and_an_outputs_schema_violation_fail_the_step(env: Any) -> None:
    env.define(
        "outputs",
        """
steps:
  weird: {call: "STEPS:not_json", on_error: continue}
  shaped:
    call: STEPS:echo
    with: {score: 2}
    outputs: {type: object, properties: {score: {maximum: 1}}}
""",
    )
    job = env.runtime().run("outputs", timeout=10)
    assert job.steps["weird"].error.type == "OutputNotJSON"  # type: ignore[union-attr]
    assert job.steps["shaped"].error.type == "OutputInvalid"  # type: ignore[union-attr]
    assert job.status is RuntimeStatus.FAILED


# -- shapes of graphs ------------------------------------------------------------------------------


def test_when_foreach_max_parallel_on_error_and_finally(env: Any) -> None:
    env.define(
        "shapes",
        """
inputs: {go: {type: boolean, default: false}}
steps:
  maybe: {call: "STEPS:echo", when: "${{ inputs.go }}"}
  each:
    call: STEPS:slow
    foreach: ${{ [1, 2, 3, 4, 5] }}
    max_parallel: 2
    with: {name: each, seconds: 0.05, value: "${{ item * 10 }}"}
  shaky: {call: "STEPS:boom", on_error: continue}
  after:
    call: STEPS:echo
    with: {m: "${{ steps.maybe.status }}", e: "${{ steps.each.output }}", s: "${{ steps.shaky.status }}"}
finally:
  tidy: {call: "STEPS:echo", with: {status: "${{ workflow.status }}"}}
""",
    )
    job = env.runtime().run("shapes", timeout=20)
    assert job.status is RuntimeStatus.COMPLETED
    assert job.steps["after"].output == {"m": "skipped", "e": [10, 20, 30, 40, 50], "s": "failed"}
    assert job.steps["tidy"].output == {"status": "COMPLETED"}
    assert _max_overlap(env.notes("each")) == 2


def _max_overlap(notes: list[dict[str, Any]]) -> int:
    level = peak = 0
    for note in sorted(notes, key=lambda n: (n["t"], n["phase"] == "start")):
        level += 1 if note["phase"] == "start" else -1
        peak = max(peak, level)
    return peak


def test_concurrency_bounds_parallel_steps_of_an_instance(env: Any) -> None:
    env.define(
        "wide",
        "concurrency: 2\nsteps:\n"
        + "".join(
            f'  s{i}: {{call: "STEPS:slow", with: {{name: wide, seconds: 0.1}}}}\n'
            for i in range(6)
        ),
    )
    env.runtime(workers=6).run("wide", timeout=20)
    assert _max_overlap(env.notes("wide")) == 2


def test_workers_bound_parallel_steps_of_the_process(env: Any) -> None:
    env.define(
        "wide",
        "steps:\n"
        + "".join(
            f'  s{i}: {{call: "STEPS:slow", with: {{name: wide, seconds: 0.1}}}}\n'
            for i in range(6)
        ),
    )
    env.runtime(workers=3).run("wide", timeout=20)
    assert _max_overlap(env.notes("wide")) == 3


def test_a_failed_step_fails_the_instance_and_finally_still_runs(env: Any) -> None:
    env.define(
        "failing",
        """
steps:
  bad: {call: "STEPS:boom"}
  never: {call: "STEPS:echo", needs: [bad]}
finally:
  tidy: {call: "STEPS:echo", with: {status: "${{ workflow.status }}"}}
""",
    )
    job = env.runtime().run("failing", timeout=10)
    assert job.status is RuntimeStatus.FAILED
    assert job.steps["never"].status == "canceled"
    assert job.steps["tidy"].output == {"status": "FAILED"}
    assert job.properties["wfkit.failed_step"] == "bad"


def test_child_workflows_have_derived_ids_and_pass_output_and_failure(env: Any) -> None:
    env.define(
        "child",
        """
inputs: {n: {type: integer}}
steps:
  double: {call: "STEPS:add", with: {a: "${{ inputs.n }}", b: "${{ inputs.n }}"}}
output: ${{ steps.double.output }}
""",
    )
    env.define(
        "parent",
        """
steps:
  one: {workflow: child, with: {n: 3}}
  two: {workflow: child, with: {n: "${{ steps.one.output }}"}}
  bad: {workflow: child, with: {n: "text"}, on_error: continue}
output: {two: "${{ steps.two.output }}", bad: "${{ steps.bad.status }}"}
""",
    )
    rt = env.runtime()
    job = rt.run("parent", timeout=20)
    assert job.output == {"two": 12, "bad": "failed"}
    children = sorted(i.id for i in rt.instances(name="child"))
    assert children == [f"{job.id}:1", f"{job.id}:3"]  # :2 (bad input) was never created
    assert rt.instance(f"{job.id}:1").row().parent_id == job.id
    assert "invalid input" in job.steps["bad"].error.message  # type: ignore[union-attr]


def test_a_running_instance_keeps_the_definition_it_started_with(env: Any) -> None:
    env.define("gated", GATED)
    rt = env.runtime()
    job = rt.start("gated")
    env.eventually(lambda: env.notes("first"))
    env.define("gated", GATED.replace("second, seconds: 0.01", "changed, seconds: 0.01"))
    rt.reload()
    env.open_gate("first")
    job.wait(10)
    assert job.steps["second"].output == "second"
    assert env.notes("changed") == []
    assert rt.run("gated", timeout=10).steps["second"].output == "changed"


def test_a_broken_hook_never_stops_a_run(env: Any) -> None:
    env.define("chain", CHAIN)
    seen: list[str] = []

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("listener bug")

    def good(*, instance_id: str, events: list[Any], **future: Any) -> None:
        seen.extend(type(e).__name__ for e in events)

    rt = env.runtime()
    rt.engine.hooks.extend([broken, good])
    assert rt.run("chain", timeout=10).status is RuntimeStatus.COMPLETED
    # hooks run after each commit, on the committing thread: a reader of the store may
    # see the end a moment before the last hook call
    env.eventually(lambda: bool(seen) and seen[-1] == "ExecutionCompleted")


def test_hooks_hear_of_events_another_writer_committed_in_a_race(env: Any) -> None:
    """An append of another process that lands between the engine's read and its commit
    (a version conflict): the hooks still see every event of the history once, in order."""
    env.define("gated", GATED)
    rt = env.runtime()
    other = env.runtime(engine=False)  # another writer: the engine is not told of it
    seen: list[int] = []

    def hook(*, instance_id: str, events: list[Any], **future: Any) -> None:
        seen.extend(e.seq for e in events)

    rt.engine.hooks.append(hook)
    commit = rt.engine.store.append_many
    raced: list[str] = []

    def racing(batch: Any, **options: Any) -> Any:
        if not raced:  # the first commit after the gate opens: someone else writes first
            raced.append(batch[0][0])
            assert other.instance(batch[0][0]).raise_event("note", 1) is Outcome.APPLY
        return commit(batch, **options)

    job = rt.start("gated")
    env.eventually(lambda: env.notes("first"))
    rt.engine.store.append_many = racing  # type: ignore[method-assign]
    env.open_gate("first")
    job.wait(10)
    other.close()
    assert raced == [job.id] and job.status is RuntimeStatus.COMPLETED
    history = job.history()
    assert "EventRaised" in types(history)
    env.eventually(lambda: seen == [e.seq for e in history])


def test_hooks_hear_of_an_instance_the_engine_claims_before_anything_is_committed(
    env: Any,
) -> None:
    """A claim commits nothing, and a claimed instance may wait hours for an event: the
    hooks are told at once, with no events and the state as stored."""
    env.define("waits", "steps:\n  ok: {wait: {event: go}}\n")
    starter = env.runtime(engine=False)
    job = starter.start("waits")
    recorded = len(job.history())  # its ExecutionStarted
    calls: list[tuple[str, list[Any], int]] = []

    def hook(*, instance_id: str, events: list[Any], state: Any, **future: Any) -> None:
        calls.append((instance_id, list(events), state.version))

    rt = env.runtime(engine=False)
    rt.engine.hooks.append(hook)
    rt.engine.start_background()
    env.eventually(lambda: bool(calls))
    instance_id, events, version = calls[0]
    assert (instance_id, events) == (job.id, [])
    assert version == recorded == 1  # the state as claimed, before the engine's first commit
    starter.close()


def test_a_step_raising_a_base_exception_fails_and_the_worker_thread_lives_on(
    env: Any,
) -> None:
    """asyncio.CancelledError and KeyboardInterrupt are BaseExceptions: raised by a step,
    they used to end its worker thread, and every later task waited forever."""
    module = f"cancelling_{env.module}"
    (env.definitions / f"{module}.py").write_text(
        "import asyncio\ndef cancel():\n    raise asyncio.CancelledError('x')\n"
    )
    env.define("cancels", f'steps:\n  s: {{call: "{module}:cancel"}}\n')
    env.define("chain", CHAIN)
    rt = env.runtime(workers=1)  # one worker thread: it must survive the first instance
    failed = rt.run("cancels", timeout=10)
    assert failed.status is RuntimeStatus.FAILED
    assert failed.failure is not None and failed.failure.type == "CancelledError"
    assert rt.run("chain", timeout=10).status is RuntimeStatus.COMPLETED


def test_history_records_suspension_and_resume(env: Any) -> None:
    env.define("gated", GATED)
    rt = env.runtime()
    job = rt.start("gated")
    env.eventually(lambda: env.notes("first"))
    job.pause()
    job.resume()
    env.open_gate("first")
    job.wait(10)
    history = job.history()
    suspended = [e for e in history if isinstance(e, ExecutionSuspended)]
    assert [s.reason for s in suspended] == ["pause"]
    assert [e.seq for e in history] == list(range(1, len(history) + 1))


# -- step-through debugging: runtime breakpoints, retry from the failed step -----------------


def test_a_breakpoint_set_at_run_time_suspends_before_its_step(env: Any) -> None:
    env.define("gated", GATED)
    rt = env.runtime()
    job = rt.start("gated")
    env.eventually(lambda: env.notes("first"))
    assert job.break_before("second") is Outcome.APPLY
    env.open_gate("first")
    env.eventually(lambda: job.status is RuntimeStatus.SUSPENDED)
    assert job.properties["wfkit.paused_at"] == "second"
    assert env.notes("second") == []
    job.resume()
    assert job.wait(10).status is RuntimeStatus.COMPLETED
    from wfkit.errors import UnknownStep

    with pytest.raises(IllegalTransition, match="cannot set a breakpoint"):
        job.break_before("second")
    with pytest.raises(UnknownStep, match="did you mean 'second'"):
        rt.start("gated").break_before("secnd")


FIXABLE = """
def compute(x):
    raise ValueError("bug in compute")
"""


def test_retry_runs_the_failed_step_again_with_fixed_code_and_keeps_completed_outputs(
    env: Any,
) -> None:
    (env.definitions / "fixable.py").write_text(FIXABLE)
    env.define(
        "retryable",
        """
steps:
  first: {call: "STEPS:flaky", with: {name: first, failures: 0}}
  second: {call: "fixable:compute", with: {x: "${{ steps.first.output }}"}}
finally:
  tidy: {call: "STEPS:echo", with: {status: "${{ workflow.status }}"}}
output: ${{ steps.second.output }}
""",
    )
    rt = env.runtime()
    job = rt.run("retryable", timeout=10)
    assert job.status is RuntimeStatus.FAILED
    assert job.steps["tidy"].output == {"status": "FAILED"}
    time.sleep(0.05)  # a new mtime for the fixed file
    (env.definitions / "fixable.py").write_text("def compute(x):\n    return x * 100\n")
    assert job.retry() is Outcome.APPLY
    job.wait(10)
    assert job.status is RuntimeStatus.COMPLETED
    assert job.output == 100
    assert job.failure is None
    assert len(env.notes("first")) == 1  # the completed step did not run again
    assert job.steps["tidy"].output == {"status": "COMPLETED"}
    assert "ExecutionRewound" in types(job.history())
    with pytest.raises(IllegalTransition, match="cannot retry"):
        job.retry()


# -- how the engine commits ------------------------------------------------------------------


def test_a_start_stores_the_instance_claimed_with_its_first_step_scheduled(env: Any) -> None:
    env.define("gated", "steps:\n  a: {call: STEPS:gate, with: {name: a}}\n")
    rt = env.runtime()
    job = rt.start("gated")
    row = job.row()  # at once: stored in the same transaction as the start
    assert row.status == "RUNNING" and row.owner == rt.engine.owner.id
    assert types(job.history()) == ["ExecutionStarted", "TaskScheduled"]
    env.open_gate("a")
    assert job.wait(10).status is RuntimeStatus.COMPLETED


def test_a_result_that_comes_while_a_start_is_being_stored_is_decided_at_once(
    env: Any,
) -> None:
    """A start holds the engine's decision lock while it stores the new instance; a step
    of another instance that ends meanwhile leaves its result for later. The loop thread
    is woken for it then, not at its next poll (30 s away here)."""
    import dataclasses

    env.define("gated", "inputs: {name: {type: string}}\n"
               "steps:\n  a: {call: STEPS:gate, with: {name: '${{ inputs.name }}'}}\n")  # fmt: skip
    rt = env.runtime(engine=False)
    rt.engine.settings = dataclasses.replace(
        rt.engine.settings, poll_interval=30.0, claim_interval=30.0, lease_seconds=90.0
    )
    rt.engine.start_background()
    first = rt.start("gated", {"name": "first"})
    env.eventually(lambda: any(n.get("phase") == "start" for n in env.notes("first")))

    def while_storing(*, instance_id: str, **_: Any) -> None:
        if instance_id != first.id:  # the second start, inside the lock
            env.open_gate("first")
            env.eventually(lambda: any(n.get("phase") == "end" for n in env.notes("first")))
            time.sleep(0.3)  # the step thread reports, finds the lock taken, leaves it

    rt.engine.hooks.append(while_storing)
    second = rt.start("gated", {"name": "second"})
    rt.engine.hooks.remove(while_storing)
    began = time.monotonic()
    assert first.wait(10).status is RuntimeStatus.COMPLETED
    assert time.monotonic() - began < 5
    env.open_gate("second")
    assert second.wait(10).status is RuntimeStatus.COMPLETED


def test_a_commit_the_store_refuses_loses_no_result(env: Any) -> None:
    """A failed commit leaves the instance as stored; its results are decided again."""
    from wfkit.errors import StoreError

    env.define("three", "steps:\n  a: {call: STEPS:echo}\n  b: {call: STEPS:echo, needs: [a]}\n"
               "  c: {call: STEPS:echo, needs: [b]}\n")  # fmt: skip
    rt = env.runtime()
    store = rt.engine.store
    real = store.append_many
    failures = [2]

    def flaky(batch: Any, **options: Any) -> list[str]:
        if failures[0]:
            failures[0] -= 1
            raise StoreError(
                store.url, "append_many failed: disk I/O error (injected)", retryable=True
            )
        return real(batch, **options)

    store.append_many = flaky  # type: ignore[method-assign]
    job = rt.run("three", timeout=20)
    assert failures == [0]
    assert job.status is RuntimeStatus.COMPLETED
    completed = [e.step for e in job.history() if type(e).__name__ == "TaskCompleted"]
    assert completed == ["a", "b", "c"]


def test_a_large_input_is_stored_once_not_at_every_step(env: Any) -> None:
    import sqlite3

    env.define(
        "big",
        "inputs: {blob: {type: string}}\nsteps:\n  a: {call: STEPS:echo}\n"
        "  b: {call: STEPS:echo, needs: [a]}\n  c: {call: STEPS:echo, needs: [b]}\n",
    )
    blob = "x" * 100_000
    rt = env.runtime()
    job = rt.run("big", blob=blob, timeout=10)
    assert job.status is RuntimeStatus.COMPLETED
    assert json.loads(job.properties["dapr.workflow.input"]) == {"blob": blob}
    path = env.store.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        stored = conn.execute(
            "SELECT coalesce(sum(length(s_properties)), 0) FROM history WHERE instance_no = "
            "(SELECT instance_no FROM instances WHERE instance_id = ?)",
            (job.id,),
        ).fetchone()[0]
        row = conn.execute(
            "SELECT length(input), length(properties) FROM instances WHERE instance_id = ?",
            (job.id,),
        ).fetchone()
    conn.close()
    assert stored < 10_000, stored  # the steps' summaries do not carry the input
    assert row[0] > 100_000 and row[1] < 10_000, row
