"""Each example runs through the real engine (SQLite file, thread pool, subprocesses,
a real kernel for the notebook step), from a scratch working directory."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wfkit.engine.core.history import TimerCreated
from wfkit.engine.core.status import RuntimeStatus
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    settings = Settings(str(DEFINITIONS), f"sqlite:///{tmp_path / 'wfkit.db'}", 2)
    engine = Runtime(settings)
    yield engine
    engine.close()


def _until(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sales_pipeline(runtime: Runtime) -> None:
    run = runtime.run("sales-pipeline", timeout=60).raise_if_failed()
    output = run.output
    assert output["best_region"] == "south"
    assert len(output["months"]) == len(run.steps["monthly"].output)
    assert run.steps["extract"].items is not None and run.steps["extract"].items > 1


def test_api_ingest_retries_and_degrades_gracefully(runtime: Runtime) -> None:
    run = runtime.run("api-ingest", timeout=60).raise_if_failed()
    assert run.output["stored"] == 10 and run.output["duplicates"] == 1
    stored = Path(run.output["file"])
    assert len(stored.read_text().splitlines()) == 10


def test_notebook_report_runs_a_real_kernel(runtime: Runtime) -> None:
    run = runtime.run("notebook-report", timeout=120).raise_if_failed()
    assert Path(run.output["report"]).is_file()
    executed = run.steps["summary"].details or {}
    assert Path(str(executed.get("notebook", ""))).suffix == ".ipynb"
    assert Path(str(executed["notebook"])).is_file()


def test_build_package_with_shell_steps_and_finally(runtime: Runtime) -> None:
    source = DEFINITIONS / "wfkit_examples"
    run = runtime.run("build-package", source_dir=str(source), timeout=120).raise_if_failed()
    archive = Path(run.output["archive"])
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == run.output["sha256"]
    assert run.steps["cleanup"].status == "completed"


def test_release_waits_for_sign_off_and_runs_its_child(runtime: Runtime) -> None:
    job = runtime.start("release", version="2024.06")
    _until(lambda: job.steps["sign_off"].status == "waiting")
    job.raise_event("release-signed-off", {"approved": True, "by": "ana"})
    job.wait(60).raise_if_failed()
    assert job.output == {"staging_version": 1, "production_version": 1}
    children = runtime.instances(name="publish-model")
    assert {c.id for c in children} == {f"{job.id}:1", f"{job.id}:2"}
    assert all(c.status is RuntimeStatus.COMPLETED for c in children)


def test_train_model_waits_for_approval_then_sleeps_durably(runtime: Runtime) -> None:
    job = runtime.start("train-model", threshold=0.5)
    _until(lambda: job.steps["approve"].status == "waiting")
    assert job.steps["evaluate"].output["score"] >= 0.5
    job.raise_event("Model-Approved", {"approved": True, "by": "ana"})
    _until(lambda: job.steps["cool_down"].status == "waiting")
    sleep = [e for e in job.history() if isinstance(e, TimerCreated) and e.purpose == "sleep"]
    assert [round(t.fire_at - t.at) for t in sleep] == [90]
    job.terminate("test over")
    assert job.status is RuntimeStatus.TERMINATED
