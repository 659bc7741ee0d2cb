"""Two processes never run the same step at once, also when the engine running a shell
step is killed with SIGKILL: the step's process group dies with it, before the engine
that takes the instance over runs the step again.

Real processes throughout: a Runtime in ``durability_runner.py`` runs the ``killable``
definition, whose shell step records its pid and sleeps; this test kills that process
with SIGKILL and starts another on the same store.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from durability_support import make_sandbox, poll_until, spawn_runner, wait_ready

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds processes through /proc"
)


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie is dead: PID 1 here does not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pid(path: Path) -> int | None:
    """The pid the step wrote to ``path`` (None until a whole line is there)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") and text.strip() else None


def test_a_sigkilled_engines_shell_step_is_gone_before_the_next_engine_reruns_it(
    tmp_path: Path,
) -> None:
    box = make_sandbox(tmp_path)
    pidfile, gate = box.root / "long.pid", box.root / "gate"
    inputs = {"pidfile": str(pidfile), "gate": str(gate)}
    first = spawn_runner(box, "first", start=[("killable", "k1", inputs)], workers=2)
    second = None
    seen: set[int] = set()
    overlaps: list[tuple[int, ...]] = []
    watching = threading.Event()

    def watch() -> None:  # every pid the step ever had, and any moment two ran at once
        while not watching.is_set():
            pid = _pid(pidfile)
            if pid is not None:
                seen.add(pid)
            running = tuple(p for p in seen if _alive(p))
            if len(running) > 1:
                overlaps.append(running)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        wait_ready(first)
        old = poll_until(lambda: _pid(pidfile), 30, "the shell step to start")
        pidfile.unlink()
        first.kill()
        killed_at = time.monotonic()
        poll_until(lambda: not _alive(old), 2.0, "the killed engine's shell step to die")
        gone_after = time.monotonic() - killed_at
        second = spawn_runner(box, "second", workers=2)
        wait_ready(second)
        new = poll_until(lambda: _pid(pidfile), 30, "the next engine to run the step again")
        assert new != old and _alive(new)
        print(
            f"the killed engine's shell step was gone {gone_after * 1000:.1f} ms after it was reaped"
        )
        second.stop()  # closes its runtime, which kills its running step
        second = None
        poll_until(lambda: not _alive(new), 5.0, "the second engine's step to die")
    finally:
        watching.set()
        watcher.join(5)
        for proc in (first, second):
            if proc is not None:
                proc.kill()
    assert overlaps == [], f"the step ran twice at once: {overlaps}"
    assert not any(_alive(pid) for pid in seen)
