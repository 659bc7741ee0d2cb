"""The step code of ``sensor-features.yaml``: partitions, readings, features, summary."""

import json
import math
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wfkit_examples import features

from wfkit.engine.core.history import TaskCompleted
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings


def test_partitions_are_one_per_sensor_and_day_in_order() -> None:
    parts = features.list_partitions(["pump-a", "fan-c"], 3, 500)
    assert [(p["sensor"], p["day"]) for p in parts] == [
        ("pump-a", 1), ("pump-a", 2), ("pump-a", 3), ("fan-c", 1), ("fan-c", 2), ("fan-c", 3),
    ]  # fmt: skip
    assert {p["samples"] for p in parts} == {500}
    assert features.list_partitions([], 3, 500) == []


@pytest.mark.parametrize(
    ("sensors", "days", "samples"), [(["a", "a"], 1, 10), (["a"], 0, 10), (["a"], 1, 0)]
)
def test_partitions_refuse_bad_arguments(sensors: list[str], days: int, samples: int) -> None:
    with pytest.raises(ValueError):
        features.list_partitions(sensors, days, samples)


def test_readings_are_the_same_in_another_process(definitions_dir: Path) -> None:
    here = features.readings("pump-b", 1, 300)
    code = (
        "import json, sys; from wfkit_examples import features; "
        "json.dump(features.readings('pump-b', 1, 300), sys.stdout)"
    )
    # another process has another str hash seed: the readings must not depend on it
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=definitions_dir,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert [round(v, 12) for v in here] == [round(v, 12) for v in json.loads(done.stdout)]
    assert here != features.readings("pump-b", 2, 300)


def test_the_period_found_is_the_sensors_hum() -> None:
    for period in (3, 12, 29, 45):
        wave = [math.sin(2 * math.pi * n / period) + 0.4 * math.sin(4 * math.pi * n / period)
                for n in range(3000)]  # fmt: skip
        assert features.autocorrelation_period(wave) == period
    with pytest.raises(ValueError):
        features.autocorrelation_period([0.0] * 50)


def test_features_of_a_partition_match_an_independent_computation() -> None:
    got = features.partition_features({"sensor": "pump-b", "day": 1, "samples": 20000})
    values = features.readings("pump-b", 1, 20000)
    assert got["samples"] == 20000
    mean, std = statistics.fmean(values), statistics.pstdev(values)
    assert got["mean"] == pytest.approx(mean, abs=1e-4)
    assert got["std"] == pytest.approx(std, abs=1e-4)
    assert got["p95"] == pytest.approx(sorted(values)[19000], abs=1e-4)
    assert got["peak_to_peak"] == pytest.approx(max(values) - min(values), abs=1e-4)
    assert (
        got["anomalies"] == sum(1 for v in values if abs(v - mean) / std > 4.0) > 0
    )  # pump-b knocks on day 1
    assert got["period"] == 21 and got["hum_hz"] == round(400 / 21, 2)


def test_a_quiet_partition_has_no_anomalies() -> None:
    got = features.partition_features({"sensor": "pump-a", "day": 1, "samples": 20000})
    assert got["anomalies"] == 0 and got["period"] == 10


def test_summary_lists_the_sensors_to_inspect() -> None:
    rows = [
        features.partition_features(p)
        for p in features.list_partitions(["pump-a", "pump-b"], 2, 5000)
    ]
    summary = features.summarize(rows)
    assert summary["partitions"] == 4 and summary["readings"] == 20000
    assert list(summary["sensors"]) == ["pump-a", "pump-b"]
    assert summary["sensors"]["pump-a"] == {
        "days": 2,
        "mean_rms": round((rows[0]["rms"] + rows[1]["rms"]) / 2, 4),
        "periods": [10],
        "anomalies": 0,
    }
    assert summary["inspect"] == ["pump-b"]
    drifting = [dict(rows[0]), dict(rows[1], period=7)]
    assert features.summarize(drifting)["inspect"] == ["pump-a"]
    with pytest.raises(ValueError):
        features.summarize([])


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A client of a real Dask cluster: two worker processes on this machine."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # None still serves one, on 8787
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def test_the_definition_runs_its_partitions_on_dask_workers(
    definitions_dir: Path, workdir: Path, dask_client: Any
) -> None:
    settings = Settings(str(definitions_dir), f"sqlite:///{workdir / 'wfkit.db'}", 2)
    rt = Runtime(settings, dask_client=dask_client)
    try:
        inputs = {"sensors": ["pump-a", "pump-b"], "days": 2, "samples": 20000}
        run = rt.run("sensor-features", timeout=120, **inputs).raise_if_failed()
        output, history = run.output, run.history()
    finally:
        rt.close()
    expected = features.summarize(
        [features.partition_features(p) for p in features.list_partitions(**inputs)]
    )
    assert output["sensors"] == expected["sensors"]
    assert output["inspect"] == ["pump-b"]
    assert output["headline"] == "1 of 2 sensors to inspect"
    places = {
        (event.step, event.index): (event.details or {}).get("ranOn")
        for event in history
        if isinstance(event, TaskCompleted)
    }
    workers = set(dask_client.scheduler_info()["workers"])
    assert {places[("features", i)] for i in range(4)} <= workers
    assert places[("partitions", None)] is None and places[("summary", None)] is None
