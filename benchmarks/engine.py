"""The engine end to end: per-step overhead, start latency, `wfkit run`, pause, reads at scale.

Everything runs in one process on a real SQLite file store in a temporary folder (the
default engine settings, ``workers = os.cpu_count()``), with trivial ``call`` steps (a
function returning a small dict) from a module generated beside the definitions:

* W1: one chain of 200 steps, each reading the previous output (``${{ steps.sN.output }}``);
* W2: one source, 500 parallel steps reading it, one sink needing all of them;
* W3: 200 instances of a 5-step chain, started together.

For each: wall time from the first ``start()`` until every instance is COMPLETED (median
of several runs after one warm-up), the per-step overhead ``(wall - python floor) / steps``
and its ratio to two floors measured in the same run: (a) plain Python calling the same
functions in topological order, (b) raw ``sqlite3`` committing one small JSON row per step
(WAL, ``synchronous=NORMAL``). Memory is the tracemalloc peak of Python allocations made
during one extra, untimed run (SQLite's own C allocations are not traced).

Then: latency from ``runtime.start()`` to the first step's function starting; the
``wfkit run`` command as a whole process (``python -m wfkit`` and the console script) with
``-X importtime`` top offenders; pause taking effect between 20 ms steps; ``get`` and a
page of ``list_instances`` with 100,000 stored instances.

Targets (PASS/FAIL per line; exit status 1 when any is missed): per-step overhead at most
3x the SQLite floor on W1 and W3 and 1.5x on W2; start latency under 5 ms; ``wfkit run``
under 0.5 s; pause never followed by a new step; reads under 5 ms.

    python benchmarks/engine.py [--quick] [--only W1,W2,W3,latency,cli,importtime,pause,scale]
    python benchmarks/engine.py --only W1,W2,W3 --breakdown   # + where a step's time goes
    python benchmarks/engine.py --profile W1     # cProfile of one workload, per thread

Timings move with the machine's load (printed at the start and end): on a shared 2-core
machine compare the ratios and the single-thread "pure decide cost", not raw walls.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import io
import os
import pstats
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from _common import fill_instances, median, sample, sqlite_floor, table

from wfkit.engine.core.status import RuntimeStatus
from wfkit.runtime.api import Instance, Runtime
from wfkit.runtime.settings import Settings
from wfkit.store import SqliteStore

SECTIONS = ("W1", "W2", "W3", "latency", "cli", "importtime", "pause", "scale")
WORKERS = os.cpu_count() or 2
MODULE = "wfbench_steps"
STEP_CODE = '''\
"""Steps of benchmarks/engine.py: trivial functions returning a small dict."""
import time

marks = []  # time.perf_counter() at the start of each mark/nap call


def work(x=None):
    return {"n": 1, "ok": True}


def mark(x=None):
    marks.append(time.perf_counter())
    return {"n": 1, "ok": True}


def nap(x=None):
    marks.append(time.perf_counter())
    time.sleep(0.02)
    return {"n": 1, "ok": True}
'''
TARGET_RATIO = {"W1": 3.0, "W2": 1.5, "W3": 3.0}
TARGET_LATENCY_MS = 5.0
TARGET_CLI_S = 0.5
TARGET_READ_MS = 5.0


# -- definitions ----------------------------------------------------------------------------


def _chain(name: str, steps: int, function: str = "work", first: str | None = None) -> str:
    lines = ["wfkit: 1", f"name: {name}", "steps:"]
    for i in range(steps):
        fn = first if (i == 0 and first) else function
        lines += [f"  s{i}:", f"    call: {MODULE}:{fn}"]
        if i:
            lines.append(f'    with: {{x: "${{{{ steps.s{i - 1}.output }}}}"}}')
    return "\n".join(lines) + "\n"


def _fan(name: str, width: int) -> str:
    lines = ["wfkit: 1", f"name: {name}", "steps:", "  source:", f"    call: {MODULE}:work"]
    for i in range(width):
        lines += [
            f"  p{i}:",
            f"    call: {MODULE}:work",
            '    with: {x: "${{ steps.source.output }}"}',
        ]
    lines += ["  sink:", f"    call: {MODULE}:work", "    needs: [" + ", ".join(
        f"p{i}" for i in range(width)) + "]"]  # fmt: skip
    return "\n".join(lines) + "\n"


DEFINITIONS = {
    "w1-chain200": _chain("w1-chain200", 200),
    "w2-fan500": _fan("w2-fan500", 500),
    "w3-chain5": _chain("w3-chain5", 5),
    "latency-chain3": _chain("latency-chain3", 3, first="mark"),
    "cli-chain3": _chain("cli-chain3", 3),
    "pause-naps": _chain("pause-naps", 60, function="nap"),
}


def write_definitions(folder: Path) -> Path:
    defs = folder / "definitions"
    defs.mkdir()
    (defs / f"{MODULE}.py").write_text(STEP_CODE)
    for name, text in DEFINITIONS.items():
        (defs / f"{name}.yaml").write_text(text)
    return defs


def steps_module() -> ModuleType:
    """The step module the engine imported (the same object: one process)."""
    return importlib.import_module(MODULE)


# -- results --------------------------------------------------------------------------------


@dataclass
class Report:
    failed: list[str] = field(default_factory=list)

    def verdict(self, label: str, ok: bool) -> str:
        if not ok:
            self.failed.append(label)
        return "PASS" if ok else "FAIL"

    def out(self, text: str = "") -> None:
        print(text, flush=True)


def runtime(folder: Path, defs: Path, name: str, *, engine: bool = True) -> Runtime:
    store = f"sqlite:///{folder / (name + '.db')}"
    return Runtime(Settings(definitions=str(defs), store=store, workers=WORKERS), run_engine=engine)


# -- floors ---------------------------------------------------------------------------------


def python_floor(workload: str, rounds: int = 5) -> float:
    """Seconds per step of plain Python calling the workload's functions in order."""
    work = steps_module().work

    def w1() -> None:
        out = None
        for _ in range(200):
            out = work(x=out)

    def w2() -> None:
        src = work()
        outs = [work(x=src) for _ in range(500)]
        work(x=outs[-1])

    def w3() -> None:
        for _ in range(200):
            out = None
            for _ in range(5):
                out = work(x=out)

    fn, steps = {"W1": (w1, 200), "W2": (w2, 502), "W3": (w3, 1000)}[workload]
    reps = max(1, 20_000 // steps)
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        results.append((time.perf_counter() - start) / (reps * steps))
    return median(results)


# -- W1, W2, W3 -----------------------------------------------------------------------------

WORKLOADS = {  # name -> (definition, instances, steps per instance)
    "W1": ("w1-chain200", 1, 200),
    "W2": ("w2-fan500", 1, 502),
    "W3": ("w3-chain5", 200, 5),
}


def run_once(rt: Runtime, definition: str, instances: int) -> float:
    """Seconds from the first start() until every instance is COMPLETED."""
    start = time.perf_counter()
    handles = [rt.start(definition) for _ in range(instances)]
    for handle in handles:
        handle.wait(timeout=300)
    wall = time.perf_counter() - start
    bad = [h.id for h in handles if h.row().status != RuntimeStatus.COMPLETED.value]
    if bad:
        raise RuntimeError(f"{definition}: {len(bad)} instances did not complete: {bad[:3]}")
    return wall


def workload(folder: Path, defs: Path, name: str, runs: int) -> tuple[list[float], float]:
    """Wall times of ``runs`` runs (after a warm-up) and the tracemalloc peak (bytes) of
    one more run."""
    definition, instances, _ = WORKLOADS[name]
    rt = runtime(folder, defs, name)
    try:
        # warm-up: imports, plan and expression caches
        warm = run_once(rt, definition, instances)
        # short workloads get more runs (at least ~0.4 s of them, at most 25): their
        # walls move by tens of percent between runs on a shared machine
        runs = max(runs, min(25, int(0.4 / max(warm, 1e-3))))
        walls = [run_once(rt, definition, instances) for _ in range(runs)]
        tracemalloc.start()
        try:
            run_once(rt, definition, instances)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        rt.close()
    return walls, peak


def section_workloads(
    report: Report, folder: Path, defs: Path, names: list[str], runs: int, floor_db: float
) -> None:
    rows = []
    for name in names:
        definition, instances, per = WORKLOADS[name]
        steps = instances * per
        walls, peak = workload(folder, defs, name, runs)
        floor_py = python_floor(name)
        wall = median(walls)
        overhead = (wall - floor_py * steps) / steps
        ratio = overhead / floor_db
        target = TARGET_RATIO[name]
        rows.append([
            f"{name} {definition} x{instances}", steps, f"{wall * 1e3:.1f}",
            f"{min(walls) * 1e3:.0f}-{max(walls) * 1e3:.0f}", f"{overhead * 1e6:.1f}",
            f"{overhead / floor_py:,.0f}", f"{ratio:.2f}", f"<= {target}",
            f"{peak / 2**20:.1f}", report.verdict(f"{name} overhead", ratio <= target),
        ])  # fmt: skip
    report.out(
        f"Workloads (at least {runs} runs after a warm-up, more for short ones: at least "
        f"0.4 s of runs, at most 25; median; {WORKERS} workers)"
    )
    report.out(table(
        ["workload", "steps", "wall ms", "range ms", "overhead µs/step", "x python",
         "x sqlite", "target", "peak MiB", ""],
        rows,
    ))  # fmt: skip
    report.out(
        "  overhead = (wall - python floor x steps) / steps; x python / x sqlite = overhead "
        "divided by floor (a) / (b);\n  peak MiB = tracemalloc peak of Python allocations "
        "during one extra untimed run (SQLite's C heap not traced)"
    )
    report.out()


# -- start latency --------------------------------------------------------------------------


def section_latency(report: Report, folder: Path, defs: Path, starts: int) -> None:
    marks = steps_module().marks
    rt = runtime(folder, defs, "latency")
    try:
        latencies, returns = [], []
        for trial in range(starts + 3):  # 3 warm-ups
            marks.clear()
            t0 = time.perf_counter()
            handle = rt.start("latency-chain3")
            t1 = time.perf_counter()
            handle.wait(timeout=30)
            if trial >= 3:
                latencies.append(marks[0] - t0)
                returns.append(t1 - t0)
    finally:
        rt.close()
    lat = sorted(latencies)
    p90 = lat[int(len(lat) * 0.9) - 1]
    ok = median(lat) * 1e3 < TARGET_LATENCY_MS
    report.out(f"Start-to-first-step latency ({starts} starts, one after another)")
    report.out(table(
        ["measure", "median ms", "p90 ms", "max ms", "target", ""],
        [
            ["start() call -> first step function starts", f"{median(lat) * 1e3:.2f}",
             f"{p90 * 1e3:.2f}", f"{lat[-1] * 1e3:.2f}", f"< {TARGET_LATENCY_MS:.0f} ms",
             report.verdict("start latency", ok)],
            ["start() call -> start() returns", f"{median(returns) * 1e3:.2f}",
             f"{sorted(returns)[int(len(returns) * 0.9) - 1] * 1e3:.2f}",
             f"{max(returns) * 1e3:.2f}", "", ""],
        ],
    ))  # fmt: skip
    report.out()


# -- wfkit run as a process, import time ----------------------------------------------------


def _process_times(cmd: list[str], cwd: Path, runs: int) -> list[float]:
    times = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFKIT_")}
    for n in range(runs + 1):  # the first (warm-up: creates the store) is not counted
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")
        if n:
            times.append(elapsed)
    return times


def section_cli(report: Report, folder: Path, runs: int) -> None:
    defs = folder / "cli-definitions"  # only the example: the catalog parses every file
    defs.mkdir()
    (defs / f"{MODULE}.py").write_text(STEP_CODE)
    (defs / "cli-chain3.yaml").write_text(DEFINITIONS["cli-chain3"])
    db = folder / "cli.db"
    args = ["run", "cli-chain3", "--store", f"sqlite:///{db}", "--definitions", str(defs)]
    script = Path(sys.executable).parent / "wfkit"
    commands = [
        ("python -m wfkit run cli-chain3", [sys.executable, "-m", "wfkit", *args], True),
        (f"{script} run cli-chain3", [str(script), *args], True),
        ("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"], False),
        ("python -c 'import wfkit.cli.main'", [sys.executable, "-c", "import wfkit.cli.main"],
         False),
        ("python -c 'import wfkit.runtime.api'",
         [sys.executable, "-c", "import wfkit.runtime.api"], False),
    ]  # fmt: skip
    rows = []
    for label, cmd, judged in commands:
        if not Path(cmd[0]).exists():
            rows.append([label, "missing", "", "", report.verdict(label, False)])
            continue
        times = _process_times(cmd, folder, runs)
        ok = median(times) < TARGET_CLI_S
        rows.append([
            label, f"{median(times) * 1e3:.0f}", f"{min(times) * 1e3:.0f}-{max(times) * 1e3:.0f}",
            f"< {TARGET_CLI_S * 1e3:.0f}" if judged else "",
            report.verdict(label, ok) if judged else "",
        ])  # fmt: skip
    report.out(f"`wfkit run` of a 3-step chain as a whole process ({runs} runs after a warm-up)")
    report.out(table(["command", "median ms", "range ms", "target ms", ""], rows))
    report.out()


