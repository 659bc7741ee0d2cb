"""What the durability tests (and ``tests/stress/soak.py``) share: step code that keeps a
journal, definitions, real processes to start and kill, and checks over stored histories.

Steps are ``call`` steps of a small module written into a temporary definitions folder.
Each call appends one line ``<instance>\\t<task>\\t<pid>\\t<generation>`` to the journal
file named by ``$WFKIT_TEST_JOURNAL`` (opened ``O_APPEND`` and fsync'ed, so a line written
before a SIGKILL is on disk) before doing its work. ``<task>`` is the step id, with
``[index]`` for a foreach item: the same key :func:`task_key` gives a history event.
``<generation>`` is ``$WFKIT_TEST_GEN``: which process of a test wrote the line.

Nothing here mocks anything: processes are real, stores are SQLite files.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfkit.engine.core.history import (
    EventRaised,
    ExecutionCompleted,
    ExecutionTerminated,
    HistoryEvent,
    TaskCompleted,
    TaskScheduled,
)
from wfkit.engine.loop.records import load_history
from wfkit.store import SqliteStore

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "durability_runner.py"

STEPS_MODULE = '''\
"""Step code of the durability tests: every call is journaled before it works."""

import os
import random
import time


def _journal(inst, step):
    line = f"{inst}\\t{step}\\t{os.getpid()}\\t{os.environ.get('WFKIT_TEST_GEN', '-')}\\n"
    fd = os.open(os.environ["WFKIT_TEST_JOURNAL"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def work(inst, step, value=None, low=5, high=50):
    """Journal, sleep between low and high milliseconds, return value."""
    _journal(inst, step)
    time.sleep(random.uniform(low, high) / 1000)
    return value


def hold(inst, step, flag, seconds=60):
    """The first run (no flag file yet) makes the flag and blocks; later runs return."""
    _journal(inst, step)
    if not os.path.exists(flag):
        open(flag, "w").close()
        time.sleep(seconds)
    return "held"


def fail_once(inst, step, flag):
    """Fail on the first run (no flag file yet: make it), succeed afterwards."""
    _journal(inst, step)
    if not os.path.exists(flag):
        open(flag, "w").close()
        raise RuntimeError("the first attempt fails")
    return "second time lucky"


def gate(inst, step, path):
    """Block until a file exists at path."""
    _journal(inst, step)
    while not os.path.exists(path):
        time.sleep(0.02)
    return "opened"
'''

# A chain, a foreach fan-out, a sleep and two waits fed by raise_event.
DURABLE = """\
wfkit: 1
name: durable
inputs:
  items: {type: array, items: {type: integer}}
steps:
  first:
    call: dsteps:work
    with: {inst: "${{ workflow.id }}", step: first, value: 1}
  fan:
    call: dsteps:work
    foreach: ${{ inputs.items }}
    max_parallel: 3
    needs: [first]
    with: {inst: "${{ workflow.id }}", step: "fan[${{ index }}]", value: "${{ item * item }}"}
  middle:
    call: dsteps:work
    needs: [fan]
    with: {inst: "${{ workflow.id }}", step: middle, value: "${{ steps.fan.output[0] }}"}
  nap:
    sleep: 300ms
    needs: [middle]
  approval:
    wait: {event: go}
    needs: [first]
  approval2:
    wait: {event: go}
    needs: [first]
  tail:
    call: dsteps:work
    foreach: [a, b, c]
    needs: [nap]
    with: {inst: "${{ workflow.id }}", step: "tail[${{ index }}]", value: "${{ item }}"}
  last:
    call: dsteps:work
    needs: [tail, approval, approval2]
    with:
      inst: "${{ workflow.id }}"
      step: last
      value: ${{ steps.approval.output.n + steps.approval2.output.n }}
output:
  fan: ${{ steps.fan.output }}
  tail: ${{ steps.tail.output }}
  approvals: ${{ [steps.approval.output.n, steps.approval2.output.n] }}
  last: ${{ steps.last.output }}
