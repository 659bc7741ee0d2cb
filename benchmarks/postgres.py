"""PostgreSQL store: per-step cost against raw floors measured in the same run, grouping of
commits, throughput with several worker processes, and SQLite's ``synchronous=full``.

A PostgreSQL commit that fsyncs costs milliseconds, so the engine must commit the steps of
many instances (and parallel steps of one) together. Printed, PASS/FAIL:

* floors: raw psycopg on the same server, one ``INSERT`` + ``COMMIT`` per row, and 100
  rows per commit (``executemany``); the server's ``fsync`` and ``synchronous_commit``;
* W1: one chain of 200 ``call`` steps in this process: per step <= 1.3x the one-commit
  floor (nothing to group: each step depends on the last);
* grouping: 300 instances of a 5-step chain run by this process's engine, every commit
  counted: steps per commit (results that arrive while a commit is in flight go together);
* W3': 1,000 instances of a 5-step chain stored first, then drained by one ``wfkit worker``
  process per core: per step <= 5x the batched floor and >= 10x better than one commit a
  step;
* throughput: a backlog of 3-step chains drained by 1, 2 and 4 worker processes, on
  PostgreSQL and on SQLite (steps/s over the drain; 2 workers >= 1.4x one);
* SQLite W1 with ``?synchronous=full`` beside a raw ``synchronous=FULL`` floor (and the
  default ``NORMAL`` beside its own): the engine's cost above the floor of the same
  setting <= 3x the NORMAL floor (benchmarks/engine.py's W1 target): the fsync is paid
  once a commit, not more.

The server is a throw-away ``pgserver`` (the dev extra) unless ``--url`` names one; each
workload gets a schema of its own. Exit status 1 when a target is missed.

    python benchmarks/postgres.py [--url postgresql://...] [--quick] [--only W1,group,W3,tp,sqlite]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from _common import median, sqlite_floor, table

from wfkit.engine.core.status import RuntimeStatus
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

CORES = os.cpu_count() or 2
MODULE = "wfpg_steps"
STEP_CODE = "def work(x=None):\n    return {'n': 1, 'ok': True}\n"
SECTIONS = ("W1", "group", "W3", "tp", "sqlite")
TARGET_W1 = 1.3  # x the one-commit floor
TARGET_W3_BATCHED = 5.0  # x the batched floor
TARGET_W3_GAIN = 10.0  # x better than the one-commit floor
TARGET_SCALE_2 = 1.4  # 2 workers against 1
TARGET_SQLITE_OVER = 3.0  # engine cost above the raw floor, in NORMAL floors


def chain(name: str, steps: int) -> str:
    lines = ["wfkit: 1", f"name: {name}", "steps:"]
    for i in range(steps):
        lines += [f"  s{i}:", f"    call: {MODULE}:work"]
        if i:
            lines.append(f'    with: {{x: "${{{{ steps.s{i - 1}.output }}}}"}}')
    return "\n".join(lines) + "\n"


@dataclass
class Bench:
    folder: Path
    server: str
    quick: bool
    failed: list[str] = field(default_factory=list)
    defs: Path = field(init=False)

    def __post_init__(self) -> None:
        self.defs = self.folder / "definitions"
        self.defs.mkdir()
        (self.defs / f"{MODULE}.py").write_text(STEP_CODE)
        for name, steps in (("chain200", 200), ("chain5", 5), ("chain3", 3)):
            (self.defs / f"{name}.yaml").write_text(chain(name, steps))

    def verdict(self, label: str, ok: bool) -> str:
        if not ok:
            self.failed.append(label)
        return "PASS" if ok else "FAIL"

    def schema_url(self) -> str:
        """A URL of the server whose store lives in a new, empty schema."""
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        option = quote(f"-csearch_path={schema}", safe="")
        return f"{self.server}{'&' if '?' in self.server else '?'}options={option}"

    def settings(self, store: str) -> Settings:
        return Settings(definitions=str(self.defs), store=store, workers=CORES)


# -- the server and its floors --------------------------------------------------------------


@contextmanager
def server(url: str | None, folder: Path) -> Iterator[str]:
    if url:
        yield url
        return
    import pgserver

    pg = pgserver.get_server(str(folder / "pg"), cleanup_mode="delete")
    try:
        yield pg.get_uri()
    finally:
        pg.cleanup()


def server_settings(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
        return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]


def pg_floor(url: str, rows: int, per_commit: int, rounds: int = 3) -> float:
    """Seconds per row of raw psycopg: ``rows`` history-like rows, ``per_commit`` to a
    transaction (median of ``rounds``)."""
    payload = '{"step": "s12", "index": null, "attempt": 1, "output": {"n": 1, "ok": true}}'
    results = []
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE floor (instance_no bigint, seq integer, type text, "
            "at double precision, data text, PRIMARY KEY (instance_no, seq))"
        )
        conn.commit()
        seq = iter(range(10**9))
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(rows // per_commit):
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO floor VALUES (1, %s, 'TaskCompleted', %s, %s)",
                        [(next(seq), time.time(), payload) for _ in range(per_commit)],
                    )
                conn.commit()
            results.append((time.perf_counter() - start) / rows)
    return median(results)


def commit_stats(url: str) -> tuple[int, int]:
    """The database's committed transactions and WAL flushes so far (PostgreSQL 14+)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        commits = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        syncs = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
    return int(commits[0] if commits else 0), int(syncs[0] if syncs else 0)


