"""Steps on a Dask cluster: where the `dask` runner pays, and what wfkit adds per remote step.

One ``dask.distributed.LocalCluster`` of 2 worker processes (1 thread each, on 127.0.0.1,
no dashboard) is started once and serves every measurement; the engines run in this
process on SQLite files in a temporary folder, with the default ``workers`` (the CPU
count). The step functions live in a module generated beside the definitions, which the
Dask workers import too (the folder is put on their ``sys.path`` before anything runs).

(a) Heavy steps: ``--heavy`` (200) independent ``call`` steps (one ``foreach``), each a
    pure-Python loop that holds the GIL for about 50 ms (its length is calibrated in this
    process first). Timed from ``start()`` to COMPLETED, median of ``--runs`` runs after a
    warm-up: the ``local`` runner (threads of this process) against the ``dask`` runner
    (``runner: dask`` on the step, the cluster's ``Client`` handed to the runtime).
    Floors of the same run: the same calls in a plain Python loop (what threads can reach
    while the GIL is held), and a bare Dask fan-out of them (``client.submit`` for each,
    then ``client.gather``: what the cluster can reach).
    Target: the dask runner at least 1.7x faster than local threads.
(b) wfkit's overhead per remote step, trivial steps (a function returning a small dict):
    a chain of ``--chain`` (100) steps, each reading the previous output, against a bare
    chain of ``client.submit(f, x).result()``; and one ``foreach`` of ``--fan`` (500)
    items against a bare fan-out (submit them all, gather). Per-step wall time of each;
    target: wfkit's at most 1.2x the bare one, for each.

Then why, for (b): for the chain, where a remote step's time goes, from timestamps (one
clock: the cluster is on this machine): wfkit's ``TaskScheduled`` commit, the function's
start and end on the worker, the ``TaskCompleted`` commit, the next ``TaskScheduled``,
beside the same parts of the bare chain; for the fan-out, bare variants that move
results as the runner does (a window of tasks in flight, each result fetched alone),
with the CPU of Dask's event loop per item (with a ``LocalCluster`` it also runs the
scheduler), which holds on a loaded machine where walls do not. For (a), the CPU the
processes doing the work got per wall second says whether the machine's load, rather
than wfkit, set the speed-up. ``--profile`` adds a cProfile of a fresh engine's first chain runs
(its threads and the dask runner's).

Targets print PASS/FAIL (exit status 1 when one is missed). Timings move with the
machine's load (printed): compare the ratios, measured in the same run.

    python benchmarks/dask_steps.py [--quick] [--runs 3] [--heavy 200] [--chain 100]
                                    [--fan 500] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from _common import median, table

from wfkit.engine.core.history import TaskCompleted, TaskScheduled
from wfkit.engine.core.status import RuntimeStatus
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

MODULE = "wfdask_steps"
STEP_CODE = '''\
"""Steps of benchmarks/dask_steps.py."""
import time


def spin(n=0, index=0):
    """A pure-Python loop of n rounds: holds the GIL the whole time."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return {"index": index, "total": total}


def work(x=None):
    """A trivial step, and when it ran (this process's clock: the cluster is local)."""
    started = time.time()
    return {"n": 1, "ok": True, "t": [started, time.time()]}