"""


def durable_output(items: Sequence[int], approvals: Sequence[int]) -> dict[str, Any]:
    """What an instance of ``durable`` outputs when its waits got ``approvals``, with
    ``approvals`` sorted (which wait gets which event depends on timing)."""
    return {
        "fan": [i * i for i in items],
        "tail": ["a", "b", "c"],
        "approvals": sorted(approvals),
        "last": sum(approvals),
    }


def durable_tasks(items: Sequence[int]) -> set[str]:
    """Every task key of an instance of ``durable``."""
    keys = {"first", "middle", "nap", "approval", "approval2", "last"}
    keys |= {f"fan[{i}]" for i in range(len(items))}
    keys |= {f"tail[{i}]" for i in range(3)}
    return keys


def durable_work_tasks(items: Sequence[int]) -> set[str]:
    """The task keys of ``durable`` that run step code (and so write the journal)."""
    return durable_tasks(items) - {"nap", "approval", "approval2"}


# Hold a task in flight: `hold` blocks on its first run only; `gate` until a file exists.
HOLDING = """\
wfkit: 1
name: holding
inputs:
  flag: {type: string}
steps:
  before:
    call: dsteps:work
    with: {inst: "${{ workflow.id }}", step: before, value: 1}
  held:
    call: dsteps:hold
    needs: [before]
    with: {inst: "${{ workflow.id }}", step: held, flag: "${{ inputs.flag }}"}
  after:
    call: dsteps:work
    needs: [held]
    with: {inst: "${{ workflow.id }}", step: after, value: 3}
output: ${{ steps.after.output }}
"""

# A step that fails once and is retried after a durable two-second timer.
FLAKY = """\
wfkit: 1
name: flaky
inputs:
  flag: {type: string}
steps:
  shaky:
    call: dsteps:fail_once
    retry: {max_attempts: 3, initial_interval: 2s}
    with: {inst: "${{ workflow.id }}", step: shaky, flag: "${{ inputs.flag }}"}
  after:
    call: dsteps:work
    needs: [shaky]
    with: {inst: "${{ workflow.id }}", step: after, value: "${{ steps.shaky.output }}"}
output: ${{ steps.after.output }}
"""

GATED = """\
wfkit: 1
name: gated
inputs:
  path: {type: string}
steps:
  gate:
    call: dsteps:gate
    with: {inst: "${{ workflow.id }}", step: gate, path: "${{ inputs.path }}"}
  after:
    call: dsteps:work
    needs: [gate]
    with: {inst: "${{ workflow.id }}", step: after, value: "${{ steps.gate.output }}"}
output: ${{ steps.after.output }}
"""

# A chain of five steps whose duration is an input (milliseconds, low and high).
CHAIN = """\
wfkit: 1
name: chain
inputs:
  low: {type: integer, default: 5}
  high: {type: integer, default: 50}
steps:
  s1:
    call: dsteps:work
    with:
      {inst: "${{ workflow.id }}", step: s1, value: 1, low: "${{ inputs.low }}",
       high: "${{ inputs.high }}"}
  s2:
    call: dsteps:work
    needs: [s1]
    with:
      {inst: "${{ workflow.id }}", step: s2, value: 2, low: "${{ inputs.low }}",
       high: "${{ inputs.high }}"}
  s3:
    call: dsteps:work
    needs: [s2]
    with:
      {inst: "${{ workflow.id }}", step: s3, value: 3, low: "${{ inputs.low }}",
       high: "${{ inputs.high }}"}
  s4:
    call: dsteps:work
    needs: [s3]
    with:
      {inst: "${{ workflow.id }}", step: s4, value: 4, low: "${{ inputs.low }}",
       high: "${{ inputs.high }}"}
  s5:
    call: dsteps:work
    needs: [s4]
    with:
      {inst: "${{ workflow.id }}", step: s5, value: 5, low: "${{ inputs.low }}",
       high: "${{ inputs.high }}"}
