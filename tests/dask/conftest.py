"""Shared set-up of the Dask runner tests: a real ``LocalCluster`` of two worker
processes, started once per test module (about 3 s), and projects written to disk.

The cluster lets Dask itself retry nothing (``allowed_failures=0``, as the cluster wfkit
starts does): a worker that dies fails its task at once, for the step's retry policy.
Every worker offers the resource ``GPU=1``. Module names are unique per test, because a
worker process keeps the modules it imported for the whole module's tests.
"""

from __future__ import annotations

import itertools
import os
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

_counter = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two single-threaded worker processes on 127.0.0.1, each offering GPU=1."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        resources={"GPU": 1},
        scheduler_kwargs={"allowed_failures": 0},
    ) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[Client]:
    """A client of the module's cluster."""
    with Client(cluster, set_as_default=False) as made:
        yield made


@dataclass
class Project:
    """A definitions folder with a store beside it, in a fresh directory."""

    root: Path
    client: Client

    @property
    def definitions(self) -> Path:
        return self.root / "definitions"

    @property
    def store(self) -> str:
        return f"sqlite:///{self.root / 's.db'}"

    def module(self, source: str) -> str:
        """Write a module with a name no other test uses; returns the name."""
        name = f"wfkit_dask_mod_{os.getpid()}_{next(_counter)}"
        path = self.definitions / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return name

    def flow(self, text: str, **names: str) -> None:
        """Write a definition; ``{name}`` placeholders are filled from ``names``."""
        body = textwrap.dedent(text).format(**names)
        name = body.split("name:", 1)[1].split()[0]
        (self.definitions / f"{name}.yaml").write_text(body, encoding="utf-8")

    def runtime(self, runner: str = "dask", **properties: str) -> Runtime:
        """A runtime on this project whose Dask steps go to the module's cluster."""
        settings = Settings.from_properties(
            {
                "definitions": str(self.definitions),
                "store": self.store,
                "runner": runner,
                "workers": "2",
                **properties,
            }
        )
        return Runtime(settings, dask_client=self.client)


@pytest.fixture
def project(tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh project in ``tmp_path`` (the working directory during the test)."""
    (tmp_path / "definitions").mkdir()
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path, client)


def _pid_gone(pid: int) -> bool:
    """True when the process no longer runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_until(predicate: Callable[[], Any], timeout: float = 20.0) -> bool:
    """Poll ``predicate`` (another process's doing: no event to wait on) until it is
    true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def _read_pid(path: Path, timeout: float = 30.0) -> int:
    """Wait for a file holding a pid and a newline; the pid."""
    assert _wait_until(lambda: path.exists() and path.read_text().endswith("\n"), timeout), path
    return int(path.read_text())


@pytest.fixture
def until() -> Callable[..., bool]:
    """``until(predicate, timeout=20)``: poll until true (see _wait_until)."""
    return _wait_until


@pytest.fixture
def gone() -> Callable[[int], bool]:
    """``gone(pid)``: wait up to 20 s for the process to disappear; True if it did."""
    return lambda pid: _wait_until(lambda: _pid_gone(pid), 20.0)


@pytest.fixture
def read_pid() -> Callable[[Path], int]:
    """``read_pid(path)``: wait for a file holding a pid and a newline; the pid."""
    return _read_pid