def _importtime(module: str) -> list[tuple[int, int, int, str]]:
    """``(self µs, cumulative µs, depth, name)`` in the order -X importtime prints them."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    entries = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        entries.append((int(self_us), int(cum_us), depth, name.strip()))
    return entries


def _chain_to_top(entries: list[tuple[int, int, int, str]], index: int) -> list[str]:
    """Who imported entry ``index``: the nearest later entry of smaller depth, up to the top."""
    chain, depth = [], entries[index][2]
    for _, _, d, name in entries[index + 1 :]:
        if d < depth:
            chain.append(name)
            depth = d
    return chain


def section_importtime(report: Report, runs: int = 3) -> None:
    stdlib = set(sys.stdlib_module_names)
    for module in ("wfkit.cli.main", "wfkit.runtime.api"):
        samples = [_importtime(module) for _ in range(runs)]
        entries = min(samples, key=lambda e: sum(s for s, _, _, _ in e))  # least noisy run
        total = sum(s for s, _, _, _ in entries)
        groups: dict[str, int] = {}
        first: dict[str, int] = {}
        for i, (self_us, _, _, name) in enumerate(entries):
            root = name.split(".")[0]
            key = "(stdlib)" if root in stdlib else root
            groups[key] = groups.get(key, 0) + self_us
            if key not in first and key not in ("(stdlib)", "wfkit"):
                first[key] = i
        report.out(f"python -X importtime -c 'import {module}': {total / 1e3:.0f} ms in all "
                   f"(best of {runs}); by top-level package (sum of self times):")  # fmt: skip
        rows = []
        for key, us in sorted(groups.items(), key=lambda kv: -kv[1])[:10]:
            via = ""
            if key in first:
                chain = [n for n in _chain_to_top(entries, first[key]) if n.startswith("wfkit")]
                via = " <- ".join(chain[:3])
            rows.append([key, f"{us / 1e3:.1f}", via])
        report.out(textwrap.indent(table(["package", "ms", "first imported by"], rows), "  "))
        top = sorted(entries, key=lambda e: -e[1])
        shown = [e for e in top if not e[3].startswith(("wfkit", "encodings"))][:8]
        report.out("  top single imports by cumulative time: " + ", ".join(
            f"{name} {cum / 1e3:.1f} ms" for _, cum, _, name in shown))  # fmt: skip
    report.out()


# -- pause ----------------------------------------------------------------------------------


def section_pause(report: Report, folder: Path, defs: Path, trials: int) -> None:
    rng = random.Random(7)
    rt = runtime(folder, defs, "pause")
    suspended = RuntimeStatus.SUSPENDED.value
    rows = []
    violations = late_total = unexplained = immediate = 0
    visible_after: list[float] = []
    pause_calls: list[float] = []
    try:
        rt.start("pause-naps").terminate()  # warm-up: plan cache, imports
        marks = steps_module().marks
        for _ in range(trials):
            marks.clear()
            handle = rt.start("pause-naps")
            while not marks:
                time.sleep(0.001)
            time.sleep(rng.uniform(0.0, 0.3))
            t0 = time.perf_counter()
            handle.pause()
            returned = time.perf_counter()
            pause_calls.append(returned - t0)
            first_get = rt.workflows.get(handle.id).status
            immediate += first_get == suspended
            while first_get != suspended and rt.workflows.get(handle.id).status != suspended:
                time.sleep(0.0005)
            visible_after.append(time.perf_counter() - returned)
            time.sleep(0.1)  # > one step: a step wrongly started would have started by now
            starts_after = [m for m in marks if m > returned]
            history = handle.history()
            types = [e.TYPE for e in history]
            cut = types.index("ExecutionSuspended")
            after = [t for t in types[cut + 1 :] if t == "TaskScheduled"]
            # A task scheduled before the suspension may start after pause() returned
            # (it was in flight); count those, and any start not explained by one.
            in_flight = types[:cut].count("TaskScheduled") - sum(
                1 for t in types[:cut] if t in ("TaskCompleted", "TaskFailed"))  # fmt: skip
            violations += bool(after)
            late_total += len(starts_after)
            unexplained += max(0, len(starts_after) - in_flight)
            rows.append((len(after), len(starts_after), in_flight))
            handle.terminate("benchmark")
    finally:
        rt.close()
    ok = violations == 0 and unexplained == 0
    report.out(f"Pause between 20 ms steps ({trials} trials, pause() at a random moment)")
    report.out(table(
        ["measure", "value", ""],
        [
            ["trials with a TaskScheduled after ExecutionSuspended", violations, ""],
            ["step functions started after pause() returned", late_total, ""],
            ["  of which not scheduled before the suspension", unexplained, ""],
            ["pause() call, median ms", f"{median(pause_calls) * 1e3:.2f}", ""],
            ["first get after pause() returned shows SUSPENDED", f"{immediate}/{trials}", ""],
            ["pause() returned -> SUSPENDED via get, median ms",
             f"{median(visible_after) * 1e3:.3f}", ""],
            ["  max ms", f"{max(visible_after) * 1e3:.3f}", ""],
            ["pause takes effect before the next step starts", "yes" if ok else "no",
             report.verdict("pause", ok)],
        ],
    ))  # fmt: skip
    report.out()


# -- reads at scale -------------------------------------------------------------------------


def section_scale(report: Report, folder: Path, defs: Path, instances: int, calls: int) -> None:
    path = folder / "scale.db"
    SqliteStore(path).close()  # the schema
    start = time.perf_counter()
    fill_instances(str(path), instances)
    filled = time.perf_counter() - start
    rt = Runtime(
        Settings(definitions=str(defs), store=f"sqlite:///{path}", workers=WORKERS),
        run_engine=False,
    )
    middle = f"inst-{instances // 2:07d}"
    ops = rt.workflows
    store = rt.store
    cases: list[tuple[str, Callable[[], object]]] = [
        ("store.get(id)", lambda: store.get(middle)),
        ("Workflows.get(id)", lambda: ops.get(middle)),
        ("Instance(id).status (friendly API)", lambda: Instance(rt, middle).status),
        ("list page of 50, no filter", lambda: ops.list(limit=50)),
        ("list page of 50, status FAILED", lambda: ops.list(status=["FAILED"], limit=50)),
        ("list page of 50, status RUNNING or FAILED",
         lambda: ops.list(status=["RUNNING", "FAILED"], limit=50)),
        ("list page of 50, one name", lambda: ops.list(name="workflow-3", limit=50)),
        ("list page of 50 after a middle id", lambda: ops.list(after=middle, limit=50)),
        ("list page of 50, status FAILED, after a middle id",
         lambda: ops.list(status=["FAILED"], after=middle, limit=50)),
    ]  # fmt: skip
    rows = []
    try:
        for label, fn in cases:
            fn()
            times = sorted(sample(fn, calls))
            ok = median(times) * 1e3 < TARGET_READ_MS
            p99 = times[int(len(times) * 0.99) - 1]
            rows.append([
                label, f"{median(times) * 1e3:.3f}", f"{p99 * 1e3:.3f}",
                f"< {TARGET_READ_MS:.0f}", report.verdict(label, ok),
            ])  # fmt: skip
    finally:
        rt.close()
    report.out(f"Reads with {instances:,} stored instances (filled in {filled:.1f} s; "
               f"{calls} calls each, engine not running)")  # fmt: skip
    report.out(table(["operation", "median ms", "p99 ms", "target ms", ""], rows))
    report.out()


# -- breakdown: where a step's time goes -----------------------------------------------------


def _thread_cpu(threads: list[threading.Thread]) -> float:
    """CPU seconds used so far by the live threads given (Linux: per-thread clocks)."""
    total = 0.0
    for thread in threads:
        if thread.ident is None or not thread.is_alive():
            continue
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or the thread ended
            total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return total


class _Timers:
    """Wall time spent in some functions, by name (wrappers installed on objects)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._originals: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, attribute: str, label: str) -> None:
        function = getattr(owner, attribute, None)
        if function is None:
            return
        self._originals.append((owner, attribute, function))
        seconds, calls, clock = self.seconds, self.calls, time.perf_counter

        def timed(*args: object, **kwargs: object) -> object:
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[label] = seconds.get(label, 0.0) + clock() - start
                calls[label] = calls.get(label, 0) + 1

        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def restore(self) -> None:
        for owner, attribute, function in reversed(self._originals):
            setattr(owner, attribute, function)
        self._originals.clear()