output: ${{ [steps.s1.output, steps.s2.output, steps.s3.output, steps.s4.output,
  steps.s5.output] }}
"""

# Steps, a foreach and two waits, for pause/resume/terminate/raise_event races.
RACY = """\
wfkit: 1
name: racy
inputs:
  low: {type: integer, default: 5}
  high: {type: integer, default: 50}
steps:
  a:
    call: dsteps:work
    with: {inst: "${{ workflow.id }}", step: a, value: 1, low: "${{ inputs.low }}",
           high: "${{ inputs.high }}"}
  b:
    call: dsteps:work
    foreach: [1, 2, 3, 4, 5, 6]
    max_parallel: 2
    needs: [a]
    with: {inst: "${{ workflow.id }}", step: "b[${{ index }}]", value: "${{ item }}",
           low: "${{ inputs.low }}", high: "${{ inputs.high }}"}
  w1:
    wait: {event: ping}
    needs: [a]
  c:
    call: dsteps:work
    needs: [b, w1]
    with: {inst: "${{ workflow.id }}", step: c, value: 3, low: "${{ inputs.low }}",
           high: "${{ inputs.high }}"}
  w2:
    wait: {event: Ping}
    needs: [c]
  d:
    call: dsteps:work
    needs: [w2]
    with: {inst: "${{ workflow.id }}", step: d, value: "${{ steps.w2.output }}",
           low: "${{ inputs.low }}", high: "${{ inputs.high }}"}
output: {w1: "${{ steps.w1.output }}", d: "${{ steps.d.output }}"}
"""

# A shell step that records its pid and sleeps, beside a call step that returns when
# a file appears (so that the test chooses when the engine next commits).
KILLABLE = """\
wfkit: 1
name: killable
inputs:
  pidfile: {type: string}
  gate: {type: string}
steps:
  long:
    shell: [sh, -c, 'echo $$ > "$PIDFILE"; exec sleep 60']
    env: {PIDFILE: "${{ inputs.pidfile }}"}
  tick:
    call: dsteps:gate
    with: {inst: "${{ workflow.id }}", step: tick, path: "${{ inputs.gate }}"}
