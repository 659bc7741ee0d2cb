"""The ``store`` fixture: every backend the contract suite runs against.

Each parameter opens a fresh, empty store. A new backend is one more entry in
:data:`BACKENDS` (and in :data:`SHARED_BACKENDS` when another process can reach it).

PostgreSQL: one server for the whole test session (``postgres_server``, in
tests/conftest.py as other folders use it too), the one
``WFKIT_TEST_POSTGRES_URL`` names when it is set, otherwise a throw-away server started
from the ``pgserver`` wheel (PostgreSQL 16, about 3 s, deleted at the end); each test gets
a schema of its own (:func:`postgres_url`), dropped after it. A missing server or wheel
fails the tests, never skips them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wfkit.engine.protocols import Store
from wfkit.store import SqliteStore, open_store

Opener = Callable[[pytest.FixtureRequest, Path], Store]


def _sqlite_file(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "store.db")


def _sqlite_memory(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return SqliteStore(":memory:")


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return open_store(request.getfixturevalue("postgres_url"))


BACKENDS: dict[str, Opener] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
    "postgres": _postgres,
}


def _sqlite_file_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Store, str]:
    path = tmp_path / "shared.db"
    return SqliteStore(path), f"sqlite:///{path}"


def _postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Store, str]:
    url = request.getfixturevalue("postgres_url")
    return open_store(url), url


SHARED_BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], tuple[Store, str]]] = {
    "sqlite-file": _sqlite_file_url,
    "postgres": _postgres_url,
}
"""The backends other processes can reach too: a fresh store and the URL that opens it
(``wfkit.store.open_store``) from a subprocess."""


@pytest.fixture(params=sorted(SHARED_BACKENDS))
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """A new, empty store that another process can open, and its URL; closed after."""
    opened, url = SHARED_BACKENDS[request.param](request, tmp_path)
    try:
        yield opened, url
    finally:
        opened.close()


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new, empty store of each backend; closed after the test."""
    opened = BACKENDS[request.param](request, tmp_path)
    try:
        yield opened
    finally:
        opened.close()
