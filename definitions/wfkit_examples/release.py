"""Steps of ``release.yaml``: build a model artifact, smoke-test it, report the outcome."""

import json
from typing import Any

from wfkit_examples import training
from wfkit_examples.publish import path_of

__all__ = ["SMOKE_CASES", "build_artifact", "notify", "smoke_test"]

#: Customers whose churn the model must get right: (tenure, spend, calls) -> churns.
SMOKE_CASES = (
    ((70.0, 25.0, 0.0), False),
    ((60.0, 40.0, 1.0), False),
    ((2.0, 110.0, 6.0), True),
    ((5.0, 90.0, 4.0), True),
)


def build_artifact(seed: int, samples: int, out_dir: str, run_id: str) -> dict[str, Any]:
    """Train a model (see ``training``) and write its file; return uri, sha256 and score."""
    data = training.make_dataset(seed, samples)
    model = training.train_logistic(data["train"], learning_rate=0.3, epochs=300)
    metrics = training.evaluate(model, data["test"])
    written = training.publish_model(model, metrics, out_dir, run_id, approved_by="release")
    return {**written, "score": metrics["score"]}


def smoke_test(entry: dict[str, Any], min_score: float) -> dict[str, Any]:
    """Load the registered model and check its score and a few known customers.

    Raises :class:`RuntimeError` listing every failed check.
    """
    card = json.loads(path_of(entry["uri"]).read_text(encoding="utf-8"))
    failures = []
    score = card["metrics"]["score"]
    if score < min_score:
        failures.append(f"accuracy {score} is below {min_score}")
    checks = []
    for features, churns in SMOKE_CASES:
        p = training.predict_proba(card["model"], list(features))
        checks.append({"features": list(features), "probability": round(p, 4), "expected": churns})
        if (p >= 0.5) != churns:
            failures.append(
                f"customer {features}: churn probability {p:.2f}, expected"
                f" {'churn' if churns else 'stay'}"
            )
    if failures:
        raise RuntimeError(f"smoke test of {entry['uri']} failed: " + "; ".join(failures))
    return {"passed": True, "score": score, "checks": checks}


def notify(status: str, name: str, instance: str, release: str, promoted: bool) -> dict[str, Any]:
    """The message posted when a release run ends, whatever its outcome."""
    outcome = status.upper()
    if outcome == "COMPLETED":
        where = "promoted to production" if promoted else "left on staging"
        text = f"{name} {release} ({instance}) completed: {where}"
    else:
        text = f"{name} {release} ({instance}) ended {outcome}: nothing was promoted"
    return {"status": outcome, "message": text, "promoted": promoted}
