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


def _sqlite_file_url(tmp_path: Path) -> tuple[Store, str]:
    path = tmp_path / "shared.db"
    return SqliteStore(path), f"sqlite:///{path}"


SHARED_BACKENDS: dict[str, Callable[[Path], tuple[Store, str]]] = {
    "sqlite-file": _sqlite_file_url,
}
"""The backends other processes can reach too: a fresh store and the URL that opens it
(``wfkit.store.open_store``) from a subprocess."""


@pytest.fixture(params=sorted(SHARED_BACKENDS))
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """A new, empty store that another process can open, and its URL; closed after."""
    opened, url = SHARED_BACKENDS[request.param](tmp_path)
    try:
        yield opened, url
    finally:
        opened.close()


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new, empty store of each backend; closed after the test."""
    opened = BACKENDS[request.param](tmp_path)
    try:
        yield opened
    finally:
        opened.close()
