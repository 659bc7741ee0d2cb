"""Lifecycle appends cost the same whatever the history's length (issue 11, item 5).

For histories of 100, 1,000 and 10,000 events (events raised to one instance waiting for
another name, so they stay buffered), prints the cost of one more ``raise_event`` and of
one ``pause`` + ``resume`` pair, in µs (median of several rounds), with the ratio to the
figure at 100 events and PASS when it is at most ``--ceiling`` (1.5). Before the fix each
append replayed the whole history: 1,000 events to one instance took 4.1 s, 3,000 took
33.6 s (quadratic).

    python benchmarks/events.py [--sizes 100,1000,10000] [--calls 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from _common import table

from wfkit.errors import UnknownEventWarning
from wfkit.runtime.api import Instance, Runtime
from wfkit.runtime.settings import Settings

WAITS = "wfkit: 1\nname: waits\nsteps:\n  ok: {wait: {event: go}}\n"


def per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean µs per call of ``calls`` calls."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(results)


def measure(folder: Path, size: int, calls: int, rounds: int) -> tuple[float, float]:
    """µs per raise_event and per pause + resume pair, with ``size`` events recorded."""
    settings = Settings(
        str(folder),
        f"sqlite:///{folder / f'events-{size}.db'}",
        1,
        max_buffered_events=size + calls * rounds + 10,
    )
    with Runtime(settings, run_engine=False) as runtime:
        job: Instance = runtime.start("waits")
        for n in range(size - 1):  # the ExecutionStarted is the first event
            job.raise_event("noise", n)
        assert len(job.history()) == size
        raise_cost = per_call(lambda: job.raise_event("noise", {"n": 1}), calls, rounds)

        def pause_resume() -> None:
            job.pause()
            job.resume()

        pair_cost = per_call(pause_resume, max(calls // 2, 1), rounds)
    return raise_cost, pair_cost


def main() -> None:
    # the events sent are buffered on purpose: no wait step takes them
    warnings.simplefilter("ignore", UnknownEventWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ceiling", type=float, default=1.5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "waits.yaml").write_text(WAITS)
        figures = {size: measure(folder, size, args.calls, args.rounds) for size in sizes}
    base_raise, base_pair = figures[sizes[0]]
    rows = []
    for size, (raise_cost, pair_cost) in figures.items():
        ratios = (raise_cost / base_raise, pair_cost / base_pair)
        verdict = "PASS" if max(ratios) <= args.ceiling else "FAIL"
        rows.append(
            [f"{size:,}", f"{raise_cost:.0f}", f"{ratios[0]:.2f}", f"{pair_cost:.0f}",
             f"{ratios[1]:.2f}", verdict]
        )  # fmt: skip
    print(
        table(
            ["events in history", "raise_event µs", "ratio", "pause+resume µs", "ratio", ""],
            rows,
        )
    )


if __name__ == "__main__":
    main()
