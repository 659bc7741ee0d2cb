"""The step runner is a setting: chosen by name from ``wfkit.steps.RUNNERS`` (the
``runner`` property, ``--runner``, ``$WFKIT_RUNNER``) and handed to the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import wfkit
from wfkit.engine.protocols import StepRunner, TaskOutcome, TaskSpec
from wfkit.errors import UnknownRunner
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import DEFAULTS, Settings
from wfkit.steps import RUNNERS, LocalRunner, RunnerOptions, open_runner

FLOW = 'wfkit: 1\nname: hello\nsteps:\n  greet: {call: "runnersteps:hello"}\noutput: ${{ steps.greet.output }}\n'


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    defs = tmp_path / "definitions"
    defs.mkdir()
    (defs / "hello.yaml").write_text(FLOW)
    (defs / "runnersteps.py").write_text("def hello():\n    return 'hi'\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


class CountingRunner(LocalRunner):
    """A local runner that keeps the tasks it was handed."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers=workers)
        self.seen: list[TaskSpec] = []

    def submit(self, task: TaskSpec, done: Callable[[TaskSpec, TaskOutcome], None]) -> None:
        self.seen.append(task)
        super().submit(task, done)


def test_the_default_runner_is_local_threads() -> None:
    assert DEFAULTS["runner"] == "local" and Settings().runner == "local"
    runner = open_runner("local", workers=3)
    try:
        assert isinstance(runner, LocalRunner) and runner.workers == 3
    finally:
        runner.close()


def test_a_runner_named_in_the_table_is_the_one_the_engine_runs_steps_on(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[CountingRunner] = []

    def counting(options: RunnerOptions) -> StepRunner:
        made.append(CountingRunner(options.workers))
        return made[-1]

    monkeypatch.setitem(RUNNERS, "counting", counting)
    settings = Settings.from_properties(
        {
            "definitions": "definitions",
            "store": "sqlite:///s.db",
            "runner": "counting",
            "workers": "2",
        }
    )
    runtime = Runtime(settings)
    try:
        assert runtime.run("hello").output == "hi"
    finally:
        runtime.close()
    assert runtime.runner.default is made[0] and made[0].workers == 2
    assert [task.step for task in made[0].seen] == ["greet"]


def test_an_unknown_runner_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(UnknownRunner) as info:
        Settings.from_properties({"runner": "locl"})
    assert info.value.name == "locl" and info.value.known == ["dask", "local"]
    assert "the runners are dask, local" in str(info.value)
    assert "did you mean 'local'?" in str(info.value)
    assert isinstance(info.value, wfkit.WfkitError) and wfkit.UnknownRunner is UnknownRunner


def test_the_environment_names_the_runner() -> None:
    with pytest.raises(UnknownRunner, match="'dusk'"):
        Settings.from_environment({"WFKIT_RUNNER": "dusk"})
    assert Settings.from_environment({"WFKIT_RUNNER": "local"}).runner == "local"
    dask = Settings.from_environment(
        {
            "WFKIT_RUNNER": "dask",
            "WFKIT_DASK_SCHEDULER": "tcp://10.0.0.5:8786",
            "WFKIT_DASK_RESOURCE_WAIT": "2.5",
        }
    )
    assert (dask.runner, dask.dask_scheduler, dask.dask_resource_wait) == (
        "dask",
        "tcp://10.0.0.5:8786",
        2.5,
    )
    assert Settings().dask_scheduler == "" and Settings().dask_resource_wait == 10


def _wfkit(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfkit", *args],
        cwd=cwd,
        env={**os.environ, "WFKIT_STORE": f"sqlite:///{cwd / 's.db'}", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_takes_runner_from_a_flag_and_from_the_environment(folder: Path) -> None:
    ran = _wfkit(folder, "run", "hello", "--runner", "local")
    assert ran.returncode == 0, ran.stderr
    flag = _wfkit(folder, "run", "hello", "--runner", "dask-ish")
    assert flag.returncode == 1, flag.stderr
    assert "no step runner named 'dask-ish'; the runners are dask, local" in flag.stderr
    env = _wfkit(folder, "worker", "--for", "0.1", WFKIT_RUNNER="locale")
    assert env.returncode == 1 and "did you mean 'local'?" in env.stderr


def test_a_task_carries_what_a_worker_elsewhere_needs() -> None:
    task = TaskSpec(
        "i", "s", "call", "churn.etl:pull", workdir="/proj", definitions_dir="/proj/flows/defs"
    )
    assert task.definitions_relative == os.path.join("flows", "defs")
    assert task.call_module == "churn.etl"
    outside = TaskSpec("i", "s", "shell", ["ls"], workdir="/proj", definitions_dir="/elsewhere")
    assert outside.definitions_relative is None and outside.call_module is None
    assert TaskSpec("i", "s", "call", "m:f").definitions_relative == "."
