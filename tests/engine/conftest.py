"""A real runtime per test: a definitions folder in tmp_path, a SQLite file, real threads."""

from __future__ import annotations

import itertools
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings

STEPS_MODULE = '''
"""Step functions for engine tests; they leave traces in files next to the store."""
import json, os, threading, time
from pathlib import Path

TRACE = Path(os.environ["WFKIT_TEST_TRACE"])


def note(name, **data):
    with open(TRACE, "a") as f:
        f.write(json.dumps({"step": name, "t": time.time(), **data}) + "\\n")


def echo(**kwargs):
    note("echo", args=kwargs)
    return kwargs


def add(a, b):
    return a + b


def slow(name="slow", seconds=0.2, value=None):
    note(name, phase="start")
    time.sleep(seconds)
    note(name, phase="end")
    return value if value is not None else name


def gate(name, seconds=10.0):
    """Runs until the file <trace>.<name>.open exists (or seconds pass)."""
    note(name, phase="start")
    flag = Path(str(TRACE) + "." + name + ".open")
    deadline = time.time() + seconds
    while not flag.exists() and time.time() < deadline:
        time.sleep(0.01)
    note(name, phase="end")
    return name


def flaky(name, failures):
    """Fails the first `failures` calls (counted in a file), then returns the attempt."""
    counter = Path(str(TRACE) + "." + name + ".count")
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    note(name, attempt=n)
    if n <= failures:
        raise ValueError(f"{name} failure {n}")
    return n


def boom(message="boom"):
    raise RuntimeError(message)


def not_json():
    return {1, 2, 3}
'''


class Env:
    """A definitions folder, a store and runtimes over them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.definitions = root / "definitions"
        self.definitions.mkdir()
        self.module = f"wfsteps_{next(_counter)}"
        (self.definitions / f"{self.module}.py").write_text(STEPS_MODULE)
        self.store = f"sqlite:///{root / 'state' / 'wfkit.db'}"
        self.trace = root / "trace.jsonl"
        self.runtimes: list[Runtime] = []

    def define(self, name: str, body: str) -> None:
        text = f"wfkit: 1\nname: {name}\n" + textwrap.dedent(body).replace("STEPS", self.module)
        (self.definitions / f"{name}.yaml").write_text(text)

    def runtime(self, *, engine: bool = True, workers: int = 4) -> Runtime:
        settings = Settings(definitions=str(self.definitions), store=self.store, workers=workers)
        runtime = Runtime(settings, run_engine=engine)
        self.runtimes.append(runtime)
        return runtime

    def open_gate(self, name: str) -> None:
        Path(str(self.trace) + "." + name + ".open").write_text("")

    def notes(self, step: str | None = None) -> list[dict[str, object]]:
        import json

        if not self.trace.exists():
            return []
        rows = [json.loads(line) for line in self.trace.read_text().splitlines()]
        return [r for r in rows if step is None or r["step"] == step]

    def close(self) -> None:
        for runtime in self.runtimes:
            runtime.close()

    @staticmethod
    def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
        """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.01)
        raise AssertionError("condition not reached in time")


_counter = itertools.count()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    environment = Env(tmp_path)
    monkeypatch.setenv("WFKIT_TEST_TRACE", str(environment.trace))
    monkeypatch.chdir(tmp_path)
    yield environment
    environment.close()
    sys.modules.pop(environment.module, None)
