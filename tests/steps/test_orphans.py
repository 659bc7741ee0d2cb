"""A step's process group dies with the engine process, SIGKILL included (the watchdog).

Each test starts a real engine stand-in (a Python process running steps on a
:class:`~wfkit.steps.runner.LocalRunner`), lets its step start processes, kills it with
SIGKILL and watches ``/proc`` for what is left. Processes of a test carry a marker in
their environment, so that even one started in the instant of the kill is found.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wfkit.steps import watchdog
from wfkit.steps.base import CancelToken
from wfkit.steps.shell import ShellHandler

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds processes through /proc"
)

ENGINE = """\
import json, sys, time
from wfkit.engine.protocols import TaskSpec
from wfkit.steps.notebook import NotebookHandler
from wfkit.steps.runner import LocalRunner
from wfkit.steps.shell import ShellHandler

fields, grace, copies = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
handlers = {"shell": ShellHandler(kill_grace=grace), "notebook": NotebookHandler(kill_grace=grace)}
runner = LocalRunner(handlers, workers=copies)
print("ready", flush=True)
for n in range(copies):
    runner.submit(TaskSpec(step=f"s{n}", **fields), lambda task, outcome: print(task.key, outcome))
time.sleep(600)
"""
"""An engine stand-in: ``engine.py FIELDS_JSON GRACE COPIES`` runs COPIES tasks of the
TaskSpec FIELDS on worker threads, printing ``ready`` just before it submits them."""

KILL_DEADLINE = 2.0
"""How soon after the engine's SIGKILL its steps' processes must be gone (seconds)."""


def _state(pid: int) -> str | None:
    """The process's state letter, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """True while the process runs (a zombie is dead: PID 1 here does not reap)."""
    return _state(pid) not in (None, "Z")


def marked(mark: str) -> list[int]:
    """Live processes whose environment holds ``WFKIT_ORPHAN_MARK=mark``."""
    needle = f"WFKIT_ORPHAN_MARK={mark}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and alive(int(name)):
            found.append(int(name))
    return found