'''
HEAVY_MS = 50.0
TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD = 1.2
WORKERS = os.cpu_count() or 2
DASK_WORKERS = 2


def definitions(folder: Path, chain: int) -> Path:
    """The step module and the benchmark's definitions, in ``folder/definitions``."""
    defs = folder / "definitions"
    defs.mkdir()
    (defs / f"{MODULE}.py").write_text(STEP_CODE)
    for runner in ("local", "dask"):
        (defs / f"heavy-{runner}.yaml").write_text(
            f"wfkit: 1\nname: heavy-{runner}\n"
            "inputs:\n  items: {type: array}\n  n: {type: integer}\nsteps:\n"
            f"  spin:\n    call: {MODULE}:spin\n    runner: {runner}\n"
            "    foreach: ${{ inputs.items }}\n"
            '    with: {n: "${{ inputs.n }}", index: "${{ index }}"}\n'
        )
    lines = ["wfkit: 1", "name: chain", "runner: dask", "steps:"]
    for i in range(chain):
        lines += [f"  s{i}:", f"    call: {MODULE}:work"]
        if i:
            lines.append(f'    with: {{x: "${{{{ steps.s{i - 1}.output.n }}}}"}}')
    (defs / "chain.yaml").write_text("\n".join(lines) + "\n")
    (defs / "fan.yaml").write_text(
        "wfkit: 1\nname: fan\nrunner: dask\ninputs:\n  items: {type: array}\nsteps:\n"
        f"  p:\n    call: {MODULE}:work\n    foreach: ${{{{ inputs.items }}}}\n"
        '    with: {x: "${{ item }}"}\n'
    )
    return defs


def calibrate(spin: Any, target_ms: float) -> int:
    """Rounds of ``spin`` that take about ``target_ms`` in this process (idle GIL)."""
    rounds = 100_000
    while True:
        start = time.perf_counter()
        spin(rounds)
        took = time.perf_counter() - start
        if took > 0.02:
            break
        rounds *= 4
    rounds = int(rounds * target_ms / 1e3 / took)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        spin(rounds)
        times.append(time.perf_counter() - start)
    return int(rounds * target_ms / 1e3 / statistics.median(times))


# -- runs -----------------------------------------------------------------------------------


def timed_run(rt: Runtime, name: str, **inputs: Any) -> tuple[float, str]:
    """Seconds from ``start()`` until the instance is COMPLETED, and its id."""
    start = time.perf_counter()
    handle = rt.start(name, **inputs)
    handle.wait(timeout=600)
    wall = time.perf_counter() - start
    status = handle.row().status
    if status != RuntimeStatus.COMPLETED.value:
        raise RuntimeError(f"{name}: the run ended {status}, see instance {handle.id}")
    return wall, handle.id


def walls(rt: Runtime, name: str, runs: int, **inputs: Any) -> list[float]:
    """Wall times of ``runs`` runs after one warm-up run."""
    timed_run(rt, name, **inputs)
    return [timed_run(rt, name, **inputs)[0] for _ in range(runs)]


def bare_chain(
    client: Any, work: Any, steps: int, parts: dict[str, list[float]] | None = None
) -> float:
    """Seconds per step of ``steps`` chained ``client.submit(work, x).result()``; with
    ``parts``, the time from submit to the function's start, of the function, and from
    its end to ``result()`` returning are appended to it (keys as in :data:`PARTS`)."""
    x: Any = None
    start = time.perf_counter()
    for _ in range(steps):
        sent = time.time()
        out = client.submit(work, x, pure=False).result()
        got = time.time()
        x = out["n"]
        if parts is not None:
            began, ended = out["t"]
            parts[PARTS[0]].append(began - sent)
            parts[PARTS[1]].append(ended - began)
            parts[PARTS[2]].append(got - ended)
            parts[PARTS[3]].append(0.0)
    return (time.perf_counter() - start) / steps


PARTS = (
    "sent -> function starts on the worker",
    "function runs",
    "function returns -> result recorded",
    "result recorded -> next step sent",
)
"""Parts of a chained remote step: wfkit's are from its history (sent: the
``TaskScheduled`` commit; recorded: the ``TaskCompleted`` commit) and the function's own
clock; the bare chain's from the clock around ``submit`` and ``result()``."""


def bare_fan(client: Any, fn: Any, args: list[tuple[Any, ...]]) -> float:
    """Seconds for all of ``fn(*a)`` submitted at once, then gathered."""
    start = time.perf_counter()
    futures = [client.submit(fn, *a, pure=False) for a in args]
    client.gather(futures)
    return time.perf_counter() - start


def python_loop(spin: Any, rounds: int, count: int) -> float:
    start = time.perf_counter()
    for index in range(count):
        spin(rounds, index)
    return time.perf_counter() - start


# -- the sections ---------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def verdict(self, label: str, ok: bool) -> str:
        if not ok:
            self.failed.append(label)
        return "PASS" if ok else "FAIL"


def worker_cpu(client: Any) -> float:
    """CPU seconds used so far by the Dask worker processes, together."""
    return sum(client.run(time.process_time).values())


def measured(fn: Any, cpu: Any) -> tuple[float, float]:
    """Wall seconds of ``fn()`` and the CPU seconds ``cpu()`` grew by meanwhile."""
    before, start = cpu(), time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    return wall, cpu() - before


def section_heavy(
    report: Report, defs: Path, folder: Path, client: Any, step: Any, rounds: int, count: int,
    runs: int,
) -> None:  # fmt: skip
    items = list(range(count))
    spins = [(rounds, i) for i in items]
    inputs = {"items": items, "n": rounds}
    local = runtime(folder, defs, "heavy-local")
    remote = runtime(folder, defs, "heavy-dask", client=client)
    on_workers = partial(worker_cpu, client)
    # One of each after warm-ups, in turn, so that the machine's load weighs on all alike.
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in HEAVY_LINES}
    try:
        bare_fan(client, step.spin, spins[: 2 * DASK_WORKERS])  # imports on the workers
        timed_run(local, "heavy-local", **inputs)
        timed_run(remote, "heavy-dask", **inputs)
        for _ in range(runs):
            for key, fn, cpu in (
                ("loop", partial(python_loop, step.spin, rounds, count), time.process_time),
                ("fan", partial(bare_fan, client, step.spin, spins), on_workers),
                ("local", partial(timed_run, local, "heavy-local", **inputs), time.process_time),
                ("dask", partial(timed_run, remote, "heavy-dask", **inputs), on_workers),
            ):
                samples[key].append(measured(fn, cpu))
    finally:
        local.close()
        remote.close()
    wall = {k: median([w for w, _ in v]) for k, v in samples.items()}
    speedup = wall["local"] / wall["dask"]
    rows = []
    for key, label in HEAVY_LINES.items():
        walls_ = [w for w, _ in samples[key]]
        share = median([c / w for w, c in samples[key]])
        ok = key != "dask" or speedup >= TARGET_SPEEDUP
        rows.append([
            label, f"{wall[key]:.2f}", f"{min(walls_):.2f}-{max(walls_):.2f}",
            f"{wall[key] / count * 1e3:.1f}", f"{share:.2f}", f"{wall['local'] / wall[key]:.2f}",
            f">= {TARGET_SPEEDUP}" if key == "dask" else "",
            report.verdict("heavy speed-up", ok) if key == "dask" else "",
        ])  # fmt: skip
    print(f"(a) {count} independent CPU-bound call steps of about {HEAVY_MS:.0f} ms ({rounds:,} "
          f"rounds of a Python loop); median of {runs} runs, in turn, after warm-ups")  # fmt: skip
    print(table(
        ["how", "wall s", "range s", "ms/step", "CPU/wall", "speed-up", "target", ""], rows
    ))  # fmt: skip
    print(f"  speed-up: wfkit local's wall / the line's. CPU/wall: CPU seconds of the processes "
          f"doing the work (this one, or the\n  Dask workers together) per wall second: at most "
          f"1 with the GIL, {DASK_WORKERS} for {DASK_WORKERS} workers on an idle machine. "
          f"wfkit dask / bare fan-out: {wall['dask'] / wall['fan']:.2f}")  # fmt: skip
    print()


HEAVY_LINES = {
    "loop": "python loop, one thread (floor of threads)",
    "fan": f"bare Dask fan-out, {DASK_WORKERS} worker processes (floor of Dask)",
    "local": f"wfkit, runner local ({WORKERS} threads)",
    "dask": f"wfkit, runner dask ({DASK_WORKERS} worker processes)",
}


def runtime(
    folder: Path, defs: Path, name: str, *, client: Any = None, runner: str = "local"
) -> Runtime:
    """An engine on its own store in ``folder``; ``runner`` is the engine's own runner
    (steps that say ``runner: dask`` go to Dask whatever it is)."""
    settings = Settings(
        definitions=str(defs), store=f"sqlite:///{folder / (name + '.db')}", workers=WORKERS,
        runner=runner,
    )  # fmt: skip
    return Runtime(settings, dask_client=client)


def section_overhead(
    report: Report, defs: Path, folder: Path, client: Any, step: Any, chain: int, fan: int,
    runs: int, profile: bool,
) -> None:  # fmt: skip
    items = list(range(fan))
    args = [(i,) for i in items]
    bare_parts: dict[str, list[float]] = {k: [] for k in PARTS}
    bare_chains, alone, chain_walls, bare_fans, fan_walls, fan_dask = [], [], [], [], [], []
    cpu: dict[str, list[float]] = {k: [] for k in ("bare chain", "chain", "bare fan", "fan")}
    cpu["fan dask"] = []
    clock = time.process_time
    rt = runtime(folder, defs, "overhead", client=client)
    rt_dask = runtime(folder, defs, "overhead-dask", client=client, runner="dask")
    try:
        timed_run(rt_dask, "fan", items=items[:20])
        bare_chain(client, step.work, 5)  # warm-ups
        runner_chain(client, defs, 5)
        timed_run(rt, "chain")
        bare_fan(client, step.work, args[:20])
        timed_run(rt, "fan", items=items[:20])
        chained = partial(bare_chain, client, step.work, chain, bare_parts)
        for _ in range(runs):  # in turn, so that the machine's load weighs on all alike
            for walls_, key, fn in (
                (bare_chains, "bare chain", chained),
                (alone, "", partial(runner_chain, client, defs, chain)),
                (chain_walls, "chain", partial(timed_run, rt, "chain")),
                (bare_fans, "bare fan", partial(bare_fan, client, step.work, args)),
                (fan_walls, "fan", partial(timed_run, rt, "fan", items=items)),
                (fan_dask, "fan dask", partial(timed_run, rt_dask, "fan", items=items)),
            ):  # fmt: skip
                wall, used = measured(fn, clock)
                walls_.append(wall)
                if key:
                    cpu[key].append(used)
        _, last_chain = timed_run(rt, "chain")
        history = rt.instance(last_chain).history()
    finally:
        rt.close()
        rt_dask.close()
    rows = []
    for label, key, wfkit_walls, bare, steps in (
        (f"chain of {chain}", "chain", chain_walls, bare_chains, chain),
        (f"fan-out of {fan}", "fan", fan_walls, bare_fans, fan),
        (f"fan-out of {fan}, engine runner dask", "fan dask", fan_dask, bare_fans, fan),
    ):
        ours, floor = median(wfkit_walls) / steps, median(bare) / steps
        ratio = ours / floor
        rows.append([
            label, f"{floor * 1e3:.2f}", f"{ours * 1e3:.2f}",
            f"{min(wfkit_walls) / steps * 1e3:.2f}-{max(wfkit_walls) / steps * 1e3:.2f}",
            f"{(ours - floor) * 1e3:+.2f}", f"{ratio:.2f}", f"<= {TARGET_OVERHEAD}",
            report.verdict(f"{label} overhead", ratio <= TARGET_OVERHEAD),
            f"{median(cpu['bare ' + key.split()[0]]) / steps * 1e3:.2f}",
            f"{median(cpu[key]) / steps * 1e3:.2f}",
        ])  # fmt: skip
    print(f"(b) wfkit's overhead per remote step, trivial steps (median of {runs} runs, a "
          f"warm-up; bare: the same function by client.submit; workers {WORKERS})")  # fmt: skip
    print(table(
        ["workload", "bare ms/step", "wfkit ms/step", "wfkit range", "added ms", "x bare",
         "target", "", "bare CPU", "wfkit CPU"],
        rows,
    ))  # fmt: skip
    print("  the engine's own runner is local (steps say runner: dask), as in the tutorial, "
          "unless the line says dask (the runner setting)")  # fmt: skip
    print("  CPU: ms per step of this process's CPU (with a LocalCluster it runs the scheduler "
          "too); wfkit CPU - bare CPU is\n  wfkit's own work per remote step, which a loaded "
          "machine does not inflate as it does walls")  # fmt: skip
    print()
    chain_breakdown(history, bare_parts)
    print(f"  the same chain through the dask runner alone (its done callback submits the "
          f"next task; no engine, no store): {median(alone) / chain * 1e3:.2f} ms/step, "
          f"against bare {median(bare_chains) / chain * 1e3:.2f} and wfkit "
          f"{median(chain_walls) / chain * 1e3:.2f}")  # fmt: skip
    print()
    fan_why(defs, folder, client, step, fan, runs)
    if profile:
        profile_chain(folder, defs, client)


def runner_chain(client: Any, defs: Path, steps: int) -> float:
    """Seconds for ``steps`` chained tasks through a :class:`DaskRunner` alone: its
    ``done`` callback submits the next task (what the engine does, without deciding or
    storing anything)."""
    from wfkit.engine.protocols import TaskSpec
    from wfkit.steps.dask_runner import DaskRunner

    runner = DaskRunner(workers=WORKERS, client=client)
    finished = threading.Event()

    def task(n: int) -> TaskSpec:
        return TaskSpec(
            instance_id="alone", step=f"s{n}", kind="call", target=f"{MODULE}:work",
            input={"x": 1}, workdir=os.getcwd(), definitions_dir=str(defs), check_code=False,
            runner="dask",
        )  # fmt: skip

    def done(spec: TaskSpec, outcome: Any) -> None:
        n = int(spec.step[1:]) + 1
        if n < steps:
            runner.submit(task(n), done)
        else:
            finished.set()

    start = time.perf_counter()
    try:
        runner.submit(task(0), done)
        if not finished.wait(300):
            raise RuntimeError("the dask runner's chain did not finish in 300 s")
        return time.perf_counter() - start
    finally:
        runner.close()


def chain_breakdown(history: list[Any], bare: dict[str, list[float]]) -> None:
    """Where a chained remote step's time goes, from the history and the steps' own clocks."""
    scheduled = {e.step: e.at for e in history if isinstance(e, TaskScheduled)}
    completed = {e.step: e for e in history if isinstance(e, TaskCompleted)}
    ours: dict[str, list[float]] = {k: [] for k in PARTS}
    order = sorted(scheduled, key=lambda s: int(s[1:]))
    for step_id, next_id in zip(order, [*order[1:], None], strict=True):
        event = completed[step_id]
        began, ended = event.output["t"]
        ours[PARTS[0]].append(began - scheduled[step_id])
        ours[PARTS[1]].append(ended - began)
        ours[PARTS[2]].append(event.at - ended)
        if next_id is not None:
            ours[PARTS[3]].append(scheduled[next_id] - event.at)

    def ms(values: list[float]) -> str:
        return f"{median(values) * 1e3:.2f}"

    print("Where a chained remote step's time goes (medians, ms; one clock: the cluster is "
          "local; wfkit: one more chain run, bare: every bare chain run)")  # fmt: skip
    rows = [[k, ms(bare[k]), ms(ours[k]), f"{(median(ours[k]) - median(bare[k])) * 1e3:+.2f}"]
            for k in PARTS]  # fmt: skip
    rows.append(["sum", f"{sum(median(v) for v in bare.values()) * 1e3:.2f}",
                 f"{sum(median(v) for v in ours.values()) * 1e3:.2f}", ""])  # fmt: skip
    print(table(["part", "bare", "wfkit", "wfkit - bare"], rows))
    print()


def loop_cpu() -> float:
    """CPU seconds used so far by the Dask client's event loop thread ("IO loop"), which
    with a ``LocalCluster`` also runs the scheduler: the cost of Dask's messages here."""
    for thread in threading.enumerate():
        if thread.name == "IO loop" and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return 0.0


def windowed(client: Any, fn: Any, count: int, window: int) -> float:
    """Seconds for ``count`` calls of ``fn(i)`` with at most ``window`` in flight, each
    result fetched alone as it finishes (``.result()``), the next submitted then."""
    from distributed import as_completed

    start = time.perf_counter()
    pending = iter(range(count))
    running = as_completed([client.submit(fn, i, pure=False) for i in islice(pending, window)])
    for future in running:
        future.result()
        following = next(pending, None)
        if following is not None:
            running.add(client.submit(fn, following, pure=False))
    return time.perf_counter() - start


def fan_why(defs: Path, folder: Path, client: Any, step: Any, fan: int, runs: int) -> None:
    """The fan-out beside bare variants that move results as the runner does, and with
    the engine's own runner set to dask: wall and the Dask event loop's CPU per item
    (the CPU figure holds on a loaded machine)."""
    from wfkit.engine.loop.dispatch import AHEAD_PER_WORKER

    items = list(range(fan))

    def each(_: object = None) -> float:
        start = time.perf_counter()
        for future in [client.submit(step.work, i, pure=False) for i in items]:
            future.result()
        return time.perf_counter() - start

    home = runtime(folder, defs, "fan-why", client=client)
    remote = runtime(folder, defs, "fan-why-dask", client=client, runner="dask")
    args = [(i,) for i in items]
    rows = []
    try:
        timed_run(home, "fan", items=items[:20])
        timed_run(remote, "fan", items=items[:20])
        # The engine hands its runner at most runner.workers x (1 + AHEAD_PER_WORKER)
        # tasks; read once the warm-ups opened the dask runners (home: local + dask).
        windows = [r.runner.workers * (1 + AHEAD_PER_WORKER) for r in (home, remote)]
        cases = [
            ("bare: submit all, one gather", partial(bare_fan, client, step.work, args)),
            ("bare: submit all, .result() of each", each),
            (f"bare: {windows[0]} in flight, .result() of each",
             partial(windowed, client, step.work, fan, windows[0])),
            (f"wfkit, engine runner local ({windows[0]} in flight)",
             lambda: timed_run(home, "fan", items=items)[0]),
            (f"wfkit, engine runner dask ({windows[1]} in flight)",
             lambda: timed_run(remote, "fan", items=items)[0]),
        ]  # fmt: skip
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in cases}
        for _ in range(runs):
            for label, fn in cases:
                samples[label].append(measured(fn, loop_cpu))
    finally:
        home.close()
        remote.close()
    for label, _ in cases:
        wall = median([w for w, _ in samples[label]])
        cpu = median([c for _, c in samples[label]])
        rows.append([label, f"{wall / fan * 1e3:.2f}", f"{cpu / fan * 1e3:.2f}"])
    print(f"Fan-out of {fan}: how results move (median of {runs} runs, in turn). The engine "
          f"hands its runners at most their slots x {1 + AHEAD_PER_WORKER} tasks\n"
          "(the dask runner's slots: the cluster's threads; with the engine's runner local, "
          "the local runner's are added); the runner takes each result as it\ncomes; a bare "
          "fan-out gathers them all in one message")  # fmt: skip
    print(table(["how", "ms/item", "Dask event loop CPU ms/item"], rows))
    print()


def profile_chain(folder: Path, defs: Path, client: Any) -> None:
    """cProfile of a fresh engine's first two chain runs, over this thread and every
    thread started meanwhile (the engine's and the dask runner's; not Dask's own)."""
    profiles = [cProfile.Profile()]

    def start(*_: object) -> None:
        sys.setprofile(None)
        profiles.append(cProfile.Profile())
        profiles[-1].enable()

    threading.setprofile(start)
    profiles[0].enable()
    try:
        rt = runtime(folder, defs, "profile", client=client)
        try:
            timed_run(rt, "chain")
            timed_run(rt, "chain")
        finally:
            rt.close()
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
        for p in profiles:
            p.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for p in profiles[1:]:
        stats.add(p)
    stats.sort_stats("tottime").print_stats(25)
    print("cProfile of a fresh engine's first two chain runs (all wfkit threads):")
    print(out.getvalue())


def add_path(folder: str) -> None:
    """On a Dask worker: make the step module importable."""
    if folder not in sys.path:
        sys.path.insert(0, folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one run (CI)")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--heavy", type=int, default=None)
    parser.add_argument("--chain", type=int, default=None)
    parser.add_argument("--fan", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="cProfile one chain run")
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or (1 if quick else 3)
    heavy = args.heavy or (60 if quick else 200)
    chain = args.chain or (40 if quick else 100)
    fan = args.fan or (150 if quick else 500)

    from distributed import Client, LocalCluster

    folder = Path(tempfile.mkdtemp(prefix="wfkit-dask-bench-"))
    defs = definitions(folder, chain)
    add_path(str(defs))
    step = importlib.import_module(MODULE)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (start)")
    report = Report()
    started = time.perf_counter()
    with LocalCluster(
        n_workers=DASK_WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # None still serves one, on 8787 (or warns)
    ) as cluster, Client(cluster) as client:  # fmt: skip
        print(f"LocalCluster of {DASK_WORKERS} worker processes started in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        client.run(add_path, str(defs))
        rounds = calibrate(step.spin, HEAVY_MS)
        print()
        section_heavy(report, defs, folder, client, step, rounds, heavy, runs)
        section_overhead(report, defs, folder, client, step, chain, fan, runs, args.profile)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (end)")
    if report.failed:
        print("missed: " + ", ".join(report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