def _replayed_cpu(plan: object, history: list[object], batch: int) -> dict[str, float]:
    """Seconds per step of the engine's pure stages, replaying a finished instance's task
    results in this thread (no threads, no SQLite): the first result alone, then
    ``batch`` results per round (1 for a chain; the engine took about 25 per round on W2)."""
    from dataclasses import fields
    from functools import partial

    from wfkit.engine.core.decide import advance
    from wfkit.engine.core.history import TaskCompleted
    from wfkit.engine.core.state import replay
    from wfkit.engine.loop.records import event_rows
    from wfkit.engine.wire.summary import update_for

    completed = [e for e in history if isinstance(e, TaskCompleted)]
    best: dict[str, float] = {}
    for _ in range(5):
        state = replay("replay", history[:1])  # type: ignore[arg-type]
        spent = {"advance": 0.0, "update_for": 0.0, "event_rows": 0.0}
        rest = completed[1:]
        rounds = [[], completed[:1], *[rest[i : i + batch] for i in range(0, len(rest), batch)]]
        for events in rounds:
            # the engine hands advance() drafts of its results, which it builds numbered
            fresh = [
                partial(
                    type(e), **{f.name: getattr(e, f.name) for f in fields(e) if f.name != "seq"}
                )
                for e in events
            ]
            t0 = time.perf_counter()
            decision = advance(plan, state, fresh)  # type: ignore[arg-type]
            t1 = time.perf_counter()
            update_for(plan, state)  # type: ignore[arg-type]
            t2 = time.perf_counter()
            event_rows(decision.events)
            t3 = time.perf_counter()
            spent["advance"] += t1 - t0
            spent["update_for"] += t2 - t1
            spent["event_rows"] += t3 - t2
        if not best or sum(spent.values()) < sum(best.values()):
            best = spent
    return {k: v / len(completed) for k, v in best.items()}


