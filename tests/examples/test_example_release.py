"""``publish-model.yaml`` (the child) and ``release.yaml`` (the parent): steps and runs."""

import json
from pathlib import Path
from typing import Any

import pytest
from example_harness import Harness
from wfkit_examples import publish, release, training

from wfkit.errors import InvalidInput


@pytest.fixture
def artifact(tmp_path: Path) -> dict[str, Any]:
    """A real model file, as release's build step writes it."""
    return release.build_artifact(seed=11, samples=400, out_dir=str(tmp_path / "a"), run_id="r1")


def test_path_of() -> None:
    assert publish.path_of("file:///srv/m%201.json") == Path("/srv/m 1.json")
    assert publish.path_of("rel/m.json") == Path("rel/m.json")
    with pytest.raises(ValueError, match="only file: URIs"):
        publish.path_of("https://example.org/m.json")


def test_build_artifact(artifact: dict[str, Any]) -> None:
    assert artifact["score"] == 0.86
    card = json.loads(publish.path_of(artifact["uri"]).read_text())
    assert card["metrics"]["score"] == artifact["score"]
    assert card["approved_by"] == "release"


def test_verify_artifact(artifact: dict[str, Any], tmp_path: Path) -> None:
    checked = publish.verify_artifact(artifact["uri"], artifact["sha256"])
    assert checked["sha256"] == artifact["sha256"] and checked["score"] == 0.86
    assert publish.verify_artifact(artifact["uri"])["bytes"] == artifact["bytes"]
    with pytest.raises(ValueError, match="the file changed"):
        publish.verify_artifact(artifact["uri"], "0" * 64)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "something-else"}))
    with pytest.raises(ValueError, match="kind is 'something-else'"):
        publish.verify_artifact(str(other))


def test_register_counts_versions_per_channel_and_is_idempotent(tmp_path: Path) -> None:
    reg = str(tmp_path / "registry")
    a = {"uri": "file:///a", "sha256": "a" * 64, "score": 0.9}
    b = {"uri": "file:///b", "sha256": "b" * 64, "score": 0.8}
    assert publish.register(a, "staging", reg)["version"] == 1
    assert publish.register(b, "staging", reg, notes="second")["version"] == 2
    assert publish.register(a, "staging", reg)["version"] == 1, "registered once"
    assert publish.register(b, "production", reg)["version"] == 1
    saved = json.loads((tmp_path / "registry" / "registry.json").read_text())
    assert [e["sha256"][0] for e in saved["staging"]] == ["a", "b"]
    assert saved["staging"][1]["notes"] == "second"


def test_announce() -> None:
    entry = {"version": 3, "channel": "production", "sha256": "c0ffee" * 10, "score": 0.912}
    assert publish.announce(entry, "rel-1") == {
        "message": "model v3 is on production, accuracy 91.2% (sha256 c0ffeec0ffee, run rel-1)"
    }
    no_score = publish.announce({**entry, "score": None}, "x")["message"]
    assert "accuracy" not in no_score


def test_smoke_test(artifact: dict[str, Any]) -> None:
    passed = release.smoke_test({"uri": artifact["uri"]}, min_score=0.75)
    assert passed["passed"] is True and len(passed["checks"]) == len(release.SMOKE_CASES)
    with pytest.raises(RuntimeError, match=r"accuracy 0.86 is below 0.99"):
        release.smoke_test({"uri": artifact["uri"]}, min_score=0.99)


def test_smoke_test_catches_a_model_that_predicts_backwards(tmp_path: Path) -> None:
    data = training.make_dataset(3, 200)
    model = training.train_logistic(data["train"], 0.3, 100)
    model["weights"] = [-w for w in model["weights"]]
    written = training.publish_model(model, {"score": 0.9}, str(tmp_path), "bad")
    with pytest.raises(RuntimeError, match="expected stay"):
        release.smoke_test({"uri": written["uri"]}, min_score=0.5)


@pytest.mark.parametrize(
    ("status", "promoted", "text"),
    [
        ("COMPLETED", True, "completed: promoted to production"),
        ("completed", False, "completed: left on staging"),
        ("FAILED", False, "ended FAILED: nothing was promoted"),
    ],
)
def test_notify(status: str, promoted: bool, text: str) -> None:
    got = release.notify(status, "release", "rel-1", "2024.06", promoted)
    assert got["message"] == f"release 2024.06 (rel-1) {text}"
    assert got["status"] == status.upper()


def release_inputs(workdir: Path, **extra: object) -> dict[str, object]:
    return {
        "version": "2024.06",
        "artifacts_dir": str(workdir / "artifacts"),
        "registry_dir": str(workdir / "registry"),
        **extra,
    }


def test_the_child_alone(harness: Harness, artifact: dict[str, Any], workdir: Path) -> None:
    run = harness.run(
        "publish-model",
        {"model_uri": artifact["uri"], "registry_dir": str(workdir / "reg")},
        "pub-1",
    )
    assert run.status == "COMPLETED"
    assert run.output["version"] == 1 and run.output["channel"] == "staging"
    assert run.output["message"].endswith("run pub-1)")
    with pytest.raises(InvalidInput, match="'model_uri' is required"):
        harness.run("publish-model", {})


def test_release_to_staging_only(harness: Harness, workdir: Path) -> None:
    run = harness.run("release", release_inputs(workdir, channel="staging"), "rel-s")
    assert run.status == "COMPLETED"
    assert run.state("sign_off") == "skipped" and run.state("promote") == "skipped"
    assert run.output == {"staging_version": 1, "production_version": None}
    assert run.out("notify")["message"] == "release 2024.06 (rel-s) completed: left on staging"
    assert run.out("stage")["uri"] == run.out("build")["uri"]


def test_release_waits_for_sign_off(harness: Harness, workdir: Path) -> None:
    run = harness.run("release", release_inputs(workdir))
    assert run.status == "RUNNING"
    assert run.state("smoke_test") == "completed" and run.state("sign_off") == "waiting"
    assert run.state("notify") == "pending", "finally runs only when the run ends"


def test_release_to_production(workdir: Path) -> None:
    harness = Harness(workdir, events={"release-signed-off": [{"by": "lee"}]})
    run = harness.run("release", release_inputs(workdir), "rel-p")
    assert run.status == "COMPLETED"
    assert run.log.count("child publish-model COMPLETED") == 2
    assert run.output == {"staging_version": 1, "production_version": 1}
    assert run.out("notify")["promoted"] is True
    registry = json.loads((workdir / "registry" / "registry.json").read_text())
    assert registry["production"][0]["notes"] == "release 2024.06"
    assert registry["staging"][0]["notes"] == "release 2024.06 candidate"
    assert registry["staging"][0]["sha256"] == registry["production"][0]["sha256"]


def test_a_failed_smoke_test_fails_the_release_and_finally_reports_it(
    harness: Harness, workdir: Path
) -> None:
    run = harness.run("release", release_inputs(workdir, min_score=0.99), "rel-f")
    assert run.status == "FAILED" and run.output is None
    # the engine cancels the steps that can no longer run once the release failed
    assert run.state("smoke_test") == "failed" and run.state("promote") == "canceled"
    assert run.out("notify") == {
        "status": "FAILED",
        "message": "release 2024.06 (rel-f) ended FAILED: nothing was promoted",
        "promoted": False,
    }