# -- running workloads ----------------------------------------------------------------------


def run_in_process(bench: Bench, store: str, definition: str, instances: int) -> float:
    """Seconds from the first start() until every instance is COMPLETED (this process)."""
    with Runtime(bench.settings(store)) as rt:
        rt.start(definition).wait(timeout=300)  # warm-up: imports, caches, schema
        start = time.perf_counter()
        handles = [rt.start(definition) for _ in range(instances)]
        for handle in handles:
            handle.wait(timeout=600)
        wall = time.perf_counter() - start
        bad = [h.id for h in handles if h.row().status != RuntimeStatus.COMPLETED.value]
    if bad:
        raise RuntimeError(f"{definition}: {len(bad)} instances did not complete")
    return wall


def backlog(bench: Bench, store: str, definition: str, instances: int) -> None:
    """``instances`` started as ``wfkit start`` would: stored, unowned, nothing decided."""
    with Runtime(bench.settings(store), run_engine=False) as client:
        for _ in range(instances):
            client.start(definition)


def completed(store: str) -> int:
    if store.startswith("sqlite:///"):
        conn = sqlite3.connect(store.removeprefix("sqlite:///"))
        try:
            sql = "SELECT count(*) FROM instances WHERE status = 'COMPLETED'"
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    with psycopg.connect(store, autocommit=True) as conn:
        sql = "SELECT count(*) FROM wfkit_instances WHERE status = 'COMPLETED'"
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def drain_window(store: str) -> float:
    """Seconds from the workers' first history write to their last (every event after
    each instance's first, which the backlog's starts wrote)."""
    if store.startswith("sqlite:///"):
        conn = sqlite3.connect(store.removeprefix("sqlite:///"))
        try:
            sql = "SELECT min(at), max(at) FROM history WHERE (event_key & 4294967295) > 1"
            first, last = conn.execute(sql).fetchone()
        finally:
            conn.close()
        return float(last - first)
    with psycopg.connect(store, autocommit=True) as conn:
        row = conn.execute("SELECT min(at), max(at) FROM wfkit_history WHERE seq > 1").fetchone()
    assert row is not None
    return float(row[1] - row[0])


def hold(store: str, held: bool) -> None:
    """Make every instance of the backlog unclaimable (``held``: owned, with a lease that
    never ends, by no process) or free again, in one write (one that PostgreSQL's workers
    hear of at once)."""
    owner = ("'bench-hold'", "1e12") if held else ("NULL", "NULL")
    sets = f"owner = {owner[0]}, lease_until = {owner[1]}"
    if store.startswith("sqlite:///"):
        conn = sqlite3.connect(store.removeprefix("sqlite:///"), timeout=30)
        try:
            with conn:
                conn.execute(f"UPDATE instances SET {sets}")
        finally:
            conn.close()
        return
    with psycopg.connect(store) as conn:
        conn.execute(f"UPDATE wfkit_instances SET {sets}")
        schema = conn.execute("SELECT current_schema()").fetchone()
        conn.execute("SELECT pg_notify(%s, '')", (f"wfkit_changes:{schema[0] if schema else ''}",))


