"""Soak: SIGKILL wfkit runtimes at random moments, hundreds of times, and check that every
durability promise held (DESIGN.md section 3). Not collected by pytest; run it by hand:

    python tests/stress/soak.py [--kills 300] [--seed S] [--instances 6] [--processes 2]

Several runner processes (``tests/durability/durability_runner.py``: a Runtime on one
SQLite file) run instances of ``durable`` (a chain, a foreach fan-out, a sleep, two waits
fed by raise_event) side by side. Again and again the driver picks a live process, waits
for a random trigger (a step just started, a commit just landed, or a random time), kills
it with SIGKILL and starts a new one. It keeps several instances going at once (starting
new ones as others complete) and raises their events at random moments. Before each
process starts it records which tasks are already completed in the store, so the journal
the steps keep can be held against it. At the end it prints a summary and exits 1 on any
broken promise:

- every instance COMPLETED with the right output; history seqs 1..N;
- each task completed exactly once in history (duplicated completions = 0) and each
  attempt scheduled once;
- every event raised is in the history and was consumed at most once (lost events = 0);
- no task ran again once its completion was committed;
- at-least-once: every task in flight at a kill ran again later.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "durability"))

from durability_support import (
    Proc,
    Sandbox,
    completed_keys,
    completion_counts,
    durable_output,
    durable_tasks,
    durable_work_tasks,
    event_problems,
    history,
    journal_count,
    make_sandbox,
    open_store,
    read_journal,
    schedule_counts,
    seq_problems,
    spawn_runner,
    wait_ready,
)

from wfkit.engine.core.history import EventRaised
from wfkit.engine.core.state import replay
from wfkit.engine.core.status import Outcome, RuntimeStatus
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings


@dataclass
class Tracked:
    """One instance the driver started, and the events it raised to it."""

    instance_id: str
    items: list[int]
    raised: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def approvals(self) -> list[int]:
        return [data["n"] for name, data in self.raised if name == "go"]


class Soak:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.box: Sandbox = make_sandbox(root)
        self.store = open_store(self.box)
        self.client = Runtime(
            Settings(definitions=str(self.box.definitions), store=self.box.store_url, workers=1),
            run_engine=False,
        )
        self.tracked: dict[str, Tracked] = {}
        self.active: list[str] = []
        self.ended: dict[str, set[str]] = {}  # instance -> its tasks, once it has ended
        self.live: list[Proc] = []
        self.before: dict[str, dict[str, set[str]]] = {}  # generation -> instance -> done
        # Each kill: the generation killed, the journal length right after it, what was
        # completed then (read after that length), and the journal length after that read.
        # Other processes go on meanwhile: a task they start and complete between the two
        # lengths is neither a re-run nor a run after completion.
        self.kills: list[tuple[str, int, dict[str, set[str]], int]] = []
        self.modes: Counter[str] = Counter()
        self.spawned = 0

    # -- driving ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, set[str]]:
        """Completed tasks of every instance (ended ones are read once, when they end,
        so that a snapshot stays quick while the other processes go on)."""
        found = dict(self.ended)
        for instance_id in self.active:
            found[instance_id] = completed_keys(history(self.store, instance_id))
        return found

    def spawn(self) -> Proc:
        self.spawned += 1
        generation = f"p{self.spawned:05d}"
        self.before[generation] = self.snapshot()
        proc = spawn_runner(self.box, generation, workers=self.args.workers)
        wait_ready(proc)
        self.live.append(proc)
        return proc

    def start_instances(self) -> None:
        for instance_id in list(self.active):
            if RuntimeStatus(self.store.get(instance_id).status).is_terminal:
                self.ended[instance_id] = completed_keys(history(self.store, instance_id))
                self.active.remove(instance_id)
        while len(self.active) < self.args.instances:
            instance_id = f"soak-{len(self.tracked):04d}"
            items = list(range(self.rng.randint(4, self.args.items)))
            self.tracked[instance_id] = Tracked(instance_id, items)
            self.client.start("durable", instance_id=instance_id, items=items)
            self.active.append(instance_id)

    def raise_some(self, chance: float) -> None:
        for instance_id in self.active:
            tracked = self.tracked[instance_id]
            goes = len(tracked.approvals)
            if goes < 2 and self.rng.random() < chance:
                self.raise_event(tracked, "GO" if goes else "go", {"n": goes + 1})
            if not any(name == "spare" for name, _ in tracked.raised) and self.rng.random() < 0.05:
                self.raise_event(tracked, "spare", {"for": instance_id})

    def raise_event(self, tracked: Tracked, name: str, data: Any) -> None:
        outcome = self.client.workflows.raise_event(tracked.instance_id, name, data)
        if outcome is Outcome.APPLY:
            tracked.raised.append((name.lower(), data))

    def kill_one(self) -> None:
        victim = self.rng.choice(self.live)
        mode = self.rng.choice(["journal", "version", "time"])
        watched = self.rng.choice(self.active)
        lines = journal_count(self.box) + self.rng.randint(1, 4)
        version = self.store.get(watched).version + self.rng.randint(1, 6)
        deadline = time.monotonic() + (self.rng.uniform(0.02, 0.6) if mode == "time" else 1.5)
        while time.monotonic() < deadline:
            if mode == "journal" and journal_count(self.box) >= lines:
                break
            if mode == "version" and self.store.get(watched).version >= version:
                break
            time.sleep(0.002)
        victim.kill()
        self.live.remove(victim)
        self.modes[mode] += 1
        at_kill = len(read_journal(self.box))
        done = self.snapshot()
        self.kills.append((victim.generation, at_kill, done, len(read_journal(self.box))))

    def run(self) -> int:
        started = time.monotonic()
        for _ in range(self.args.processes):
            self.spawn()
        for number in range(self.args.kills):
            self.start_instances()
            self.raise_some(0.3)
            self.kill_one()
            self.spawn()
            if (number + 1) % 25 == 0:
                print(
                    f"  {number + 1} kills, {len(self.tracked)} instances, "
                    f"{time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        # Finish: feed every wait, then let the live processes complete everything.
        for instance_id in list(self.tracked):
            tracked = self.tracked[instance_id]
            while len(tracked.approvals) < 2:
                self.raise_event(tracked, "go", {"n": len(tracked.approvals) + 1})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = [self.store.get(i) for i in self.tracked]
            if all(RuntimeStatus(r.status).is_terminal for r in rows):
                break
            time.sleep(0.1)
        for proc in self.live:
            proc.stop()
        elapsed = time.monotonic() - started
        return self.report(elapsed)

    # -- checking ---------------------------------------------------------------------

    def report(self, elapsed: float) -> int:
        problems: list[str] = []
        journal = read_journal(self.box)
        duplicated = lost = consumed_twice = scheduled_twice = 0
        for instance_id, tracked in self.tracked.items():
            row = self.store.get(instance_id)
            events = history(self.store, instance_id)
            if row.status != RuntimeStatus.COMPLETED.value:
                problems.append(f"{instance_id} is {row.status}: {row.failure}")
                continue
            output = self.client.instance(instance_id).output
            output["approvals"] = sorted(output["approvals"])
            if output != durable_output(tracked.items, tracked.approvals):
                problems.append(f"{instance_id}: wrong output {output}")
            problems += [f"{instance_id}: {p}" for p in seq_problems(events)]
            counts = completion_counts(events)
            duplicated += sum(n - 1 for n in counts.values() if n > 1)
            missing = durable_tasks(tracked.items) - set(counts)
            if missing:
                problems.append(f"{instance_id}: never completed {sorted(missing)}")
            scheduled_twice += sum(n - 1 for n in schedule_counts(events).values() if n > 1)
            found = event_problems(events)
            consumed_twice += len(found)
            problems += [f"{instance_id}: {p}" for p in found]
            raised = Counter((e.name, repr(e.data)) for e in events if isinstance(e, EventRaised))
            expected = Counter((name, repr(data)) for name, data in tracked.raised)
            lost += sum((expected - raised).values())
            if raised - expected:
                problems.append(f"{instance_id}: events nobody raised: {raised - expected}")
            state = replay(instance_id, events)
            spare = [e.name for e in state.buffered_events()]
            if spare != [name for name, _ in tracked.raised if name == "spare"]:
                problems.append(f"{instance_id}: buffered events {spare}")
        # The journal against what the store held before each process started, and at
        # each kill (the journal is append-only: a line's position is its time order).
        reran_after_completion = [
            line
            for line in journal
            if line.instance in self.before[line.generation]
            and line.task in self.before[line.generation][line.instance]
        ]
        for _, _, done, position in self.kills:
            reran_after_completion += [
                line for line in journal[position:] if line.task in done.get(line.instance, ())
            ]
        problems += [
            f"ran again after its completion was committed: {line}"
            for line in reran_after_completion
        ]
        runs = Counter((line.instance, line.task) for line in journal)
        for instance_id, tracked in self.tracked.items():
            ran = {task for (i, task) in runs if i == instance_id}
            if ran != durable_work_tasks(tracked.items):
                problems.append(f"{instance_id}: journal shows {sorted(ran)}")
        # At-least-once: a task the killed process had started and not completed ran
        # again after the kill (in a new process, or in one that was already running).
        in_flight = not_rerun = 0
        for generation, position, done, _ in self.kills:
            started = {
                (line.instance, line.task)
                for line in journal[:position]
                if line.generation == generation
            }
            later = {(line.instance, line.task) for line in journal[position:]}
            for instance_id, task in sorted(started):
                if task in done.get(instance_id, set()):
                    continue
                in_flight += 1
                if (instance_id, task) not in later:
                    not_rerun += 1
                    problems.append(
                        f"{instance_id} {task}: in flight when {generation} died, never ran again"
                    )
        steps_run = len(journal)
        rows = [
            ("kills", len(self.kills)),
            ("  by trigger", ", ".join(f"{k} {v}" for k, v in sorted(self.modes.items()))),
            ("processes started", self.spawned),
            ("instances (all completed)" if not problems else "instances", len(self.tracked)),
            ("events raised", sum(len(t.raised) for t in self.tracked.values())),
            ("steps run (journal lines)", steps_run),
            ("distinct tasks run", len(runs)),
            ("re-runs (at-least-once repeats)", steps_run - len(runs)),
            ("tasks in flight at a kill", in_flight),
            ("  of which never ran again", not_rerun),
            ("ran again after completion", len(reran_after_completion)),
            ("lost events", lost),
            ("events consumed twice", consumed_twice),
            ("duplicated completions", duplicated),
            ("attempts scheduled twice", scheduled_twice),
            ("problems", len(problems)),
            ("elapsed", f"{elapsed:.1f} s"),
            ("seed", self.args.seed),
        ]
        width = max(len(name) for name, _ in rows)
        print("wfkit soak summary")
        for name, value in rows:
            print(f"  {name:<{width}}  {value}")
        for problem in problems[:50]:
            print(f"PROBLEM {problem}")
        self.client.close()
        self.store.close()
        return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=300, help="SIGKILLs (default 300)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--instances", type=int, default=6, help="instances at once (6)")
    parser.add_argument("--processes", type=int, default=2, help="runner processes at once (2)")
    parser.add_argument("--workers", type=int, default=4, help="step slots per process (4)")
    parser.add_argument("--items", type=int, default=16, help="largest foreach (16)")
    parser.add_argument("--dir", help="work folder (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="wfkit-soak-"))
    print(f"soak in {root} (seed {args.seed}, {args.kills} kills)", file=sys.stderr)
    soak = Soak(args, root)
    try:
        return soak.run()
    finally:
        for proc in soak.live:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
