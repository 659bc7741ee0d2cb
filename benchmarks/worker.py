"""A `wfkit worker` fed by another process: how fast it drains a backlog, and its CPU use.

This process stores a backlog of instances of a 3-step chain of trivial ``call`` steps
(as ``wfkit start`` from another process would: unowned, nothing decided yet), then
starts one ``wfkit worker`` subprocess on the same SQLite file and waits, reading the
store, until every instance is COMPLETED. Printed: the wall time from the worker's start,
the drain time (from the worker's first write to its last, taken from the history), the
steps per second over the drain, and the worker's CPU seconds (user + system, from
``/proc``) beside its drain time: on a machine shared with other work, a worker whose CPU
share is well under 100 % while it lags is waiting for something (claims, wake-ups);
one near 100 % is limited by its own CPU.

Target (PASS/FAIL; exit status 1 when missed): at least 1,000 steps/s over the drain,
or the worker's CPU busy for at least 90 % of it (then the CPU is the limit: see
``--profile``, which runs the worker under cProfile and prints its top functions).

    python benchmarks/worker.py [--instances 2000] [--profile]
"""

from __future__ import annotations

import argparse
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import table

from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

MODULE = "wfworker_steps"
STEP_CODE = """
def work(x=None):
    return {"n": 1, "ok": True}
"""
CHAIN = f"""wfkit: 1
name: chain3
steps:
  s0: {{call: {MODULE}:work}}
  s1: {{call: {MODULE}:work, with: {{x: "${{{{ steps.s0.output }}}}"}}}}
  s2: {{call: {MODULE}:work, with: {{x: "${{{{ steps.s1.output }}}}"}}}}
"""
TARGET_STEPS_PER_S = 1000.0
CPU_BOUND_SHARE = 0.9
PROFILE_WRAPPER = """
import cProfile, pstats, sys, threading
from wfkit.cli.main import main
profiles = [cProfile.Profile()]
def start(*_):
    sys.setprofile(None)
    profiles.append(cProfile.Profile())
    profiles[-1].enable()
threading.setprofile(start)
profiles[0].enable()
try:
    main(sys.argv[2:])
finally:
    for profile in profiles:
        profile.disable()
    stats = pstats.Stats(*profiles)
    stats.dump_stats(sys.argv[1])
"""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _completed(db: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(
            conn.execute("SELECT count(*) FROM instances WHERE status = 'COMPLETED'").fetchone()[0]
        )
    finally:
        conn.close()


def _drain_window(db: str) -> float:
    """Seconds from the worker's first history write to its last (all rows after each
    instance's first, which the backlog's starts wrote)."""
    conn = sqlite3.connect(db)
    try:
        first, last = conn.execute(
            "SELECT min(at), max(at) FROM history WHERE (event_key & 4294967295) > 1"
        ).fetchone()
    finally:
        conn.close()
    return float(last - first)


def run(instances: int, profile: bool) -> int:
    folder = Path(tempfile.mkdtemp(prefix="wfkit-worker-bench-"))
    defs = folder / "definitions"
    defs.mkdir()
    (defs / f"{MODULE}.py").write_text(STEP_CODE)
    (defs / "chain3.yaml").write_text(CHAIN)
    db = str(folder / "wfkit.db")
    store = f"sqlite:///{db}"
    began = time.perf_counter()
    with Runtime(Settings(str(defs), store, 2), run_engine=False) as starter:
        for _ in range(instances):
            starter.start("chain3")
    print(f"backlog: {instances} instances stored in {time.perf_counter() - began:.2f} s")
    stats_file = str(folder / "worker.prof")
    worker = ["worker", "--definitions", str(defs), "--store", store, "--for", "600"]
    argv = [sys.executable, "-m", "wfkit", *worker]
    if profile:
        argv = [sys.executable, "-c", PROFILE_WRAPPER, stats_file, *worker]
    log = open(folder / "worker.log", "w")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, cwd=folder)
    try:
        while _completed(db) < instances:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited early ({proc.returncode}): see {log.name}")
            time.sleep(0.02)
        wall = time.perf_counter() - started
        cpu = _cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    drain = _drain_window(db)
    steps = 3 * instances
    rate = steps / drain
    share = cpu / drain
    ok = rate >= TARGET_STEPS_PER_S or share >= CPU_BOUND_SHARE
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average: {load} (2 cores shared with other work: judge CPU beside wall)")
    headers = ["instances", "steps", "wall s", "drain s", "steps/s", "worker CPU s",
               "CPU/drain", "target", "verdict"]  # fmt: skip
    row = [instances, steps, f"{wall:.2f}", f"{drain:.2f}", f"{rate:.0f}", f"{cpu:.2f}",
           f"{share:.0%}", f">= {TARGET_STEPS_PER_S:.0f}/s or CPU-bound",
           "PASS" if ok else "FAIL"]  # fmt: skip
    print(table(headers, [row]))
    if profile:
        pstats.Stats(stats_file).sort_stats("tottime").print_stats(25)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="run the worker under cProfile")
    args = parser.parse_args()
    return run(args.instances, args.profile)


if __name__ == "__main__":
    sys.exit(main())