def seconds_until(condition: Callable[[], bool], timeout: float) -> float | None:
    """Poll ``condition`` (every millisecond) until true: the seconds it took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.001)
    return None


class Engine:
    """A running engine stand-in (see ENGINE)."""

    def __init__(self, root: Path, fields: dict[str, Any], grace: float, copies: int) -> None:
        script = root / "engine.py"
        script.write_text(ENGINE)
        self.log = root / f"engine-{uuid.uuid4().hex[:6]}.log"
        with self.log.open("w") as log:
            self.popen = subprocess.Popen(
                [sys.executable, str(script), json.dumps(fields), str(grace), str(copies)],
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.popen.stdout is not None
        assert self.popen.stdout.readline() == "ready\n", self.log.read_text()

    def sigkill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        assert self.popen.stdout is not None
        self.popen.stdout.close()


@pytest.fixture
def mark() -> Iterator[str]:
    """A fresh marker; whatever still carries it at the end is killed."""
    value = uuid.uuid4().hex
    yield value
    for pid in marked(value):
        os.kill(pid, signal.SIGKILL)


def _pids(path: Path, count: int, timeout: float = 30.0) -> list[int]:
    """Wait for a line of ``count`` pids in ``path``."""

    def ready() -> bool:
        text = path.read_text() if path.exists() else ""
        return text.endswith("\n") and len(text.split()) == count

    assert seconds_until(ready, timeout) is not None, f"no pids in {path}"
    return [int(p) for p in path.read_text().split()]


def _shell_fields(folders: Any, argv: list[str], mark: str, **env: str) -> dict[str, Any]:
    return {
        "instance_id": "orphans",
        "kind": "shell",
        "target": argv,
        "env": {"WFKIT_ORPHAN_MARK": mark, **env},
        "workdir": str(folders.workdir),
        "definitions_dir": str(folders.definitions),
    }


def test_a_sigkilled_engine_takes_its_shell_step_and_grandchild_along(
    folders: Any, grandchild_script: str, mark: str
) -> None:
    pidfile = folders.workdir / "pids"
    argv = [sys.executable, "-c", grandchild_script]
    engine = Engine(folders.workdir, _shell_fields(folders, argv, mark, PIDFILE=str(pidfile)), 2, 1)
    program, grandchild = _pids(pidfile, 2)
    assert alive(program) and alive(grandchild)
    assert os.getpgid(grandchild) == program  # the step's group, led by the program
    engine.sigkill()
    took = seconds_until(lambda: not alive(program) and not alive(grandchild), KILL_DEADLINE)
    assert took is not None, f"still running {KILL_DEADLINE} s after the engine's SIGKILL"
    print(f"shell step and grandchild gone {took * 1000:.1f} ms after the engine's SIGKILL")
    assert marked(mark) == []


def test_a_group_that_ignores_sigterm_gets_sigkill_after_the_grace(folders: Any, mark: str) -> None:
    code = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"  # inherited by the grandchild
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "open(os.environ['PIDFILE'], 'w').write(f'{os.getpid()} {child.pid}\\n')\n"
        "time.sleep(60)\n"
    )
    pidfile = folders.workdir / "pids"
    fields = _shell_fields(folders, [sys.executable, "-c", code], mark, PIDFILE=str(pidfile))
    engine = Engine(folders.workdir, fields, 0.5, 1)
    program, grandchild = _pids(pidfile, 2)
    engine.sigkill()
    took = seconds_until(lambda: not alive(program) and not alive(grandchild), 0.5 + 2)
    assert took is not None, "a group that ignores SIGTERM outlived the grace"
    assert took > 0.4, f"gone after {took:.2f} s: SIGKILL came before the grace was over"
    assert marked(mark) == []


def test_a_sigkilled_engine_takes_its_notebook_kernel_and_its_children_along(
    folders: Any, mark: str
) -> None:
    path = folders.notebook(
        """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open(os.environ["PIDFILE"], "w") as f:
            f.write(f"{os.getpid()} {child.pid}\\n")
        time.sleep(60)
        """
    )
    pidfile = folders.workdir / "pids"
    fields = {
        "instance_id": "orphans",
        "kind": "notebook",
        "target": path,
        "env": {"WFKIT_ORPHAN_MARK": mark, "PIDFILE": str(pidfile)},
        "workdir": str(folders.workdir),
        "definitions_dir": str(folders.definitions),
    }
    engine = Engine(folders.workdir, fields, 2, 1)
    kernel, child = _pids(pidfile, 2, timeout=60)
    assert os.getpgid(child) == kernel
    engine.sigkill()
    # ipykernel's parent poller alone ends the kernel after about a second, and never
    # the child: both must be gone well before that.
    took = seconds_until(lambda: not alive(kernel) and not alive(child), KILL_DEADLINE)
    assert took is not None, f"kernel or its child still running {KILL_DEADLINE} s after"
    print(f"kernel and its child gone {took * 1000:.1f} ms after the engine's SIGKILL")
    assert took < 0.9
    assert marked(mark) == []


def test_an_engine_killed_while_it_starts_steps_leaves_nothing_running(
    folders: Any, mark: str
) -> None:
    """No instant of a step's start is unwatched: kill the engine at random moments
    while four steps start on four threads; whatever had started must die."""
    started = folders.workdir / "started"
    argv = ["sh", "-c", 'echo $$ >> "$STARTED"; exec sleep 60']
    fields = _shell_fields(folders, argv, mark, STARTED=str(started))
    rng = random.Random(7)
    for trial in range(12):
        engine = Engine(folders.workdir, fields, 2, 4)
        # odd trials kill while the steps start, even ones a little later (a slow machine
        # may need tens of milliseconds to start the first one), so that both happen
        time.sleep(rng.uniform(0, 0.015) if trial % 2 else rng.uniform(0.015, 0.15))
        engine.sigkill()
        took = seconds_until(lambda: marked(mark) == [], KILL_DEADLINE)
        assert took is not None, f"trial {trial}: {marked(mark)} outlived the engine"
    count = len(started.read_text().split()) if started.exists() else 0
    print(f"{count} of {12 * 4} programs had started when their engine was killed")
    assert count > 0, "the kills all came before any program started: nothing was tested"


def test_the_program_is_what_runs_in_the_steps_session(folders: Any) -> None:
    """The launcher execs the program: same pid (leading its session and group), this
    process as parent, stdin from /dev/null and no descriptor of the watchdog's pipe."""
    code = (
        "import json, os, sys\n"
        "fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))\n"
        "json.dump({'pid': os.getpid(), 'pgid': os.getpgid(0), 'sid': os.getsid(0),\n"
        "    'ppid': os.getppid(), 'argv': sys.argv, 'fds': fds,\n"
        "    'stdin': os.fstat(0).st_rdev == os.stat('/dev/null').st_rdev},\n"
        "    open(os.environ['WFKIT_OUTPUT'], 'w'))\n"
    )
    outcome = ShellHandler().run(
        folders.task("shell", ("python", "-c", code, "arg")), CancelToken()
    )
    assert outcome.ok, outcome
    seen = outcome.output
    assert seen["pid"] == seen["pgid"] == seen["sid"]
    assert seen["ppid"] == os.getpid()
    assert seen["argv"] == ["-c", "arg"]
    assert seen["stdin"] is True
    assert seen["fds"] == [0, 1, 2, 3]  # 3: the listing's own, for listdir
    assert watchdog.watchdog_available()


def _watchers() -> list[int]:
    """This process's watcher children, zombies included."""
    found = []
    for name in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"wfkit-watchdog" in cmdline:
            found.append(int(name))
    return found


def test_watchers_are_reaped_and_add_about_a_millisecond(
    folders: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    handler = ShellHandler()
    task = folders.task("shell", ("true",))

    def median_ms(runs: int = 40) -> float:
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            assert handler.run(task, CancelToken()).ok
            times.append((time.perf_counter() - began) * 1000)
        return statistics.median(times)

    median_ms(5)  # warm up
    watched = median_ms()
    time.sleep(0.1)  # the watchers told "done" exit; the next start reaps them
    assert handler.run(task, CancelToken()).ok
    assert len(_watchers()) <= 1  # at most the last one, released but not reaped yet

    # Without /bin/sh the step runs as before, unwatched, with one warning.
    monkeypatch.setattr(watchdog, "SH", str(folders.workdir / "no-such-sh"))
    monkeypatch.setattr(watchdog, "_warned", threading.Event())
    with caplog.at_level(logging.WARNING, logger="wfkit.steps"):
        unwatched = median_ms()
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "run unwatched" in caplog.records[0].message
    print(f"a `true` step: {watched:.2f} ms watched, {unwatched:.2f} ms unwatched (median)")
    assert watched - unwatched < 10