def section_breakdown(
    report: Report, folder: Path, defs: Path, names: list[str], runs: int, floor_db: float
) -> None:
    """Per step: wall, CPU of each thread kind, time in the engine's stages (wrapped),
    commits per step; and the pure decide cost of a chain replayed in one thread."""
    import wfkit.engine.loop.engine as engine_module

    timers = _Timers()
    for attribute in ("advance", "update_for", "event_rows", "actions_for"):
        timers.wrap(engine_module, attribute, attribute)
    rows, replayed = [], []
    try:
        for name in names:
            definition, instances, per = WORKLOADS[name]
            steps = instances * per * runs
            rt = runtime(folder, defs, f"breakdown-{name}")
            try:
                timers.wrap(rt.store, "append_many", "store.append_many")
                timers.wrap(rt.engine, "_decide_all", "engine._decide_all")
                timers.wrap(rt.engine, "_poll", "engine._poll")
                run_once(rt, definition, instances)
                timers.reset()
                engine_thread = [rt.engine._thread] if rt.engine._thread else []
                workers = [w.thread for w in list(rt.runner._threads) if w.thread]
                main_cpu, engine_cpu = time.thread_time(), _thread_cpu(engine_thread)
                worker_cpu = _thread_cpu(workers)
                start = time.perf_counter()
                for _ in range(runs):
                    run_once(rt, definition, instances)
                wall = time.perf_counter() - start
                main_cpu = time.thread_time() - main_cpu
                engine_cpu = _thread_cpu(engine_thread) - engine_cpu
                worker_cpu = _thread_cpu(workers) - worker_cpu
                sec, calls = dict(timers.seconds), dict(timers.calls)
                handle = rt.start(definition)
                handle.wait(timeout=60)
                plan = rt.engine.plan_for(handle.row().definition_hash)
                batch = 25 if name == "W2" else 1
                replayed.append((name, _replayed_cpu(plan, handle.history(), batch)))
            finally:
                rt.close()
            decide_all = sec.get("engine._decide_all", 0.0)
            stages = ("advance", "update_for", "event_rows", "actions_for", "store.append_many")
            inner = sum(sec.get(k, 0.0) for k in stages)

            def us(value: float, n: int = steps) -> str:
                return f"{value / n * 1e6:.0f}"

            rows.append([
                name, us(wall), us(engine_cpu), us(worker_cpu), us(main_cpu),
                us(sec.get("advance", 0.0)), us(sec.get("update_for", 0.0)),
                us(sec.get("event_rows", 0.0)), us(sec.get("actions_for", 0.0)),
                us(sec.get("store.append_many", 0.0)), us(decide_all - inner),
                f"{calls.get('store.append_many', 0) / steps:.2f}",
            ])  # fmt: skip
    finally:
        timers.restore()
    report.out(f"Breakdown, µs per step ({runs} runs; the engine's functions wrapped with timers)")
    report.out(table(
        ["workload", "wall", "engine CPU", "workers CPU", "main CPU", "advance", "update_for",
         "event_rows", "actions_for", "append_many", "rest of round", "commits/step"],
        rows,
    ))  # fmt: skip
    report.out(
        "  CPU columns: thread CPU time (time.pthread_getcpuclockid): the engine's loop thread,"
        " the step threads\n  (which run the steps and, most of the time, decide and commit),"
        " the starting thread; the stage\n  columns are wall time inside each function,"
        " on whichever thread (GIL waits included)"
    )
    if replayed:
        report.out("Pure decide cost, one instance's task results replayed in one thread "
                   "(chains: 1 per round, W2: 25 per round; µs per step, best of 5):")  # fmt: skip
        report.out(textwrap.indent(table(
            ["workload", "advance", "update_for", "event_rows", "sum", "x sqlite floor"],
            [[n, f"{c['advance'] * 1e6:.1f}", f"{c['update_for'] * 1e6:.1f}",
              f"{c['event_rows'] * 1e6:.1f}", f"{sum(c.values()) * 1e6:.1f}",
              f"{sum(c.values()) / floor_db:.2f}"] for n, c in replayed],
        ), "  "))  # fmt: skip
    report.out()


