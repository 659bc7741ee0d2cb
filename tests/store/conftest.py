"""The ``store`` fixture: every backend the contract suite runs against.

Each parameter opens a fresh, empty store. A new backend is one more entry in
:data:`BACKENDS` (for PostgreSQL: a function that opens a store on a fresh database or
schema and fails, never skips, when the server is missing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wfkit.engine.protocols import Store
from wfkit.store import SqliteStore


def _sqlite_file(tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "store.db")


def _sqlite_memory(tmp_path: Path) -> Store:
    return SqliteStore(":memory:")


BACKENDS: dict[str, Callable[[Path], Store]] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new, empty store of each backend; closed after the test."""
    opened = BACKENDS[request.param](tmp_path)
    try:
        yield opened
    finally:
        opened.close()
