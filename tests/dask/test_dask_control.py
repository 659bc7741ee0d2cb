"""Control of steps that run on a real Dask ``LocalCluster`` of worker processes:
timeouts and terminate kill the remote subprocess, pause lets a remote step finish and
starts nothing new, a worker killed mid-step fails the attempt for the retry policy, and
an engine killed mid-step leaves nothing that applies later (its remote subprocess is
killed, and the engine that takes over runs the step again)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wfkit.engine.core.history import TaskCompleted, TaskFailed, TaskScheduled
from wfkit.runtime.instance import Instance
from wfkit.steps.remote import RAN_ON

#: A program that writes its pid to $PIDFILE, then sleeps until killed (or, with $GO
#: set, until that file exists), and outputs its pid.
SLEEPER = (
    "import json, os, pathlib, time\n"
    "pathlib.Path(os.environ['PIDFILE']).write_text(f'{os.getpid()}\\n')\n"
    "go = os.environ.get('GO')\n"
    "for _ in range(6000):\n"
    "    if go and os.path.exists(go):\n"
    "        break\n"
    "    time.sleep(0.01)\n"
    "open(os.environ['WFKIT_OUTPUT'], 'w').write(json.dumps(os.getpid()))\n"
)


def _sleeper_flow(project: Any, name: str, extra: str = "", after: str = "") -> None:
    (project.root / "sleeper.py").write_text(SLEEPER)
    project.flow(
        f"""
        wfkit: 1
        name: {name}
        runner: dask
        steps:
          nap:
            shell: [python, "{project.root / "sleeper.py"}"]
            env: {{{{PIDFILE: "{project.root / "pid"}", GO: "{project.root / "go"}"}}}}
            {extra}
        {after}
        """
    )


def test_a_timeout_kills_the_remote_subprocess(
    project: Any, read_pid: Callable[[Path], int], gone: Callable[[int], bool]
) -> None:
    _sleeper_flow(project, "slow", "timeout: 2s")
    (project.root / "go").unlink(missing_ok=True)
    with project.runtime() as runtime:
        job = runtime.start("slow")
        pid = read_pid(project.root / "pid")
        run = job.wait(60)
        failure = run.steps["nap"].failure
        assert failure is not None and failure.type == "TimeoutError", failure
        assert "was killed with its process group" in failure.message
        assert run.steps["nap"].details[RAN_ON].startswith("tcp://127.0.0.1:")
    assert gone(pid)


def test_terminate_cancels_the_future_and_kills_the_remote_subprocess(
    project: Any, read_pid: Callable[[Path], int], gone: Callable[[int], bool]
) -> None:
    _sleeper_flow(project, "stopped")
    with project.runtime() as runtime:
        job = runtime.start("stopped")
        pid = read_pid(project.root / "pid")
        job.terminate("enough")
        assert job.wait(30).status.value == "TERMINATED"
        assert gone(pid)
        assert runtime.runner.unfinished() == 0
        assert not any(isinstance(e, TaskCompleted) for e in job.history())


def test_pause_lets_a_remote_step_finish_and_starts_nothing_new(
    project: Any, read_pid: Callable[[Path], int]
) -> None:
    module = project.module("def after(x):\n    return x + 1\n")
    _sleeper_flow(
        project,
        "paused",
        after=f"""  next: {{{{call: "{module}:after", with: {{{{x: "${{{{{{{{ steps.nap.output }}}}}}}}"}}}}}}}}""",
    )
    with project.runtime() as runtime:
        job = runtime.start("paused")
        pid = read_pid(project.root / "pid")
        job.pause()
        (project.root / "go").write_text("")
        job.wait(30, until=lambda j: j.steps["nap"].status == "completed")
        assert job.status.value == "SUSPENDED" and job.steps["next"].status == "pending"
        assert runtime.runner.unfinished() == 0
        job.resume()
        run = job.wait(60)
        assert run.status.value == "COMPLETED", run.failure
        assert run.steps["nap"].output == pid and run.steps["next"].output == pid + 1


def test_a_worker_killed_mid_step_fails_the_attempt_and_the_retry_runs_it_again(
    project: Any, read_pid: Callable[[Path], int], until: Callable[..., bool]
) -> None:
    module = project.module(
        """
        import os, pathlib, time

        def hold(marker):
            path = pathlib.Path(marker)
            if path.exists():
                return "second try"
            path.write_text(f"{os.getpid()}\\n")
            time.sleep(120)
            return "never"
        """
    )
    project.flow(
        """
        wfkit: 1
        name: fragile
        steps:
          work:
            call: "{m}:hold"
            with: {{marker: "{p}"}}
            retry: {{max_attempts: 2, initial_interval: 100ms}}
        output: ${{{{ steps.work.output }}}}
        """,
        m=module,
        p=str(project.root / "worker-pid"),
    )
    workers_before = set(project.client.scheduler_info()["workers"])
    with project.runtime() as runtime:
        job = runtime.start("fragile")
        worker_pid = read_pid(project.root / "worker-pid")
        assert worker_pid != os.getpid()
        os.kill(worker_pid, signal.SIGKILL)
        run = job.wait(90)
        assert run.status.value == "COMPLETED", run.failure
        assert run.output == "second try" and run.steps["work"].attempts == 2
        failed = [e for e in run.history() if isinstance(e, TaskFailed)]
        assert [e.failure.type for e in failed] == ["KilledWorker"]
        assert "the Dask worker running it died" in failed[0].failure.message
    # the nanny restarts the killed worker: the module's other tests keep two workers
    assert until(lambda: len(project.client.scheduler_info()["workers"]) == 2, 60)
    assert len(workers_before) == 2


def test_an_engine_killed_mid_step_leaves_nothing_that_applies_later(
    project: Any,
    read_pid: Callable[[Path], int],
    gone: Callable[[int], bool],
) -> None:
    _sleeper_flow(project, "orphaned")
    scheduler = project.client.scheduler.address
    engine = subprocess.Popen(
        [sys.executable, "-m", "wfkit", "run", "orphaned", "--id", "orphan-1",
         "--runner", "dask", "--dask-scheduler", scheduler, "--workers", "2"],
        cwd=project.root,
        env={**os.environ, "WFKIT_STORE": project.store, "WFKIT_DEFINITIONS": "definitions"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        first = read_pid(project.root / "pid")
    finally:
        engine.kill()  # SIGKILL: no clean-up of any kind
        engine.wait()
    # the scheduler sees the client gone and releases its task; the worker kills it
    assert gone(first)
    (project.root / "pid").unlink()
    (project.root / "go").write_text("")  # the step's next run ends at once
    with project.runtime() as runtime:  # takes the instance over (its owner is dead)
        run = Instance(runtime, "orphan-1").wait(90)
        assert run.status.value == "COMPLETED", run.failure
        second = run.steps["nap"].output
        history = run.history()
    assert second != first
    assert sum(isinstance(e, TaskScheduled) for e in history) >= 2
    assert [e.output for e in history if isinstance(e, TaskCompleted)] == [second]


def test_a_call_step_over_its_timeout_fails_on_time_though_its_function_is_stuck(
    project: Any,
) -> None:
    module = project.module(
        """
        import time

        def stuck():
            time.sleep(30)
            return "late"

        def quick():
            return "quick"
        """
    )
    project.flow(
        """
        wfkit: 1
        name: stuck
        runner: dask
        steps:
          slow: {{call: "{m}:stuck", timeout: 1s, on_error: continue}}
          after: {{call: "{m}:quick", needs: [slow]}}
        output: ${{{{ steps.after.output }}}}
        """,
        m=module,
    )
    with project.runtime() as runtime:
        # the function is abandoned in a thread of its own on the worker: the step
        # fails after 1 s, not 30, and the run goes on
        run = runtime.run("stuck", timeout=20)
        assert run.status.value == "COMPLETED" and run.output == "quick"
        failure = run.steps["slow"].failure
        assert failure is not None and failure.type == "TimeoutError"
        assert "ran over its timeout of 1 s" in failure.message
        assert run.steps["slow"].ran_on in set(project.client.scheduler_info()["workers"])