# -- profiling ------------------------------------------------------------------------------


def profile_workload(folder: Path, defs: Path, name: str, runs: int, top: int) -> None:
    """cProfile every thread (main, engine, step workers) over a warm-up and ``runs`` runs
    of one workload; print the top functions of each kind of thread."""
    profiles: list[tuple[str, cProfile.Profile]] = []
    guard = threading.Lock()

    def bootstrap(frame: object, event: str, arg: object) -> None:
        sys.setprofile(None)
        profiler = cProfile.Profile()
        with guard:
            profiles.append((threading.current_thread().name, profiler))
        profiler.enable()

    definition, instances, _ = WORKLOADS[name]
    main = cProfile.Profile()
    threading.setprofile(bootstrap)
    main.enable()
    try:
        rt = runtime(folder, defs, f"profile-{name}")
        try:
            walls = [run_once(rt, definition, instances) for _ in range(runs + 1)]
        finally:
            rt.close()
    finally:
        main.disable()
        threading.setprofile(None)
    print(f"profile of {name} ({runs + 1} runs, profiled walls ms: "
          f"{', '.join(f'{w * 1e3:.0f}' for w in walls)})")  # fmt: skip
    groups: dict[str, list[cProfile.Profile]] = {"main": [main]}
    for thread, profiler in profiles:
        groups.setdefault(thread, []).append(profiler)
    for thread, members in groups.items():
        stream = io.StringIO()
        stats = pstats.Stats(members[0], stream=stream)
        for other in members[1:]:
            stats.add(other)
        for key in ("tottime", "cumulative"):
            stats.sort_stats(key).print_stats(top)
        print(f"==== thread {thread} ({len(members)} threads) ====")
        print("\n".join(line for line in stream.getvalue().splitlines() if line.strip()))


