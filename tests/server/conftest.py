"""A real ``wfkit serve`` process on a free loopback port, for every server test.

``served`` starts one per test in a temporary folder (its own definitions copied from
``tests/server/definitions``, its own SQLite store), waits for ``/v1.0/healthz``, and
stops it with SIGTERM afterwards (killing it if it does not stop). ``serve_process``
starts one with extra flags or environment, for tests that need them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).parent
DEFINITIONS = HERE / "definitions"


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """A running ``wfkit serve``: its URL, folder and process."""

    url: str
    folder: Path
    process: subprocess.Popen[str]
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client for this server."""
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def log_text(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; returns the exit code (kills it after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    folder: Path,
    *flags: str,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> Served:
    """Start ``wfkit serve`` in ``folder`` (its definitions in ``folder/definitions``) and
    wait until it answers its health check."""
    port = free_port()
    log = folder / f"serve-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wfkit",
                "serve",
                "--host",
                host,
                "--port",
                str(port),
                "--definitions",
                str(folder / "definitions"),
                "--store",
                f"sqlite:///{folder / 'wfkit.db'}",
                *flags,
            ],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
    served = Served(f"http://127.0.0.1:{port}", folder, process, log)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(f"wfkit serve exited {process.returncode}:\n{served.log_text()}")
        try:
            if (
                httpx.get(f"{served.url}/v1.0/healthz", headers=headers, timeout=2).status_code
                == 204
            ):
                return served
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            served.stop()
            raise AssertionError(f"wfkit serve did not answer in 60 s:\n{served.log_text()}")
        time.sleep(0.05)


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start servers (with flags of the test's choosing) that are stopped after the test."""
    shutil.copytree(DEFINITIONS, tmp_path / "definitions")
    started: list[Served] = []

    def start(*flags: str, **kwargs: object) -> Served:
        served = start_server(tmp_path, *flags, **kwargs)  # type: ignore[arg-type]
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def served(serve_process: Callable[..., Served]) -> Served:
    """A ``wfkit serve`` on a free loopback port, with the engine's workers running."""
    return serve_process()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    """Start ``wfkit worker`` processes on the test's store (stopped afterwards)."""
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        log = (tmp_path / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wfkit",
                "worker",
                "--definitions",
                str(tmp_path / "definitions"),
                "--store",
                f"sqlite:///{tmp_path / 'wfkit.db'}",
            ],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
