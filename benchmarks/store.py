"""Per-operation cost of the SQLite store, against the raw SQLite floor of the same run.

Prints a table of microseconds per call (median of several rounds) for the store's hot
operations, each with its ratio to the floor (``_common.sqlite_floor``: one ``BEGIN`` +
``INSERT`` + ``COMMIT`` per row with plain ``sqlite3``, WAL, ``synchronous=NORMAL``, the
least any durable append can cost). Reads (``get``, pages of ``list_instances``, a claim
that finds nothing) are measured with 100,000 instances stored. Then the two ways threads
can share the database (one connection per thread, or one connection behind a lock)
under two patterns of small transactions from 3 threads (loops per second of each
thread). Target (the store issue): ``get`` and a page of 50 under 5 ms each at 100,000
instances.

    python benchmarks/store.py [--instances 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Literal

from _common import fill_instances, sqlite_floor, table

from wfkit.engine.protocols import EventRow, InstanceRow, InstanceUpdate, Owner
from wfkit.store import SqliteStore

TARGET_MS = 5.0
PAYLOAD = '{"step": "s12", "index": null, "attempt": 1, "output": {"n": 1, "ok": true}}'
KINDS: tuple[Literal["thread", "shared"], ...] = ("thread", "shared")
LOOPS = [0, 0, 0]  # loops done by each thread of a sharing pattern


def per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean µs per call of ``calls`` calls."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(results)


def new_instance(store: SqliteStore, instance_id: str, events: int = 1) -> None:
    now = time.time()
    row = InstanceRow(instance_id, "bench", "RUNNING", now, now, "hash")
    store.create(row, [EventRow(0, "TaskCompleted", now, PAYLOAD)] * events)


def appender(store: SqliteStore, instance_id: str, size: int) -> Callable[[], object]:
    """A function appending ``size`` events to one instance per call (as the engine does:
    the status stays, the summary in ``properties`` and ``updated_at`` change)."""
    new_instance(store, instance_id)
    version = [1]
    batch = [EventRow(0, "TaskCompleted", time.time(), PAYLOAD)] * size
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
    event = [EventRow(0, "TaskCompleted", time.time(), PAYLOAD)]
    update = InstanceUpdate(updated_at=time.time())

    def append_many() -> None:
        store.append_many([(i, versions[i], event, update) for i in ids])
        for instance_id in ids:
            versions[instance_id] += 1

    return append_many


def writes(path: str, rounds: int) -> list[tuple[str, float]]:
    """The appends and a history read, on a small store."""
    store = SqliteStore(path)
    rows = [
        ("append, 1 event", per_call(appender(store, "one", 1), 1000, rounds)),
        ("append, 5 events", per_call(appender(store, "five", 5), 500, rounds)),
        ("append_many, 100 instances x 1 event", per_call(many_appender(store, 100), 20, rounds)),
    ]
    new_instance(store, "long", 50)
    rows.append(("history of 50 events", per_call(lambda: store.history("long"), 1000, rounds)))
    store.close()
    return rows


def reads(path: str, instances: int, rounds: int) -> list[tuple[str, float]]:
    """Reads and a claim with ``instances`` more instances stored (10 % of them active,
    all owned by a live process of this host, so a claim must probe it and find nothing)."""
    fill_instances(path, instances)
    store = SqliteStore(path)
    middle = f"inst-{instances // 2:07d}"
    store.claim(Owner("bench", socket.gethostname(), os.getpid()), 3600, limit=instances)
    other = Owner("other", socket.gethostname(), os.getpid())
    some = [f"inst-{n:07d}" for n in range(0, instances, max(instances // 100, 1))]
    at = f"{instances:,} stored"
    rows = [
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
        (f"claim finding nothing, {at}", per_call(lambda: store.claim(other, 60), 200, rounds)),
        (f"versions of 100 ids, {at}", per_call(lambda: store.versions(some), 200, rounds)),
    ]
    store.close()
    return rows


def small_transactions(store: SqliteStore, seconds: float) -> list[threading.Thread]:
    """3 threads, each in a loop: append 1 event to its instance, get it, read the new event."""
    work = [appender(store, f"small-{n}", 1) for n in range(3)]

    def loop(n: int) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            work[n]()
            found = store.get(f"small-{n}")
            assert found is not None
            store.history(found.instance_id, after=found.version - 1)
            LOOPS[n] += 1

    return [threading.Thread(target=loop, args=(n,)) for n in range(3)]


def engine_like(store: SqliteStore, seconds: float) -> list[threading.Thread]:
    """1 thread appending to 10 instances per transaction (the engine loop); 2 threads
    polling an instance, its new events and a page of the list (notebook, HTTP API)."""
    batch = many_appender(store, 10)
    ids = [f"many-{n}" for n in range(10)]

    def engine() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            batch()
            store.versions(ids)
            LOOPS[0] += 1

    def reader(n: int) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            found = store.get(ids[LOOPS[n] % 10])
            assert found is not None
            store.history(found.instance_id, after=found.version - 2)
            store.list_instances(limit=20)
            LOOPS[n] += 1

    readers = [threading.Thread(target=reader, args=(n,)) for n in (1, 2)]
    return [threading.Thread(target=engine), *readers]


def threaded(
    folder: str,
    kind: Literal["thread", "shared"],
    pattern: Callable[[SqliteStore, float], list[threading.Thread]],
    seconds: float = 1.0,
) -> list[float]:
    """Loops per second of each of the pattern's threads."""
    store = SqliteStore(os.path.join(folder, f"{kind}-{time.time_ns()}.db"), connections=kind)
    LOOPS[:] = [0, 0, 0]
    pool = pattern(store, seconds)
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    store.close()
    return [count / seconds for count in LOOPS]


def sharing(folder: str, rounds: int) -> list[tuple[str, str, list[float]]]:
    """Each pattern under each way of sharing the database (median of ``rounds``)."""
    found: list[tuple[str, str, list[float]]] = []
    for pattern in (small_transactions, engine_like):
        for kind in KINDS:
            runs = [threaded(folder, kind, pattern) for _ in range(rounds)]
            rates = [statistics.median(r) for r in zip(*runs, strict=True)]
            found.append((pattern.__name__, kind, rates))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = sqlite_floor(folder, rows=1000, rounds=args.rounds) * 1e6
        path = os.path.join(folder, "store.db")
        rows = writes(path, args.rounds) + reads(path, args.instances, args.rounds)
        shared = sharing(folder, max(args.rounds // 2, 1))
    print(
        table(
            ["operation", "µs/call", "x floor"],
            [("floor: sqlite3 BEGIN + INSERT + COMMIT (WAL, NORMAL)", f"{base:.1f}", "1.00")]
            + [(label, f"{us:.1f}", f"{us / base:.2f}") for label, us in rows],
        )
    )
    print()
    print(
        table(
            ["threads sharing the database", "thread 1", "2", "3", "loops/s"],
            [
                (
                    f"{pattern}, {'connection per thread' if kind == 'thread' else 'one + lock'}",
                    *(f"{rate:.0f}" for rate in rates),
                    f"{sum(rates):.0f}",
                )
                for pattern, kind, rates in shared
            ],
        )
    )
    worst = max(us for label, us in rows if label.startswith(("get", "list"))) / 1000
    verdict = "PASS" if worst < TARGET_MS else "FAIL"
    print(
        f"\ntarget: get and a page of 50 under {TARGET_MS:.0f} ms -> worst {worst:.3f} ms {verdict}"
    )
    if verdict == "FAIL":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
