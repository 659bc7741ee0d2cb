"""A wide ``foreach``: the cost per item at 1,000 items and at 100,000, and memory.

Each width runs in a fresh process (so its peak RSS is its own), on a real SQLite file,
with the default engine settings and ``workers = 2``: one ``call`` step returns the list
``range(n)``, then a ``foreach`` over it calls a trivial function per item. After a
warm-up run of 100 items, each width runs (1,000 several times, the median kept); the
table gives the wall time from ``start()`` until COMPLETED, the wall and CPU per item,
the ratio of the per-item wall to the 1,000 figure, and the process's peak RSS.

Target (PASS/FAIL; exit status 1 when missed): the per-item cost at every width at most
1.5x the per-item cost at 1,000 items (linear). The verdict is on the CPU time of the
process per item: on a machine shared with other work (2 cores, other jobs running) the
walls mostly measure the wait for a core, so both ratios are printed.

    python benchmarks/foreach.py [--widths 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import table

TARGET_RATIO = 1.5
MODULE = "wfforeach_steps"
STEP_CODE = """
def many(n=0):
    return list(range(n))


def one(x=None):
    return x
"""
DEFINITION = f"""wfkit: 1
name: fan
inputs:
  n: {{type: integer}}
steps:
  make:
    call: {MODULE}:many
    with: {{n: "${{{{ inputs.n }}}}"}}
  each:
    call: {MODULE}:one
    foreach: ${{{{ steps.make.output }}}}
    with: {{x: "${{{{ item }}}}"}}
"""


def child(width: int, runs: int) -> None:
    """Run in a fresh process: warm up, then ``runs`` runs of ``width`` items; print JSON."""
    from wfkit.engine.status import RuntimeStatus
    from wfkit.runtime.api import Runtime
    from wfkit.runtime.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="wfkit-foreach-bench-"))
    defs = folder / "definitions"
    defs.mkdir()
    (defs / f"{MODULE}.py").write_text(STEP_CODE)
    (defs / "fan.yaml").write_text(DEFINITION)
    walls, cpus = [], []
    with Runtime(Settings(str(defs), f"sqlite:///{folder / 'wfkit.db'}", 2)) as runtime:
        runtime.start("fan", {"n": 100}).wait(60)
        for _ in range(runs):
            began, cpu = time.perf_counter(), time.process_time()
            done = runtime.start("fan", {"n": width}).wait(3600)
            walls.append(time.perf_counter() - began)
            cpus.append(time.process_time() - cpu)
            if done.status is not RuntimeStatus.COMPLETED:
                raise RuntimeError(f"{width} items: {done.status}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"wall": statistics.median(walls), "cpu": statistics.median(cpus),
                      "rss": peak}))  # fmt: skip


def measure(width: int) -> dict[str, float]:
    runs = 7 if width <= 1000 else 3 if width <= 10_000 else 1
    found = subprocess.run(
        [sys.executable, __file__, "--child", str(width), "--runs", str(runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(found.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--widths", default="1000,10000,100000")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs)
        return 0
    widths = sorted({1000, *(int(w) for w in args.widths.split(","))})
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the start: {load}")
    results = {width: measure(width) for width in widths}
    base_wall = results[1000]["wall"] / 1000
    base_cpu = results[1000]["cpu"] / 1000
    rows, ok = [], True
    for width, found in results.items():
        wall, cpu = found["wall"] / width, found["cpu"] / width
        ratio = cpu / base_cpu
        good = ratio <= TARGET_RATIO
        ok = ok and good
        rows.append([f"{width:,}", f"{found['wall']:.2f}", f"{wall * 1e6:.1f}",
                     f"{wall / base_wall:.2f}", f"{cpu * 1e6:.1f}", f"{ratio:.2f}",
                     f"{found['rss'] / 2**20:.0f}", f"<= {TARGET_RATIO}",
                     "PASS" if good else "FAIL"])  # fmt: skip
    headers = ["items", "wall s", "wall µs/item", "wall ratio", "CPU µs/item",
               "CPU ratio", "peak RSS MiB", "target", "verdict"]  # fmt: skip
    print(table(headers, rows))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