"""

DEFINITIONS = {
    "killable.yaml": KILLABLE,
    "durable.yaml": DURABLE,
    "holding.yaml": HOLDING,
    "gated.yaml": GATED,
    "flaky.yaml": FLAKY,
    "chain.yaml": CHAIN,
    "racy.yaml": RACY,
}


@dataclass
class Sandbox:
    """A folder with definitions, step code, a store file and a journal."""

    root: Path

    @property
    def definitions(self) -> Path:
        return self.root / "definitions"

    @property
    def db(self) -> Path:
        return self.root / "store.db"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.db}"

    @property
    def journal(self) -> Path:
        return self.root / "journal.tsv"

    def env(self, generation: str) -> dict[str, str]:
        env = dict(os.environ)
        env["WFKIT_TEST_JOURNAL"] = str(self.journal)
        env["WFKIT_TEST_GEN"] = generation
        for name in ("WFKIT_STORE", "WFKIT_DEFINITIONS", "WFKIT_WORKERS"):
            env.pop(name, None)
        return env

    def log(self, generation: str) -> Path:
        return self.root / "logs" / f"{generation}.log"


def make_sandbox(root: Path) -> Sandbox:
    """Write the definitions and the step module under ``root``."""
    box = Sandbox(root)
    box.definitions.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    for name, text in DEFINITIONS.items():
        (box.definitions / name).write_text(text)
    (box.definitions / "dsteps.py").write_text(STEPS_MODULE)
    box.journal.touch()
    return box


# -- processes --------------------------------------------------------------------------


@dataclass
class Proc:
    """A started process, its generation name and when it was started (monotonic)."""

    popen: subprocess.Popen[str]
    generation: str
    started: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        """SIGKILL and reap (a zombie's pid still answers ``kill(pid, 0)``)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it will not go."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def spawn_runner(
    box: Sandbox,
    generation: str,
    *,
    start: Iterable[tuple[str, str, dict[str, Any]]] = (),
    wait: Iterable[str] = (),
    workers: int = 4,
) -> Proc:
    """Start ``durability_runner.py``: a Runtime on the sandbox store that starts the given
    instances (unless they exist) and runs until every ``wait`` instance is terminal."""
    argv = [
        sys.executable,
        str(RUNNER),
        "--store",
        box.store_url,
        "--definitions",
        str(box.definitions),
        "--workers",
        str(workers),
    ]
    for name, instance_id, values in start:
        argv += ["--start", name, instance_id, json.dumps(values)]
    for instance_id in wait:
        argv += ["--wait", instance_id]
    started = time.monotonic()
    log = box.log(generation).open("a")
    popen = subprocess.Popen(
        argv,
        cwd=box.root,
        env=box.env(generation),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    return Proc(popen, generation, started)


def spawn_worker(box: Sandbox, generation: str, *, workers: int = 4) -> Proc:
    """Start ``python -m wfkit worker`` on the sandbox store."""
    argv = [
        sys.executable,
        "-m",
        "wfkit",
        "worker",
        "--store",
        box.store_url,
        "--definitions",
        str(box.definitions),
        "--workers",
        str(workers),
    ]
    log = box.log(generation).open("a")
    started = time.monotonic()
    popen = subprocess.Popen(
        argv, cwd=box.root, env=box.env(generation), stdout=log, stderr=log, text=True
    )
    log.close()
    return Proc(popen, generation, started)


def wait_ready(proc: Proc, timeout: float = 30.0) -> None:
    """Wait for a runner's ``ready`` line on stdout."""
    assert proc.popen.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.popen.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.05):
                line = proc.popen.stdout.readline()
                if line.startswith("ready"):
                    return
                if line == "":
                    raise AssertionError(
                        f"runner {proc.generation} exited ({proc.popen.poll()}) before it was ready"
                    )
    finally:
        selector.close()
    raise AssertionError(f"runner {proc.generation} not ready after {timeout} s")


def wait_worker_ready(box: Sandbox, proc: Proc, timeout: float = 30.0) -> float:
    """Wait until ``wfkit worker`` says it runs (its first line on stderr, printed once its
    engine has started, right after its first claim); returns when (monotonic)."""
    poll_until(
        lambda: "step slots" in box.log(proc.generation).read_text(),
        timeout,
        f"worker {proc.generation} to start",
        interval=0.005,
        check=lambda: proc.popen.poll() is None,
    )
    return time.monotonic()


def spawn_worker_pair(box: Sandbox, claim_interval: float, workers: int = 4) -> tuple[Proc, Proc]:
    """Two ``wfkit worker`` processes whose claim rounds are about half an interval apart.

    Each worker claims every free instance at each round, so two workers started together
    claim a few milliseconds apart forever and the second finds nothing left: the second
    is restarted until the phases differ enough for both to get work."""
    first = spawn_worker(box, "A", workers=workers)
    try:
        first_at = wait_worker_ready(box, first)
        for attempt in range(8):
            second = spawn_worker(box, "B", workers=workers)
            phase = (wait_worker_ready(box, second) - first_at) % claim_interval
            if 0.3 <= phase / claim_interval <= 0.7 or attempt == 7:
                return first, second
            second.stop()
            box.log("B").unlink()
    except BaseException:
        first.stop()
        raise
    raise AssertionError("unreachable")


