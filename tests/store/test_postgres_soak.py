"""The short version of the distributed PostgreSQL soak (tests/stress/pg_soak.py): four
worker processes, killed with SIGKILL and restarted at random, backend connections cut
with ``pg_terminate_backend``; every instance completes, each result is recorded once,
each event consumed once, and a step runs again only when the worker running it was
killed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "stress"))

from pg_soak import run


def test_workers_killed_and_connections_cut_lose_and_repeat_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    summary = run(
        postgres_url, tmp_path, instances=12, seconds=8.0, workers=4, seed=7, kill_every=1.0
    )
    assert summary.problems == []
    assert summary.kills > 0 and summary.terminated_backends > 0
    assert summary.instances == 12 and summary.reruns_unexplained == 0
