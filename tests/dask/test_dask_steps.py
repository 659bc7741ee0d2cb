"""Steps on a real Dask ``LocalCluster`` of worker processes: each kind that does work
runs on a worker, its result is recorded once, and a failure comes back with its type,
message and the traceback from the worker. Where a step ran is in its details
(``ranOn``). The ``runner`` key routes a step (or a whole workflow) there and back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

from distributed import Client

from wfkit.engine.core.history import TaskCompleted, TaskFailed, TaskScheduled
from wfkit.engine.protocols import TaskOutcome, TaskSpec
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings
from wfkit.steps.dask_runner import DaskRunner
from wfkit.steps.remote import RAN_ON


def _workers(client: Client) -> set[str]:
    return set(client.scheduler_info()["workers"])


def test_a_call_step_runs_on_a_worker_process_and_its_result_is_recorded_once(
    project: Any,
) -> None:
    module = project.module(
        """
        import os

        def work(n):
            return {"double": n * 2, "pid": os.getpid()}
        """
    )
    project.flow(
        """
        wfkit: 1
        name: heavy
        steps:
          double: {{call: "{m}:work", with: {{n: 21}}}}
        output: ${{{{ steps.double.output }}}}
        """,
        m=module,
    )
    with project.runtime() as runtime:
        run = runtime.run("heavy", timeout=60)
        history = run.history()
        assert run.status.value == "COMPLETED", run.failure
        assert run.output["double"] == 42 and run.output["pid"] != os.getpid()
        assert run.steps["double"].details[RAN_ON] in _workers(project.client)
        completed = [e for e in history if isinstance(e, TaskCompleted)]
        assert len(completed) == 1 and completed[0].details[RAN_ON].startswith("tcp://127.0.0.1:")


def test_a_shell_step_runs_its_process_on_the_worker_and_brings_back_its_tails(
    project: Any,
) -> None:
    script = (
        "import json, os, sys; print('to stdout'); print('to stderr', file=sys.stderr); "
        "open(os.environ['WFKIT_OUTPUT'], 'w').write(json.dumps({'ppid': os.getppid()}))"
    )
    project.flow(
        """
        wfkit: 1
        name: sh
        runner: dask
        steps:
          run: {{shell: [python, -c, "{s}"]}}
        output: ${{{{ steps.run.output }}}}
        """,
        s=script,
    )
    with project.runtime("local") as runtime:
        run = runtime.run("sh", timeout=60)
        assert run.status.value == "COMPLETED", run.failure
        details = run.steps["run"].details
        assert details["stdout"] == "to stdout\n" and details["stderr"] == "to stderr\n"
        assert details["exit_code"] == 0 and details[RAN_ON] in _workers(project.client)
        assert run.output["ppid"] != os.getpid()  # started on the worker, not here


def test_a_notebook_step_runs_its_kernel_on_the_worker(project: Any) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = [
        nbformat.v4.new_code_cell("n = 1", metadata={"tags": ["parameters"]}),  # type: ignore[no-untyped-call]
        nbformat.v4.new_code_cell("import wfkit\nwfkit.output({'n': n + 1})"),  # type: ignore[no-untyped-call]
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, str(project.definitions / "nb.ipynb"))  # type: ignore[no-untyped-call]
    project.flow(
        """
        wfkit: 1
        name: nbflow
        steps:
          report: {{notebook: nb.ipynb, with: {{n: 41}}, runner: dask}}
        output: ${{{{ steps.report.output }}}}
        """
    )
    with project.runtime("local") as runtime:
        run = runtime.run("nbflow", timeout=120)
        assert run.status.value == "COMPLETED", run.failure
        assert run.output == {"n": 42}
        assert run.steps["report"].details[RAN_ON] in _workers(project.client)


def test_a_failure_keeps_its_type_message_and_the_workers_traceback(project: Any) -> None:
    module = project.module(
        """
        def explode(month):
            raise ValueError(f"no data for {month}")
        """
    )
    project.flow(
        """
        wfkit: 1
        name: bad
        steps:
          pull: {{call: "{m}:explode", with: {{month: "2024-05"}}}}
        """,
        m=module,
    )
    with project.runtime() as runtime:
        run = runtime.run("bad", timeout=60)
        assert run.status.value == "FAILED"
        failure = run.steps["pull"].failure
        assert failure is not None and failure.type == "ValueError"
        assert failure.message == "no data for 2024-05"
        assert f"{module}.py" in failure.stack_trace and 'raise ValueError(f"no data' in (
            failure.stack_trace
        )
        assert run.steps["pull"].details[RAN_ON] in _workers(project.client)


def test_a_module_the_worker_cannot_import_fails_naming_the_worker_and_the_module(
    project: Any,
) -> None:
    project.flow(
        """
        wfkit: 1
        name: missing
        steps:
          pull: {{call: "wfkit_no_such_module_anywhere:pull"}}
        """
    )
    with project.runtime() as runtime:
        run = runtime.run("missing", timeout=60)
        failure = run.steps["pull"].failure
        assert failure is not None and failure.type == "ModuleNotFoundError"
        assert "'wfkit_no_such_module_anywhere'" in failure.message
        worker = run.steps["pull"].details[RAN_ON]
        assert f"on Dask worker {worker}" in failure.message


def test_retries_follow_the_five_field_policy_on_the_cluster(project: Any) -> None:
    module = project.module(
        """
        from pathlib import Path

        def flaky(counter):
            path = Path(counter)
            tries = int(path.read_text()) + 1 if path.exists() else 1
            path.write_text(str(tries))
            if tries < 3:
                raise RuntimeError(f"try {tries} failed")
            return tries
        """
    )
    project.flow(
        """
        wfkit: 1
        name: flaky
        steps:
          pull:
            call: "{m}:flaky"
            with: {{counter: "{c}"}}
            retry: {{max_attempts: 3, initial_interval: 100ms, backoff_coefficient: 2,
                     max_interval: 1s, retry_timeout: 1m}}
        output: ${{{{ steps.pull.output }}}}
        """,
        m=module,
        c=str(project.root / "count"),
    )
    with project.runtime() as runtime:
        run = runtime.run("flaky", timeout=60)
        history = run.history()
        assert run.status.value == "COMPLETED" and run.output == 3
        assert run.steps["pull"].attempts == 3
        failed = [e for e in history if isinstance(e, TaskFailed)]
        assert [e.failure.message for e in failed] == ["try 1 failed", "try 2 failed"]
        assert all(e.details and RAN_ON in e.details for e in failed)
        assert sum(isinstance(e, TaskCompleted) for e in history) == 1


def test_the_runner_key_routes_steps_to_dask_and_back_home(project: Any) -> None:
    module = project.module(
        """
        import os

        def where():
            return os.getpid()
        """
    )
    project.flow(
        """
        wfkit: 1
        name: mixed
        steps:
          away: {{call: "{m}:where", runner: dask}}
          home: {{call: "{m}:where"}}
        output: ${{{{ [steps.away.output, steps.home.output] }}}}
        """,
        m=module,
    )
    project.flow(
        """
        wfkit: 1
        name: mostly-away
        runner: dask
        steps:
          away: {{call: "{m}:where"}}
          home: {{call: "{m}:where", runner: local}}
        output: ${{{{ [steps.away.output, steps.home.output] }}}}
        """,
        m=module,
    )
    for engine_runner in ("local", "dask"):
        with project.runtime(engine_runner) as runtime:
            for name in ("mixed", "mostly-away"):
                run = runtime.run(name, timeout=60)
                assert run.status.value == "COMPLETED", run.failure
                away, home = run.output
                assert away != os.getpid(), (engine_runner, name)
                assert run.steps["away"].details[RAN_ON] in _workers(project.client)
                # a step that names no runner runs where its workflow, else the engine,
                # says
                stays = name == "mostly-away" or engine_runner == "local"
                assert (home == os.getpid()) is stays, (engine_runner, name)
                assert (RAN_ON not in (run.steps["home"].details or {})) is stays
            scheduled = [e for e in run.history() if isinstance(e, TaskScheduled)]
            assert len(scheduled) == 2


def test_a_step_asking_for_resources_runs_where_they_are_and_fails_where_none_are(
    project: Any,
) -> None:
    module = project.module(
        """
        def one():
            return 1
        """
    )
    runner = DaskRunner(client=project.client, resource_wait=0.5)
    results: dict[str, TaskOutcome] = {}
    finished = threading.Event()

    def done(task: TaskSpec, outcome: TaskOutcome) -> None:
        results[task.step] = outcome
        if len(results) == 2:
            finished.set()

    def task(step: str, resources: dict[str, float]) -> TaskSpec:
        return TaskSpec(
            "inst", step, "call", f"{module}:one", definitions_dir=str(project.definitions),
            workdir=str(project.root), resources=resources,
        )  # fmt: skip

    try:
        runner.submit(task("fits", {"GPU": 1}), done)
        runner.submit(task("too-big", {"GPU": 2}), done)
        assert finished.wait(30)
    finally:
        runner.close()
    assert results["fits"].ok and results["fits"].output == 1
    big = results["too-big"]
    assert big.error_type == "ResourcesUnavailable"
    assert "GPU=2" in big.error_message and "offer: GPU=1" in big.error_message
    assert "waited 0.5 s" in big.error_message


def test_without_distributed_the_error_names_the_extra_to_install(project: Any) -> None:
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from wfkit.steps import open_runner\n"
        "try:\n"
        "    open_runner('dask', workers=1)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert ran.stdout.startswith("RunnerUnavailable the dask step runner needs")
    assert "pip install 'wfkit[dask]'" in ran.stdout


def test_the_widget_get_and_the_text_show_where_each_step_ran(project: Any) -> None:
    from wfkit.cli.show import details
    from wfkit.views.instance import plain_text, steps_table_html
    from wfkit.views.widget import InstanceWidget

    module = project.module("def one():\n    return 1\n")
    project.flow(
        """
        wfkit: 1
        name: placed
        steps:
          away: {{call: "{m}:one", runner: dask}}
          home: {{call: "{m}:one"}}
        """,
        m=module,
    )
    with project.runtime("local") as runtime:
        run = runtime.run("placed", timeout=60)
        worker = run.steps["away"].ran_on
        assert worker in _workers(project.client) and run.steps["home"].ran_on is None
        widget = InstanceWidget(run)
        try:
            widget.flush(10)
            table = widget.table.value
        finally:
            widget.close()
        text = plain_text(run.snapshot())
        shown = details(run.row(), run.steps)
        link = runtime.dask_dashboard
    assert "<th>ran on</th>" in table
    assert f"<td>{worker}</td>" in table and "<td>local</td>" in table
    assert f"on {worker}" in text and f"on {worker}" in shown
    # the link is the client's own, when it has one
    assert link == (project.client.dashboard_link or None)
    page = steps_table_html(widget.view, dashboard="http://127.0.0.1:8787/status")
    assert '<a href="http://127.0.0.1:8787/status"' in page


def test_a_run_that_stays_home_shows_no_placement_column(project: Any) -> None:
    from wfkit.views.instance import steps_table_html

    module = project.module("def one():\n    return 1\n")
    project.flow(
        """
        wfkit: 1
        name: home
        steps:
          here: {{call: "{m}:one"}}
        """,
        m=module,
    )
    with project.runtime("local") as runtime:
        run = runtime.run("home", timeout=60)
        table = steps_table_html(run.snapshot())
        assert runtime.dask_dashboard is None and "dask" not in runtime.runner.runners
    assert "ran on" not in table


def test_a_step_asking_for_what_no_worker_has_fails_after_the_resource_wait_setting(
    project: Any,
) -> None:
    module = project.module("def one():\n    return 1\n")
    project.flow(
        """
        wfkit: 1
        name: greedy
        steps:
          train: {{call: "{m}:one", runner: dask, resources: {{GPU: 4}}}}
        """,
        m=module,
    )
    with project.runtime("local", dask_resource_wait="0.3") as runtime:
        run = runtime.run("greedy", timeout=60)
        failure = run.steps["train"].failure
        assert run.status.value == "FAILED" and runtime.runner.unfinished() == 0
    assert failure is not None and failure.type == "ResourcesUnavailable"
    assert "step 'train'" in failure.message and "GPU=4" in failure.message
    assert "waited 0.3 s" in failure.message


def test_a_scheduler_that_cannot_be_reached_fails_the_step_naming_its_address(
    project: Any, monkeypatch: Any
) -> None:
    import socket

    from wfkit.steps import dask_cluster

    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
    module = project.module("def one():\n    return 1\n")
    project.flow(
        """
        wfkit: 1
        name: nowhere
        steps:
          away: {{call: "{m}:one"}}
        """,
        m=module,
    )
    settings = Settings.from_properties(
        {
            "definitions": str(project.definitions),
            "store": project.store,
            "runner": "dask",
            "dask_scheduler": address,
        }
    )
    with Runtime(settings) as runtime:
        run = runtime.run("nowhere", timeout=60)
        failure = run.steps["away"].failure
    assert failure is not None and failure.type == "RunnerUnavailable"
    assert f"cannot reach the Dask scheduler at {address}" in failure.message


def test_wfkit_open_takes_a_client_and_without_one_starts_a_local_cluster_of_its_own(
    project: Any,
) -> None:
    import logging

    import wfkit

    module = project.module("import os\n\ndef where():\n    return os.getpid()\n")
    project.flow(
        """
        wfkit: 1
        name: where
        runner: dask
        steps:
          away: {{call: "{m}:where"}}
        output: ${{{{ steps.away.output }}}}
        """,
        m=module,
    )
    with wfkit.open(project.definitions, store=project.store, dask_client=project.client) as rt:
        on_client = rt.run("where", timeout=60).steps["away"].ran_on
    assert on_client in _workers(project.client)
    said: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("wfkit.steps")  # not caplog: the new cluster resets root's
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        with wfkit.open(project.definitions, store=project.store, workers=1) as runtime:
            assert "dask" not in runtime.runner.runners  # opened on first need
            run = runtime.run("where", timeout=120)
            own = runtime.runner.runners["dask"]
            assert run.status.value == "COMPLETED" and run.output != os.getpid()
            cluster_workers = set(own.client.scheduler_info()["workers"])
            assert run.steps["away"].ran_on in cluster_workers
            assert len(cluster_workers) == 1  # workers=1: one worker process
    finally:
        logger.removeHandler(handler)
        logger.level = level
    assert cluster_workers.isdisjoint(_workers(project.client))
    assert own.client.status == "closed"  # closed with the runtime
    assert any("wfkit started a Dask LocalCluster of 1 worker processes" in m for m in said)


def test_an_engine_whose_steps_stay_home_never_imports_dask(project: Any) -> None:
    module = project.module("def one():\n    return 1\n")
    project.flow(
        """
        wfkit: 1
        name: local-only
        steps:
          here: {{call: "{m}:one"}}
        """,
        m=module,
    )
    code = (
        "import sys, wfkit\n"
        f"with wfkit.open({str(project.definitions)!r}, store={project.store!r}) as rt:\n"
        "    assert rt.run('local-only', timeout=60).output is None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert ran.stdout.strip() == "[]", ran.stdout