def poll_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    interval: float = 0.02,
    check: Callable[[], bool] | None = None,
) -> Any:
    """Poll ``condition`` until it is truthy (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if check is not None and not check():
            raise AssertionError(f"gave up waiting for {what}: a process it needs is gone")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# -- the store, read from outside -------------------------------------------------------


def open_store(box: Sandbox) -> SqliteStore:
    return SqliteStore(box.db)


def history(store: SqliteStore, instance_id: str) -> list[HistoryEvent]:
    return load_history(store, instance_id)


def owner_row(box: Sandbox, instance_id: str) -> tuple[str | None, int | None, float | None]:
    """``(owner, owner_pid, lease_until)`` read straight from the SQLite file."""
    with sqlite3.connect(box.db, timeout=30) as conn:
        found = conn.execute(
            "SELECT owner, owner_pid, lease_until FROM instances WHERE instance_id = ?",
            (instance_id,),
        ).fetchone()
    conn.close()
    assert found is not None, instance_id
    return found[0], found[1], found[2]


def owners(box: Sandbox) -> dict[str, tuple[str | None, int | None, str]]:
    """``instance_id -> (owner, owner_pid, status)`` of every instance."""
    with sqlite3.connect(box.db, timeout=30) as conn:
        rows = conn.execute("SELECT instance_id, owner, owner_pid, status FROM instances")
        found = {r[0]: (r[1], r[2], r[3]) for r in rows}
    conn.close()
    return found


# -- histories and journals -------------------------------------------------------------


def task_key(step: str, index: int | None) -> str:
    return step if index is None else f"{step}[{index}]"


def completed_keys(events: Iterable[HistoryEvent]) -> set[str]:
    return {task_key(e.step, e.index) for e in events if isinstance(e, TaskCompleted)}


def completion_counts(events: Iterable[HistoryEvent]) -> Counter[str]:
    return Counter(task_key(e.step, e.index) for e in events if isinstance(e, TaskCompleted))


def schedule_counts(events: Iterable[HistoryEvent]) -> Counter[tuple[str, int]]:
    """How often each ``(task, attempt)`` was scheduled."""
    return Counter(
        (task_key(e.step, e.index), e.attempt) for e in events if isinstance(e, TaskScheduled)
    )


def seq_problems(events: Sequence[HistoryEvent]) -> list[str]:
    """Empty when the seqs are exactly 1..N in order."""
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        return [f"history seqs are not 1..{len(seqs)}: {seqs}"]
    return []


def after_terminal(events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """Events recorded after the first ExecutionCompleted or ExecutionTerminated."""
    for position, event in enumerate(events):
        if isinstance(event, ExecutionCompleted | ExecutionTerminated):
            return list(events[position + 1 :])
    return []


def event_problems(events: Sequence[HistoryEvent]) -> list[str]:
    """Each raised event is consumed at most once, by a wait completed after it was
    raised, whose output is the event's data."""
    raised: dict[int, EventRaised] = {}
    consumers: Counter[int] = Counter()
    problems = []
    for event in events:
        if isinstance(event, EventRaised):
            raised[event.seq] = event
        elif isinstance(event, TaskCompleted) and event.event_seq is not None:
            consumers[event.event_seq] += 1
            source = raised.get(event.event_seq)
            if source is None:
                problems.append(
                    f"seq {event.seq}: consumed seq {event.event_seq}, "
                    "which is not an event raised before it"
                )
            elif source.data != event.output:
                problems.append(f"seq {event.seq}: the wait's output is not its event's data")
    problems += [f"event seq {seq} consumed {n} times" for seq, n in consumers.items() if n > 1]
    return problems


@dataclass(frozen=True)
class JournalLine:
    instance: str
    task: str
    pid: int
    generation: str


def read_journal(box: Sandbox) -> list[JournalLine]:
    """Every whole line of the journal (a line cut short by a kill is left out)."""
    lines = []
    for text in box.journal.read_text().split("\n"):
        parts = text.split("\t")
        if len(parts) == 4:
            lines.append(JournalLine(parts[0], parts[1], int(parts[2]), parts[3]))
    return lines


def journal_count(box: Sandbox) -> int:
    return box.journal.read_bytes().count(b"\n")
