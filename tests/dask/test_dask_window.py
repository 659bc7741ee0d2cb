"""How much an engine hands a Dask cluster, and where a wide ``foreach`` says it ran.

These run on a cluster of 16 threads (two worker processes of eight), bigger than the
engine's own two local slots: the engine must keep the cluster's threads busy whatever
its own ``runner`` setting, and a ``foreach`` spread over both workers names both.
The steps hold their worker thread until the test lets them go (a file appears), so
what is in flight at once is counted on the scheduler, not timed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from distributed import LocalCluster

from wfkit.runtime.snapshot_records import StepSnapshot

THREADS = 16

#: A step that holds its thread until the file ``go`` exists (at most 60 s).
HOLD = """
import os, time

def hold(go, i):
    for _ in range(6000):
        if os.path.exists(go):
            break
        time.sleep(0.01)
    return i
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two worker processes of eight threads each (this module's own cluster)."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=THREADS // 2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"allowed_failures": 0},
    ) as local:
        yield local


def _in_scheduler(dask_scheduler: Any) -> list[int]:
    """wfkit's tasks the scheduler holds, and those of them each worker is running."""
    held = sum(1 for key in dask_scheduler.tasks if str(key).startswith("wfkit-"))
    return [held, *(len(w.processing) for w in dask_scheduler.workers.values())]


def _fan_out(
    project: Any,
    until: Callable[..., bool],
    items: int,
    enough: int,
    look: Callable[[Any], object] = lambda run: None,
) -> int:
    """Run a ``runner: dask`` foreach of ``items`` held steps on an engine whose runner
    is ``local`` (two slots); let them go once the scheduler holds ``enough`` of them
    with both workers busy (or after 30 s); ``look`` at the finished run before the
    engine closes. The most tasks the scheduler held at once."""
    module = project.module(HOLD)
    project.flow(
        """
        wfkit: 1
        name: fan
        inputs:
          items: {{type: array}}
        steps:
          fan:
            call: "{m}:hold"
            runner: dask
            foreach: ${{{{ inputs.items }}}}
            with: {{go: "{go}", i: "${{{{ item }}}}"}}
        """,
        m=module,
        go=str(project.root / "go"),
    )
    most = 0

    def counted() -> bool:
        nonlocal most
        held, *running = project.client.run_on_scheduler(_in_scheduler)
        most = max(most, held)
        return held >= enough and all(running)

    with project.runtime("local") as runtime:
        job = runtime.start("fan", items=list(range(items)))
        until(counted, 30.0)
        (project.root / "go").write_text("")
        run = job.wait(60)
        assert run.status.value == "COMPLETED"
        assert run.steps["fan"].output == list(range(items))
        look(run)
    return most


def test_an_engine_whose_runner_is_local_keeps_every_dask_task_in_flight(
    project: Any, until: Callable[..., bool]
) -> None:
    # slots: 2 local + 4 per thread of the cluster's 16, so far more than 48 in flight
    # at most: all 48 (the engine's own 2 slots alone made it 6)
    assert sum(project.client.nthreads().values()) == THREADS
    assert _fan_out(project, until, 48, 48) == 48


def test_a_foreach_names_every_worker_its_items_ran_on(
    project: Any, until: Callable[..., bool]
) -> None:
    from wfkit.cli.show import details
    from wfkit.views.instance import plain_text, steps_table_html

    workers = sorted(project.client.scheduler_info()["workers"])
    seen: dict[str, str] = {}

    def look(run: Any) -> None:
        seen.update(
            shown=run.steps["fan"].ran_on,
            table=steps_table_html(run.snapshot()),
            text=plain_text(run.snapshot()),
            cli=details(run.row(), run.steps),
        )

    _fan_out(project, until, THREADS, THREADS, look)
    shown = seen["shown"]
    assert sorted(shown.split(", ")) == workers
    assert f"<td>{shown}</td>" in seen["table"]
    assert f"on {shown}" in seen["text"] and f"on {shown}" in seen["cli"]


def test_many_workers_are_counted_not_listed() -> None:
    from wfkit.runtime.snapshot_records import places_text

    many = tuple(f"tcp://10.0.0.{n}:8786" for n in range(40))
    step = StepSnapshot(id="fan", status="completed", places=many)
    assert step.ran_on == places_text(many)
    assert step.ran_on == "40 Dask workers (tcp://10.0.0.0:8786, tcp://10.0.0.1:8786, ...)"
    assert StepSnapshot(id="one", status="completed", details={"ranOn": "tcp://a"}).ran_on == (
        "tcp://a"
    )


def test_the_dask_runners_slots_follow_workers_that_join_and_leave(
    cluster: LocalCluster, project: Any, until: Callable[..., bool]
) -> None:
    from wfkit.steps.dask_runner import SLOTS_PER_THREAD, DaskRunner

    runner = DaskRunner(client=project.client)
    try:
        assert runner.workers == THREADS * SLOTS_PER_THREAD  # not the `workers` setting's
        cluster.scale(3)  # one more process of 8 threads: the client hears of it
        assert until(lambda: runner.workers == (THREADS + 8) * SLOTS_PER_THREAD, 30.0)
        cluster.scale(2)
        assert until(lambda: runner.workers == THREADS * SLOTS_PER_THREAD, 30.0)
    finally:
        cluster.scale(2)
        runner.close()
