"""Per-operation cost of the SQLite store, against the raw SQLite floor of the same run.

Prints a table of microseconds per call (median of several rounds) for the store's hot
operations, each with its ratio to the floor: one ``INSERT`` plus ``COMMIT`` per row with
plain ``sqlite3`` (WAL, ``synchronous=NORMAL``), the least any durable append can cost.
Reads (``get``, a page of ``list_instances``, a claim that finds nothing) are measured
with 100,000 instances stored. Then the two ways threads can share the database (one
connection per thread, or one connection behind a lock) under 3 threads doing small
transactions. Target (the store issue): ``get`` and a page of 50 under 5 ms each at
100,000 instances.

    python benchmarks/store.py [--instances 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Literal

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner
from wfkit.store import SqliteStore

TARGET_MS = 5.0
STATUSES = ["COMPLETED"] * 7 + ["FAILED", "TERMINATED", "RUNNING"]
NAMES = [f"workflow-{n}" for n in range(20)]


def per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean µs per call of ``calls`` calls."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(results)


def floor(folder: str, calls: int, rounds: int) -> float:
    """One INSERT and one COMMIT per row with plain sqlite3: WAL, synchronous=NORMAL."""
    conn = sqlite3.connect(os.path.join(folder, "floor.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    keys = iter(range(10**9))

    def insert() -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (next(keys), '{"output": 1}'))
        conn.execute("COMMIT")

    result = per_call(insert, calls, rounds)
    conn.close()
    return result


def new_instance(store: SqliteStore, instance_id: str, events: int = 1) -> None:
    now = time.time()
    row = InstanceRow(instance_id, "bench", "RUNNING", now, now, "hash")
    store.create(row, [EventRow(0, "TaskCompleted", now, '{"output": 1}')] * events)


def appender(store: SqliteStore, instance_id: str, size: int) -> Callable[[], object]:
    """A function appending ``size`` events to one instance per call."""
    new_instance(store, instance_id)
    version = [1]
    batch = [EventRow(0, "TaskCompleted", time.time(), '{"output": 1}')] * size
    update = InstanceUpdate(updated_at=time.time(), properties='{"wfkit.steps": "3"}')

    def append() -> None:
        version[0] = store.append(instance_id, version[0], batch, update)

    return append


def many_appender(store: SqliteStore, count: int) -> Callable[[], object]:
    """A function appending one event to each of ``count`` instances in one call."""
    ids = [f"many-{n}" for n in range(count)]
    for instance_id in ids:
        new_instance(store, instance_id)
    versions = dict.fromkeys(ids, 1)
    event = [EventRow(0, "TaskCompleted", time.time(), '{"output": 1}')]
    update = InstanceUpdate(updated_at=time.time())

    def append_many() -> None:
        store.append_many([(i, versions[i], event, update) for i in ids])
        for instance_id in ids:
            versions[instance_id] += 1

    return append_many


def fill(path: str, count: int) -> None:
    """``count`` instances in one transaction, straight into the store's table."""
    columns = [field.name for field in fields(InstanceRow)]
    base = time.time() - count
    rows = (
        (f"inst-{n:07d}", NAMES[n % len(NAMES)], STATUSES[n % len(STATUSES)], base + n,
         base + n, "hash", '{"region": "eu"}', None, None, None, "{}", None, 3, None, None)
        for n in range(count)
    )  # fmt: skip
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO instances ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()


def threaded(folder: str, kind: Literal["thread", "shared"], threads: int, calls: int) -> float:
    """µs per append when ``threads`` threads each append and read back in a loop."""
    store = SqliteStore(os.path.join(folder, f"threads-{kind}-{time.time_ns()}.db"), connections=kind)
    work = [appender(store, f"t{n}", 1) for n in range(threads)]

    def run(n: int) -> None:
        for _ in range(calls):
            work[n]()
            store.get(f"t{n}")
            store.history(f"t{n}", after=0)

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed / (threads * calls) * 1e6


def measure(folder: str, instances: int, rounds: int) -> list[tuple[str, float]]:
    path = os.path.join(folder, "store.db")
    store = SqliteStore(path)
    rows = [
        ("append, 1 event", per_call(appender(store, "one", 1), 1000, rounds)),
        ("append, 5 events", per_call(appender(store, "five", 5), 500, rounds)),
        ("append_many, 100 instances x 1 event", per_call(many_appender(store, 100), 20, rounds)),
    ]
    new_instance(store, "long", 50)
    rows.append(("history of 50 events", per_call(lambda: store.history("long"), 1000, rounds)))
    store.close()
    fill(path, instances)
    store = SqliteStore(path)
    middle = f"inst-{instances // 2:07d}"
    owner = Owner("bench", "bench-host", os.getpid())
    store.claim(owner, 3600)  # own the active ones: the next claims find nothing
    at = f"at {instances:,} instances"
    rows += [
        (f"get, {at}", per_call(lambda: store.get(middle), 2000, rounds)),
        (f"list page of 50, first, {at}", per_call(store.list_instances, 200, rounds)),
        (
            f"list page of 50, after a middle id, {at}",
            per_call(lambda: store.list_instances(after=middle), 200, rounds),
        ),
        (
            f"list page of 50, one name, {at}",
            per_call(lambda: store.list_instances(name="workflow-3", after=middle), 200, rounds),
        ),
        (
            f"list page of 50, 2 statuses, {at}",
            per_call(lambda: store.list_instances(status=["FAILED", "RUNNING"]), 200, rounds),
        ),
        (f"claim finding nothing, {at}", per_call(lambda: store.claim(owner, 60), 200, rounds)),
        (
            f"versions of 100 ids, {at}",
            per_call(lambda: store.versions([f"inst-{n:07d}" for n in range(100)]), 200, rounds),
        ),
    ]
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = floor(folder, 1000, args.rounds)
        rows = measure(folder, args.instances, args.rounds)
        strategies = {
            kind: statistics.median(threaded(folder, kind, 3, 500) for _ in range(args.rounds))
            for kind in ("thread", "shared")
        }
    print(f"{'operation':<52}{'µs/call':>10}{'x floor':>9}")
    print(f"{'floor: sqlite3 INSERT + COMMIT (WAL, NORMAL)':<52}{base:>10.1f}{1:>9.2f}")
    for label, micros in rows:
        print(f"{label:<52}{micros:>10.1f}{micros / base:>9.2f}")
    print("\n3 threads, each: append 1 event, get, history (µs per loop, wall clock)")
    for kind, micros in strategies.items():
        name = "one connection per thread" if kind == "thread" else "one connection, one lock"
        print(f"  {name:<50}{micros:>10.1f}{micros / base:>9.2f}")
    worst = max(m for label, m in rows if label.startswith(("get", "list"))) / 1000
    verdict = "PASS" if worst < TARGET_MS else "FAIL"
    print(f"\ntarget: get and a page of 50 under {TARGET_MS:.0f} ms -> worst {worst:.3f} ms {verdict}")
    if verdict == "FAIL":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
