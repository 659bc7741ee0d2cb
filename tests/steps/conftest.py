"""Shared set-up of the step tests: task factories, modules and notebooks written to disk,
and process checks that count a zombie as gone (PID 1 here does not reap orphans)."""

from __future__ import annotations

import itertools
import os
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from wfkit.engine.protocols import TaskSpec

_counter = itertools.count()


@dataclass
class Folders:
    """A definitions folder and a separate working directory, both fresh."""

    definitions: Path
    workdir: Path

    def task(self, kind: str, target: Any, **fields: Any) -> TaskSpec:
        """A task of instance ``inst`` and step ``s`` running in these folders."""
        fields.setdefault("instance_id", "inst")
        fields.setdefault("step", "s")
        fields.setdefault("workdir", str(self.workdir))
        fields.setdefault("definitions_dir", str(self.definitions))
        return TaskSpec(kind=kind, target=target, **fields)

    def module(self, source: str, *, where: str = "definitions") -> str:
        """Write a module with a unique name into a folder; returns the module name."""
        name = f"wfkit_test_mod_{os.getpid()}_{next(_counter)}"
        folder = self.definitions if where == "definitions" else self.workdir
        (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        return name

    def notebook(self, *cells: str | tuple[str, list[str]], name: str = "nb.ipynb") -> str:
        """Write a notebook of code cells (``(source, tags)`` for tagged ones) into the
        definitions folder; returns its path relative to that folder."""
        nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
        for cell in cells:
            source, tags = (cell, []) if isinstance(cell, str) else cell
            code = nbformat.v4.new_code_cell(textwrap.dedent(source))  # type: ignore[no-untyped-call]
            if tags:
                code.metadata["tags"] = tags
            nb.cells.append(code)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        path = self.definitions / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))  # type: ignore[no-untyped-call]
        return name


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    """Fresh definitions and working folders under ``tmp_path``."""
    definitions = tmp_path / "defs"
    workdir = tmp_path / "work"
    definitions.mkdir()
    workdir.mkdir()
    return Folders(definitions, workdir)


def pid_gone(pid: int) -> bool:
    """True when the process no longer runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # ESRCH while the process exits
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def gone() -> Callable[[int], bool]:
    """``gone(pid)``: wait up to 5 s for the process to disappear; True if it did."""
    return lambda pid: wait_until(lambda: pid_gone(pid), 5.0)


@pytest.fixture
def read_pids() -> Callable[[Path], list[int]]:
    """``read_pids(path)``: wait for a file of space-separated pids and return them."""

    def read(path: Path) -> list[int]:
        assert wait_until(lambda: path.exists() and path.read_text().endswith("\n"), 15.0)
        return [int(p) for p in path.read_text().split()]

    return read


GRANDCHILD_SCRIPT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(os.environ["PIDFILE"], "w") as f:
    f.write(f"{os.getpid()} {child.pid}\\n")
time.sleep(60)
"""
"""A program that starts a grandchild, writes both pids to ``$PIDFILE`` and sleeps."""


@pytest.fixture
def grandchild_script() -> str:
    """Source of a program that spawns a sleeping grandchild (see GRANDCHILD_SCRIPT)."""
    return GRANDCHILD_SCRIPT


@pytest.fixture
def until() -> Callable[..., bool]:
    """``until(predicate, timeout=10)``: poll until true; the predicate's last value."""
    return wait_until
