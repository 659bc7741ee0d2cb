"""Steps of ``train-model.yaml``: a tiny churn model, trained by hand.

A synthetic, seeded data set of customers (tenure, monthly spend, support calls) and a
logistic regression fitted by full-batch gradient descent on standardised features, in
pure Python. A few hundred rows train in well under a second, the same way every time.
"""

import hashlib
import json
import math
import random
from pathlib import Path
from typing import Any

__all__ = [
    "FEATURES",
    "evaluate",
    "make_dataset",
    "predict_proba",
    "publish_model",
    "sigmoid",
    "train_logistic",
]

#: Feature names, in the order of each row (the label comes last).
FEATURES = ("tenure_months", "monthly_spend", "support_calls")


def sigmoid(z: float) -> float:
    """The logistic function, safe for large ``|z|``.

    >>> sigmoid(0.0)
    0.5
    >>> round(sigmoid(2.0), 4)
    0.8808
    >>> sigmoid(-1000.0)
    0.0
    """
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z) if z > -700 else 0.0
    return e / (1.0 + e)


def make_dataset(seed: int, samples: int, test_fraction: float = 0.25) -> dict[str, Any]:
    """A seeded synthetic churn data set, split into ``train`` and ``test`` rows.

    Each row is ``[tenure_months, monthly_spend, support_calls, churned]`` with
    ``churned`` 0 or 1. Customers with short tenure, high spend and many support calls
    churn more often; a little noise keeps the classes overlapping.
    """
    if samples < 10:
        raise ValueError(f"samples must be at least 10, got {samples}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    rng = random.Random(seed)
    rows: list[list[float]] = []
    for _ in range(samples):
        tenure = float(rng.randint(1, 72))
        spend = round(rng.uniform(20.0, 120.0), 2)
        calls = float(min(10, int(rng.expovariate(0.5))))
        z = 0.8 - 0.07 * tenure + 0.025 * spend + 0.5 * calls + rng.gauss(0.0, 0.6)
        rows.append([tenure, spend, calls, 1.0 if z > 0 else 0.0])
    cut = samples - max(1, round(samples * test_fraction))
    return {
        "features": list(FEATURES),
        "train": rows[:cut],
        "test": rows[cut:],
        "positives": int(sum(r[-1] for r in rows)),
    }


def _standardise(
    rows: list[list[float]], means: list[float], stds: list[float]
) -> list[list[float]]:
    return [[(x - m) / s for x, m, s in zip(r[:-1], means, stds, strict=True)] for r in rows]


def predict_proba(model: dict[str, Any], features: list[float]) -> float:
    """The model's churn probability for one row of raw features."""
    z = model["bias"]
    for x, w, m, s in zip(features, model["weights"], model["means"], model["stds"], strict=True):
        z += w * (x - m) / s
    return sigmoid(z)


def train_logistic(
    rows: list[list[float]], learning_rate: float, epochs: int, l2: float = 0.0
) -> dict[str, Any]:
    """Fit a logistic regression by full-batch gradient descent.

    Features are standardised with the training rows' means and standard deviations,
    which the model keeps so that :func:`predict_proba` takes raw values.
    """
    if not rows:
        raise ValueError("no training rows")
    n, width = len(rows), len(rows[0]) - 1
    means = [sum(r[j] for r in rows) / n for j in range(width)]
    stds = [math.sqrt(sum((r[j] - means[j]) ** 2 for r in rows) / n) or 1.0 for j in range(width)]
    xs = _standardise(rows, means, stds)
    ys = [r[-1] for r in rows]
    weights, bias, loss = [0.0] * width, 0.0, 0.0
    for _ in range(epochs):
        grad_w, grad_b, loss = [0.0] * width, 0.0, 0.0
        for x, y in zip(xs, ys, strict=True):
            p = sigmoid(bias + sum(w * v for w, v in zip(weights, x, strict=True)))
            err = p - y
            grad_b += err
            for j in range(width):
                grad_w[j] += err * x[j]
            loss -= y * math.log(max(p, 1e-12)) + (1 - y) * math.log(max(1 - p, 1e-12))
        weights = [
            w - learning_rate * (g / n + l2 * w) for w, g in zip(weights, grad_w, strict=True)
        ]
        bias -= learning_rate * grad_b / n
    return {
        "features": list(FEATURES[:width]),
        "weights": weights,
        "bias": bias,
        "means": means,
        "stds": stds,
        "loss": loss / n,
        "epochs": epochs,
        "learning_rate": learning_rate,
    }


def evaluate(model: dict[str, Any], rows: list[list[float]], cutoff: float = 0.5) -> dict[str, Any]:
    """Accuracy (as ``score``), precision, recall and F1 of ``model`` on held-out rows."""
    if not rows:
        raise ValueError("no evaluation rows")
    tp = fp = tn = fn = 0
    for row in rows:
        predicted = predict_proba(model, row[:-1]) >= cutoff
        actual = row[-1] >= 0.5
        tp += predicted and actual
        fp += predicted and not actual
        tn += not predicted and not actual
        fn += not predicted and actual
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "score": round((tp + tn) / len(rows), 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "n": len(rows),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


def publish_model(
    model: dict[str, Any],
    metrics: dict[str, Any],
    model_dir: str,
    run_id: str,
    approved_by: str = "",
) -> dict[str, Any]:
    """Write the model and its metrics as one JSON file; return its URI and checksum.

    The file is ``<model_dir>/churn-<run_id>.json``, written atomically (a temporary file,
    then a rename), with sorted keys so the checksum depends only on the content.
    """
    folder = Path(model_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    card = {
        "kind": "wfkit-example/logistic-regression",
        "model": model,
        "metrics": metrics,
        "run_id": run_id,
        "approved_by": approved_by,
    }
    data = json.dumps(card, sort_keys=True, indent=1).encode()
    target = folder / f"churn-{run_id}.json"
    partial = target.with_suffix(".json.partial")
    partial.write_bytes(data)
    partial.replace(target)
    return {"uri": target.as_uri(), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
