"""Steps of ``sensor-features.yaml``: features of vibration readings, one partition at a time.

The readings are synthetic and seeded (a machine's hum, its harmonics, noise and a few
spikes), generated where a partition is processed, so that a partition is one small
description (sensor, day, number of readings) wherever it runs, and the same partition
always gives the same features. Computing them is pure Python and CPU-bound (it holds the
GIL): the kind of step worth sending to a Dask worker process.
"""

import math
import random
import zlib
from typing import Any

__all__ = [
    "MAX_LAG",
    "autocorrelation_period",
    "list_partitions",
    "partition_features",
    "readings",
    "summarize",
]

#: Longest period (in readings) the autocorrelation looks for.
MAX_LAG = 48
#: Sampling rate of the synthetic sensors, readings per second.
RATE_HZ = 400


def list_partitions(sensors: list[str], days: int, samples: int) -> list[dict[str, Any]]:
    """One partition per sensor and day, in that order: what ``partition_features`` takes.

    >>> list_partitions(["pump-a"], 2, 1000)[1]
    {'sensor': 'pump-a', 'day': 2, 'samples': 1000}
    """
    if days < 1 or samples < 1:
        raise ValueError(f"days and samples must be at least 1, got {days} and {samples}")
    if len(set(sensors)) != len(sensors):
        raise ValueError(f"a sensor is listed twice: {sensors}")
    return [
        {"sensor": sensor, "day": day, "samples": samples}
        for sensor in sensors
        for day in range(1, days + 1)
    ]


def _seed(sensor: str, day: int) -> int:
    # zlib.crc32, not hash(): a str's hash() differs between processes (PYTHONHASHSEED),
    # and a partition must give the same readings on every worker.
    return zlib.crc32(f"{sensor}/{day}".encode())


def readings(sensor: str, day: int, samples: int) -> list[float]:
    """The partition's readings: the same list for the same arguments, in any process.

    Each sensor hums at its own period (between 8 and 40 readings), with a second
    harmonic and Gaussian noise. On about one sensor-day in seven a worn part knocks:
    about one reading in two thousand is a spike.
    """
    seed = _seed(sensor, day)
    rng = random.Random(seed)
    period = 8 + zlib.crc32(sensor.encode()) % 33
    amplitude = 1.0 + (seed % 100) / 100
    spikes = 0.0005 if seed % 7 == 0 else 0.0
    step = 2 * math.pi / period
    out = []
    for n in range(samples):
        value = amplitude * math.sin(step * n) + 0.3 * math.sin(2 * step * n)
        value += rng.gauss(0.0, 0.25)
        if rng.random() < spikes:
            value += rng.choice((-1, 1)) * rng.uniform(4.0, 8.0)
        out.append(value)
    return out


def autocorrelation_period(values: list[float], max_lag: int = MAX_LAG) -> int:
    """The dominant period: the shortest lag (2 to ``max_lag``) at which the centred
    series matches itself about as well as at its best lag.

    >>> autocorrelation_period([math.sin(2 * math.pi * n / 12) for n in range(600)])
    12
    """
    count = len(values)
    if count < 2 * (max_lag + 1):
        raise ValueError(f"need at least {2 * (max_lag + 1)} readings, got {count}")
    mean = sum(values) / count
    centred = [v - mean for v in values]
    scores = [
        sum(a * b for a, b in zip(centred, centred[lag:], strict=False)) / (count - lag)
        for lag in range(max_lag + 2)
    ]
    # Neighbouring readings of a slow hum match well at any short lag, and a period's
    # multiples match about as well as the period itself: take the first peak that
    # comes within 10 % of the highest one.
    peaks = [
        lag for lag in range(2, max_lag + 1) if scores[lag - 1] <= scores[lag] >= scores[lag + 1]
    ]
    if not peaks:
        return max(range(2, max_lag + 1), key=scores.__getitem__)
    best = max(scores[lag] for lag in peaks)
    return next(lag for lag in peaks if scores[lag] >= 0.9 * best)


def partition_features(partition: dict[str, Any], z_limit: float = 4.0) -> dict[str, Any]:
    """Features of one partition (``{"sensor", "day", "samples"}``), rounded to 4 places.

    ``anomalies`` counts readings more than ``z_limit`` standard deviations from the mean;
    ``period`` is the dominant period in readings and ``hum_hz`` the same as a frequency.
    """
    sensor, day = str(partition["sensor"]), int(partition["day"])
    values = readings(sensor, day, int(partition["samples"]))
    count = len(values)
    mean = sum(values) / count
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / count)
    ordered = sorted(values)
    period = autocorrelation_period(values)
    anomalies = sum(1 for v in values if std and abs(v - mean) / std > z_limit)
    return {
        "sensor": sensor,
        "day": day,
        "samples": count,
        "mean": round(mean, 4),
        "std": round(std, 4),
        "rms": round(math.sqrt(sum(v * v for v in values) / count), 4),
        "p05": round(ordered[count // 20], 4),
        "p95": round(ordered[(count * 19) // 20], 4),
        "peak_to_peak": round(ordered[-1] - ordered[0], 4),
        "period": period,
        "hum_hz": round(RATE_HZ / period, 2),
        "anomalies": anomalies,
    }


def summarize(features: list[dict[str, Any]], z_limit: float = 4.0) -> dict[str, Any]:
    """Per sensor: days seen, mean RMS, the periods found, anomalies; and the sensors to
    inspect (an anomaly on any day, or a period that changed from one day to another)."""
    if not features:
        raise ValueError("no partitions were processed")
    sensors: dict[str, dict[str, Any]] = {}
    for row in features:
        entry = sensors.setdefault(
            row["sensor"], {"days": 0, "rms": 0.0, "periods": set(), "anomalies": 0}
        )
        entry["days"] += 1
        entry["rms"] += row["rms"]
        entry["periods"].add(row["period"])
        entry["anomalies"] += row["anomalies"]
    table = {
        name: {
            "days": entry["days"],
            "mean_rms": round(entry["rms"] / entry["days"], 4),
            "periods": sorted(entry["periods"]),
            "anomalies": entry["anomalies"],
        }
        for name, entry in sorted(sensors.items())
    }
    inspect = [name for name, row in table.items() if row["anomalies"] or len(row["periods"]) > 1]
    return {
        "sensors": table,
        "inspect": inspect,
        "partitions": len(features),
        "readings": sum(row["samples"] for row in features),
        "z_limit": z_limit,
    }
