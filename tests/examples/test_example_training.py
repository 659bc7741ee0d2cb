"""The step code of ``train-model.yaml``, and the definition run with and without approval."""

import hashlib
import json
import math
from pathlib import Path

import pytest
from example_harness import Harness, load, render
from wfkit_examples import publish, training


def test_sigmoid() -> None:
    assert training.sigmoid(0.0) == 0.5
    assert training.sigmoid(3.0) == pytest.approx(1 / (1 + math.exp(-3.0)))
    assert training.sigmoid(-3.0) == pytest.approx(1 - training.sigmoid(3.0))
    assert training.sigmoid(-1000.0) == 0.0
    assert training.sigmoid(1000.0) == 1.0


def test_dataset_is_seeded_and_split() -> None:
    data = training.make_dataset(seed=7, samples=400)
    assert data == training.make_dataset(seed=7, samples=400)
    assert data != training.make_dataset(seed=8, samples=400)
    assert len(data["train"]) == 300 and len(data["test"]) == 100
    assert data["features"] == ["tenure_months", "monthly_spend", "support_calls"]
    rows = data["train"] + data["test"]
    assert all(len(r) == 4 and r[3] in (0.0, 1.0) for r in rows)
    assert all(1 <= r[0] <= 72 and 20 <= r[1] <= 120 and 0 <= r[2] <= 10 for r in rows)
    assert data["positives"] == sum(int(r[3]) for r in rows)
    assert 0.2 < data["positives"] / 400 < 0.8, "both classes are well represented"


@pytest.mark.parametrize(("samples", "fraction"), [(5, 0.25), (100, 0.0), (100, 1.0)])
def test_dataset_refuses_bad_sizes(samples: int, fraction: float) -> None:
    with pytest.raises(ValueError):
        training.make_dataset(seed=1, samples=samples, test_fraction=fraction)


def test_training_learns_the_generating_rule() -> None:
    data = training.make_dataset(seed=7, samples=400)
    short = training.train_logistic(data["train"], learning_rate=0.3, epochs=10)
    model = training.train_logistic(data["train"], learning_rate=0.3, epochs=300)
    assert model["loss"] < short["loss"] < math.log(2)
    tenure, spend, calls = model["weights"]
    assert tenure < 0 < spend and calls > 0, "signs of the rule that made the data"
    assert model["means"][0] == pytest.approx(sum(r[0] for r in data["train"]) / len(data["train"]))
    assert json.loads(json.dumps(model)) == model


def test_training_refuses_no_rows() -> None:
    with pytest.raises(ValueError, match="no training rows"):
        training.train_logistic([], 0.1, 10)


def test_evaluate_counts_by_hand() -> None:
    model = {"weights": [1.0], "bias": 0.0, "means": [0.0], "stds": [1.0]}
    rows = [[2.0, 1.0], [-2.0, 0.0], [1.0, 0.0], [-1.0, 1.0], [3.0, 1.0]]
    got = training.evaluate(model, rows)
    assert got["confusion"] == {"tp": 2, "fp": 1, "tn": 1, "fn": 1}
    assert got["score"] == 0.6
    assert got["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert got["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert got["n"] == 5


def test_evaluated_model_scores_well() -> None:
    data = training.make_dataset(seed=7, samples=400)
    model = training.train_logistic(data["train"], learning_rate=0.3, epochs=300)
    metrics = training.evaluate(model, data["test"])
    assert metrics["score"] == 0.89
    assert metrics["f1"] > 0.85


def test_publish_model_writes_a_checksummed_file(tmp_path: Path) -> None:
    model = {"weights": [0.5], "bias": 0.1, "means": [0.0], "stds": [1.0]}
    first = training.publish_model(model, {"score": 0.9}, str(tmp_path / "m"), "r1", "ana")
    path = publish.path_of(first["uri"])
    assert first["uri"].startswith("file://") and path == tmp_path / "m" / "churn-r1.json"
    data = path.read_bytes()
    assert first["sha256"] == hashlib.sha256(data).hexdigest()
    assert first["bytes"] == len(data)
    card = json.loads(data)
    assert card["approved_by"] == "ana" and card["run_id"] == "r1"
    assert card["kind"] == publish.MODEL_KIND
    again = training.publish_model(model, {"score": 0.9}, str(tmp_path / "m"), "r1", "ana")
    assert again == first, "same content, same checksum"
    assert not list((tmp_path / "m").glob("*.partial"))


def inputs(workdir: Path, **extra: object) -> dict[str, object]:
    return {"model_dir": str(workdir / "models"), "samples": 200, "epochs": 150, **extra}


def test_run_waits_for_approval(harness: Harness, workdir: Path) -> None:
    run = harness.run("train-model", inputs(workdir))
    assert run.status == "RUNNING"
    assert run.state("evaluate") == "completed"
    assert run.state("approve") == "waiting"
    assert run.state("publish") == "pending"


def test_approval_starts_the_cool_down(workdir: Path) -> None:
    # The engine sleeps for real: the 90 s cool-down is where the test stops (terminates).
    harness = Harness(workdir, events={"Model-Approved": [{"approved": True, "by": "ana"}]})
    run = harness.run("train-model", inputs(workdir), instance_id="train-42")
    assert run.status == "RUNNING"
    assert run.out("approve") == {"approved": True, "by": "ana"}
    assert run.state("cool_down") == "waiting" and run.state("publish") == "pending"
    assert "sleep cool_down 90s" in run.log and "pause_before publish" not in run.log
    assert run.out("evaluate")["score"] >= 0.8
    ended = harness.terminate(run)
    assert ended.status == "TERMINATED" and ended.output is None
    assert ended.state("publish") != "completed"
    assert not (workdir / "models").exists()


def test_rejection_still_cools_down_and_publishes_nothing(workdir: Path) -> None:
    harness = Harness(workdir, events={"model-approved": [{"approved": False, "by": "bo"}]})
    run = harness.run("train-model", inputs(workdir))
    assert run.status == "RUNNING"
    assert run.out("approve") == {"approved": False, "by": "bo"}
    assert run.state("cool_down") == "waiting", "cool_down runs once approve completed"
    publish = load("train-model")["steps"]["publish"]
    context = {"steps": {"approve": {"status": "completed", "output": run.out("approve")}}}
    assert render(publish["when"], context) is False, "publish will be skipped"
    ended = harness.terminate(run)
    assert ended.status == "TERMINATED"
    assert not (workdir / "models").exists()


def test_a_weak_model_is_never_put_to_a_person(harness: Harness, workdir: Path) -> None:
    run = harness.run("train-model", inputs(workdir, threshold=0.99))
    assert run.status == "COMPLETED"
    assert [run.state(s) for s in ("approve", "cool_down", "publish")] == ["skipped"] * 3
    assert run.output["published"] is False


def test_approval_without_a_name_is_recorded_as_unknown(workdir: Path) -> None:
    harness = Harness(workdir, events={"model-approved": [{"approved": True}]})
    run = harness.run("train-model", inputs(workdir))
    assert run.out("approve") == {"approved": True}
    assert run.state("cool_down") == "waiting"
    # what publish (after the 90 s cool-down) is given as approved_by, from the real output
    publish = load("train-model")["steps"]["publish"]
    context = {"steps": {"approve": {"status": "completed", "output": run.out("approve")}}}
    assert render(publish["with"]["approved_by"], context) == "unknown"
    assert harness.terminate(run).status == "TERMINATED"