def drain(bench: Bench, store: str, instances: int, processes: int) -> float:
    """Start ``processes`` ``wfkit worker`` processes on a stored backlog, held until all
    of them are up (so that the drain measures them working together, not some starting
    Python while the first runs everything); wait until all ``instances`` are COMPLETED;
    the drain window in seconds."""
    argv = [sys.executable, "-m", "wfkit", "worker", "--definitions", str(bench.defs),
            "--store", store, "--workers", str(CORES), "--for", "900"]  # fmt: skip
    hold(store, True)
    logs = [bench.folder / f"worker-{uuid.uuid4().hex[:6]}.log" for _ in range(processes)]
    files = [log.open("w") for log in logs]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=out, cwd=bench.folder)
        for out in files
    ]
    try:
        while not all("Ctrl-C to stop" in log.read_text() for log in logs):
            dead = [p.returncode for p in procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a worker exited early ({dead}): see {logs}")
            time.sleep(0.05)
        hold(store, False)
        while completed(store) < instances:
            dead = [p.returncode for p in procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a worker exited early ({dead}): see {logs}")
            time.sleep(0.05)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        for out in files:
            out.close()
    return drain_window(store)


class CountingStore:
    """Wraps a store's ``append_many``: how many commits, instances and events."""

    def __init__(self, store: Any) -> None:
        self.inner = store.append_many
        self.commits = self.instances = self.events = 0
        store.append_many = self

    def __call__(self, batch: Any, **kwargs: Any) -> Any:
        self.commits += 1
        self.instances += len(batch)
        self.events += sum(len(rows) for _, _, rows, _ in batch)
        return self.inner(batch, **kwargs)


# -- sections -------------------------------------------------------------------------------


def section_w1(bench: Bench, rounds: int) -> None:
    """Runs alternate with floors (the disk's fsync time drifts): the median of the
    ratios of each run to the floor measured just before it."""
    pers, floors = [], []
    for _ in range(rounds):
        floors.append(pg_floor(bench.schema_url(), 200, 1, rounds=1))
        pers.append(run_in_process(bench, bench.schema_url(), "chain200", 1) / 200)
    ratio = median([per / floor for per, floor in zip(pers, floors, strict=True)])
    print(f"W1: one chain of 200 steps, this process ({rounds} runs, each after a floor)")
    print(table(
        ["per step ms (median)", "one-commit floor ms (median)", "x floor (median)", "target",
         ""],
        [[f"{median(pers) * 1e3:.2f}", f"{median(floors) * 1e3:.2f}", f"{ratio:.2f}",
          f"<= {TARGET_W1}", bench.verdict("W1 x floor", ratio <= TARGET_W1)]],
    ))  # fmt: skip
    print()


def section_group(bench: Bench, instances: int) -> None:
    store = bench.schema_url()
    backlog(bench, store, "chain5", instances)
    rt = Runtime(bench.settings(store), run_engine=False)
    counter = CountingStore(rt.engine.store)
    rt.folder.reload()
    started = time.perf_counter()
    rt.engine.start_background()
    try:
        while completed(store) < instances:
            time.sleep(0.02)
    finally:
        wall = time.perf_counter() - started
        rt.close()
    steps = instances * 5
    print(f"Grouping: {instances} stored instances of a 5-step chain, this process's engine")
    print(table(
        ["steps", "commits", "steps/commit", "instances/commit", "events/commit", "wall s",
         "µs/step"],
        [[steps, counter.commits, f"{steps / counter.commits:.1f}",
          f"{counter.instances / counter.commits:.1f}",
          f"{counter.events / counter.commits:.1f}", f"{wall:.2f}",
          f"{wall / steps * 1e6:.0f}"]],
    ))  # fmt: skip
    print("  one commit a step would be steps/commit = 1; more means results that arrived")
    print("  while a commit was in flight went into the next one together")
    print()


def section_w3(bench: Bench, instances: int, single: float, batched: float) -> None:
    store = bench.schema_url()
    backlog(bench, store, "chain5", instances)
    commits, syncs = commit_stats(store)
    window = drain(bench, store, instances, CORES)
    commits2, syncs2 = commit_stats(store)
    steps = instances * 5
    per = window / steps
    ok_batched = per <= TARGET_W3_BATCHED * batched
    ok_gain = single / per >= TARGET_W3_GAIN
    print(f"W3': {instances} instances of a 5-step chain, drained by {CORES} worker processes")
    print(table(
        ["steps", "drain s", "per step µs", "x batched floor", "target", "",
         "single / per step", "target", "", "xacts/step", "WAL syncs/step"],
        [[steps, f"{window:.2f}", f"{per * 1e6:.0f}", f"{per / batched:.2f}",
          f"<= {TARGET_W3_BATCHED}", bench.verdict("W3' x batched", ok_batched),
          f"{single / per:.1f}", f">= {TARGET_W3_GAIN}", bench.verdict("W3' gain", ok_gain),
          f"{(commits2 - commits) / steps:.2f}", f"{(syncs2 - syncs) / steps:.3f}"]],
    ))  # fmt: skip
    print("  xacts = every committed transaction of the database, reads included (claims,")
    print("  polls); WAL syncs = fsyncs of the WAL (0 when the server runs with fsync off)")
    print()


def section_throughput(bench: Bench, instances: int) -> None:
    rows = []
    for backend in ("postgresql", "sqlite"):
        rates = {}
        for processes in (1, 2, 4):
            if backend == "sqlite":
                store = f"sqlite:///{bench.folder / f'tp-{processes}-{uuid.uuid4().hex[:6]}.db'}"
            else:
                store = bench.schema_url()
            backlog(bench, store, "chain3", instances)
            rates[processes] = instances * 3 / drain(bench, store, instances, processes)
        gain = rates[2] / rates[1]
        label = f"{backend} 2 workers"
        rows.append([backend, *(f"{rates[n]:.0f}" for n in (1, 2, 4)), f"{gain:.2f}",
                     f"{rates[4] / rates[1]:.2f}", f">= {TARGET_SCALE_2}",
                     bench.verdict(label, gain >= TARGET_SCALE_2)])  # fmt: skip
    print(f"Throughput: {instances} instances of a 3-step chain, drained by N worker processes")
    print(table(["backend", "1 steps/s", "2 steps/s", "4 steps/s", "2/1", "4/1", "target", ""],
                rows))  # fmt: skip
    print(f"  each worker has {CORES} step slots; {CORES} cores shared with other work")
    print()


def section_sqlite(bench: Bench) -> None:
    rows = []
    floors = {s: sqlite_floor(str(bench.folder), 500, synchronous=s) for s in ("NORMAL", "FULL")}
    for sync in ("NORMAL", "FULL"):
        path = bench.folder / f"w1-{sync.lower()}.db"
        option = "?synchronous=full" if sync == "FULL" else ""
        walls = [run_in_process(bench, f"sqlite:///{path}{option}", "chain200", 1) / 200
                 for _ in range(3)]  # fmt: skip
        per = median(walls)
        over = (per - floors[sync]) / floors["NORMAL"]
        rows.append([f"sqlite{option or ' (default NORMAL)'}", f"{per * 1e6:.0f}",
                     f"{floors[sync] * 1e6:.0f}", f"{per / floors[sync]:.2f}", f"{over:.2f}",
                     f"<= {TARGET_SQLITE_OVER}",
                     bench.verdict(f"sqlite {sync}", over <= TARGET_SQLITE_OVER)])  # fmt: skip
    print("SQLite W1 (200-step chain, this process): the power-loss choice and its cost")
    print(table(["store", "per step µs", "raw floor µs (same synchronous)", "x floor",
                 "(step - floor) / NORMAL floor", "target", ""], rows))  # fmt: skip
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL server to use instead of a pgserver")
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    parser.add_argument("--only", default=",".join(SECTIONS), help=",".join(SECTIONS))
    args = parser.parse_args()
    only = set(args.only.split(","))
    folder = Path(tempfile.mkdtemp(prefix="wfkit-pg-bench-"))
    with server(args.url, folder) as url:
        bench = Bench(folder, url, args.quick)
        shown = server_settings(url)
        print("server: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        single = pg_floor(bench.schema_url(), 100 if args.quick else 300, 1)
        batched = pg_floor(bench.schema_url(), 2000 if args.quick else 5000, 100)
        print(table(["floor (raw psycopg, same server)", "µs per row"],
                    [["one INSERT + COMMIT per row", f"{single * 1e6:.0f}"],
                     ["100 rows per commit", f"{batched * 1e6:.1f}"]]))  # fmt: skip
        print()
        if "W1" in only:
            section_w1(bench, 3 if args.quick else 5)
        if "group" in only:
            section_group(bench, 100 if args.quick else 300)
        if "W3" in only:
            section_w3(bench, 200 if args.quick else 1000, single, batched)
        if "tp" in only:
            section_throughput(bench, 200 if args.quick else 600)
        if "sqlite" in only:
            section_sqlite(bench)
    print("FAILED: " + ", ".join(bench.failed) if bench.failed else "all targets met")
    return 1 if bench.failed else 0


if __name__ == "__main__":
    sys.exit(main())
