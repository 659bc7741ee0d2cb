"""A wide ``foreach``: the cost per item at 1,000 items, 10,000 and 100,000, and memory.

Each width runs in a fresh process (so its peak RSS is its own), on a real SQLite file,
with the default engine settings and ``workers = 2``. Two shapes:

- ``plain``: one ``call`` step returns the list ``range(n)``, then a ``foreach`` over it
  calls a trivial function per item with ``{x: item}``;
- ``expressions``: the list is an input, and the ``foreach``'s ``with`` is ``{x: "${{
  item + 1 }}", n: "${{ size(inputs.big) }}"}`` (CEL expressions beside a big list: each
  used to be handed the whole list at each item, which made the foreach quadratic).

After a warm-up run of 100 items, each width runs (1,000 several times, the median kept);
the table gives the wall time from ``start()`` until COMPLETED, the wall and CPU per item,
their ratios to the 1,000-item figures, and the process's peak RSS.

Target (PASS/FAIL on the wall per item; exit status 1 when missed): the wall per item at
every width at most 1.5x the one at 1,000 items (linear). The CPU per item is printed
beside it, with the load average: on a machine shared with other work (2 cores, other
jobs running) the walls also measure the wait for a core, and the CPU ratio says whether
wfkit itself did more work per item.

    python benchmarks/foreach.py [--widths 1000,10000,100000] [--shapes plain,expressions]
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


def one(x=None, n=None):
    return x
"""
PLAIN = f"""wfkit: 1
name: plain
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
EXPRESSIONS = f"""wfkit: 1
name: expressions
inputs:
  big: {{type: array}}
steps:
  each:
    call: {MODULE}:one
    foreach: ${{{{ inputs.big }}}}
    with: {{x: "${{{{ item + 1 }}}}", n: "${{{{ size(inputs.big) }}}}"}}
"""
SHAPES = {"plain": PLAIN, "expressions": EXPRESSIONS}


def _input(shape: str, width: int) -> dict[str, object]:
    return {"n": width} if shape == "plain" else {"big": list(range(width))}


def child(shape: str, width: int, runs: int) -> None:
    """Run in a fresh process: warm up, then ``runs`` runs of ``width`` items; print JSON."""
    from wfkit.engine.core.status import RuntimeStatus
    from wfkit.runtime.api import Runtime
    from wfkit.runtime.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="wfkit-foreach-bench-"))
    defs = folder / "definitions"
    defs.mkdir()
    (defs / f"{MODULE}.py").write_text(STEP_CODE)
    (defs / f"{shape}.yaml").write_text(SHAPES[shape])
    walls, cpus = [], []
    with Runtime(Settings(str(defs), f"sqlite:///{folder / 'wfkit.db'}", 2)) as runtime:
        runtime.start(shape, _input(shape, 100)).wait(60)
        for _ in range(runs):
            data = _input(shape, width)
            began, cpu = time.perf_counter(), time.process_time()
            done = runtime.start(shape, data).wait(3600)
            walls.append(time.perf_counter() - began)
            cpus.append(time.process_time() - cpu)
            if done.status is not RuntimeStatus.COMPLETED:
                raise RuntimeError(f"{width} items: {done.status}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"wall": statistics.median(walls), "cpu": statistics.median(cpus),
                      "rss": peak}))  # fmt: skip


def measure(shape: str, width: int) -> dict[str, float]:
    runs = 7 if width <= 1000 else 3 if width <= 10_000 else 1
    found = subprocess.run(
        [sys.executable, __file__, "--child", str(width), "--runs", str(runs), "--shape", shape],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(found.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--widths", default="1000,10000,100000")
    parser.add_argument("--shapes", default="plain,expressions")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shape", default="plain", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.shape, args.child, args.runs)
        return 0
    widths = sorted({1000, *(int(w) for w in args.widths.split(","))})
    print(f"load average at the start: {_load()} ({os.cpu_count()} cores)")
    rows, ok = [], True
    for shape in args.shapes.split(","):
        results = {width: measure(shape, width) for width in widths}
        base_wall = results[1000]["wall"] / 1000
        base_cpu = results[1000]["cpu"] / 1000
        for width, found in results.items():
            wall, cpu = found["wall"] / width, found["cpu"] / width
            ratio = wall / base_wall
            good = ratio <= TARGET_RATIO
            ok = ok and good
            rows.append([shape, f"{width:,}", f"{found['wall']:.2f}", f"{wall * 1e6:.1f}",
                         f"{ratio:.2f}", f"{cpu * 1e6:.1f}", f"{cpu / base_cpu:.2f}",
                         f"{found['rss'] / 2**20:.0f}", f"<= {TARGET_RATIO}",
                         "PASS" if good else "FAIL"])  # fmt: skip
    headers = ["shape", "items", "wall s", "wall µs/item", "wall ratio", "CPU µs/item",
               "CPU ratio", "peak RSS MiB", "target (wall)", "verdict"]  # fmt: skip
    print(table(headers, rows))
    print(f"load average at the end: {_load()}")
    return 0 if ok else 1


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
