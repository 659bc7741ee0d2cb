"""Helpers shared by the benchmark scripts: timing, the raw SQLite floor, bulk fills, tables.

Not a package: the scripts run as ``python benchmarks/NAME.py``, which puts this folder
on ``sys.path``, so ``import _common`` finds this file.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import fields

from wfkit.engine.protocols import InstanceRow

__all__ = [
    "fill_instances",
    "median",
    "sample",
    "sqlite_floor",
    "table",
]

STATUSES = ["COMPLETED"] * 7 + ["FAILED", "TERMINATED", "RUNNING"]
NAMES = [f"workflow-{n}" for n in range(20)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def sample(fn: Callable[[], object], calls: int) -> list[float]:
    """Seconds taken by each of ``calls`` calls of ``fn``."""
    times = []
    clock = time.perf_counter
    for _ in range(calls):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def sqlite_floor(
    folder: str, rows: int = 2000, rounds: int = 5, *, synchronous: str = "NORMAL"
) -> float:
    """Seconds per row of the least a durable step can cost: plain ``sqlite3``, WAL,
    ``synchronous`` (NORMAL unless told), one ``BEGIN`` + ``INSERT`` of a small JSON payload +
    ``COMMIT`` per row (median over ``rounds`` of the mean of ``rows`` rows)."""
    path = os.path.join(folder, f"floor-{time.time_ns()}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(
        "CREATE TABLE history (instance_id TEXT NOT NULL, seq INTEGER NOT NULL, "
        "type TEXT NOT NULL, at REAL NOT NULL, data TEXT NOT NULL, "
        "PRIMARY KEY (instance_id, seq)) WITHOUT ROWID"
    )
    payload = '{"step": "s12", "index": null, "attempt": 1, "output": {"n": 1, "ok": true}}'
    seq = iter(range(10**9))
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(rows):
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO history VALUES (?, ?, ?, ?, ?)",
                ("floor", next(seq), "TaskCompleted", time.time(), payload),
            )
            conn.execute("COMMIT")
        results.append((time.perf_counter() - start) / rows)
    conn.close()
    return statistics.median(results)


def fill_instances(path: str, count: int, *, created_from: float | None = None) -> None:
    """``count`` instances in one transaction, straight into the store's ``instances``
    table (the file must already hold the schema: open a ``SqliteStore`` on it first).
    Statuses cycle through ``STATUSES``, names through ``NAMES``; ids are ``inst-NNNNNNN``.
    Only the columns of :class:`InstanceRow` that the table has are filled."""
    base = time.time() - count if created_from is None else created_from
    conn = sqlite3.connect(path, isolation_level=None)
    present = {row[1] for row in conn.execute("PRAGMA table_info(instances)")}
    columns = [field.name for field in fields(InstanceRow) if field.name in present]

    def values(n: int) -> tuple[object, ...]:
        row = InstanceRow(
            instance_id=f"inst-{n:07d}",
            workflow_name=NAMES[n % len(NAMES)],
            status=STATUSES[n % len(STATUSES)],
            created_at=base + n,
            updated_at=base + n,
            definition_hash="hash",
            input='{"region": "eu"}',
            version=3,
        )
        return tuple(getattr(row, name) for name in columns)

    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO instances ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        (values(n) for n in range(count)),
    )
    conn.execute("COMMIT")
    conn.close()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