# -- main -----------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help=f"comma-separated: {','.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="fewer runs and trials")
    parser.add_argument("--profile", choices=list(WORKLOADS), help="cProfile one workload")
    parser.add_argument(
        "--breakdown", action="store_true", help="also time the engine's stages per step"
    )
    parser.add_argument("--instances", type=int, default=100_000, help="for the scale section")
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    lower = {s.lower(): s for s in SECTIONS}
    unknown = [s for s in only if s.lower() not in lower]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    only = [lower[s.lower()] for s in only]
    quick = args.quick
    report = Report()
    began = time.perf_counter()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="wfkit-bench-") as tmp:
        folder = Path(tmp)
        defs = write_definitions(folder)
        sys.path.insert(0, str(defs))
        if args.profile:
            profile_workload(folder, defs, args.profile, 2 if quick else 5, 30)
            return 0
        print(f"wfkit engine benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
              f"SQLite {sqlite3.sqlite_version}, store in {tmp}; load average "
              f"{_load()}\n")  # fmt: skip
        names = [s for s in ("W1", "W2", "W3") if s in only]
        if names:
            floor_db = sqlite_floor(tmp, rows=1000 if quick else 2000)
            floors = [[f"(a) plain Python, {n}", f"{python_floor(n) * 1e6:.3f}"] for n in names]
            floors.append(["(b) sqlite3 INSERT + COMMIT per step (WAL, NORMAL)",
                           f"{floor_db * 1e6:.1f}"])  # fmt: skip
            report.out("Floors, measured in this run")
            report.out(table(["floor", "µs/step"], floors))
            report.out()
            section_workloads(report, folder, defs, names, 3 if quick else 5, floor_db)
            if args.breakdown:
                section_breakdown(report, folder, defs, names, 3 if quick else 5, floor_db)
        if "latency" in only:
            section_latency(report, folder, defs, 20 if quick else 50)
        if "cli" in only:
            section_cli(report, folder, 3 if quick else 5)
        if "importtime" in only:
            section_importtime(report, 1 if quick else 3)
        if "pause" in only:
            section_pause(report, folder, defs, 8 if quick else 20)
        if "scale" in only:
            section_scale(report, folder, defs, args.instances, 100 if quick else 500)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"process max RSS (getrusage): {rss / 1024:.0f} MiB "
          f"(+{(rss - rss_before) / 1024:.0f} MiB during the benchmark); "
          f"total time {time.perf_counter() - began:.0f} s; load average now {_load()} "
          "(other processes on this machine skew timings)")  # fmt: skip
    if report.failed:
        print(f"MISSED {len(report.failed)} target(s): {', '.join(report.failed)}")
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
