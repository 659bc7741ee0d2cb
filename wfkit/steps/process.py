"""Subprocess plumbing for shell and notebook steps: group kills and capped capture.

A step's process is started in a session of its own, so its process group holds the
process and every child it starts (unless a child starts a session of its own). Killing
the group sends SIGTERM, waits up to a grace period for the group to go, then sends
SIGKILL. On Linux the group is looked up in ``/proc`` and zombies count as gone (an
orphaned child is reaped by PID 1, which in some containers never happens).

These kills come from the engine process. When it dies instead (SIGKILL included), a
:class:`~wfkit.steps.watchdog.Watchdog` of each running step kills the group.
"""

from __future__ import annotations

import os
import selectors
import signal
import threading
import time
from collections.abc import Sequence
from typing import IO

from wfkit.engine.protocols import TaskSpec

__all__ = [
    "KILL_GRACE",
    "TAIL_BYTES",
    "PipeCapture",
    "child_environment",
    "group_alive",
    "kill_group",
    "kill_group_soon",
    "process_text_problem",
]

KILL_GRACE = 2.0
"""Seconds between SIGTERM and SIGKILL when a step's process group is killed."""

TAIL_BYTES = 64 * 1024
"""How much of a step's stdout and of its stderr is kept (the last bytes)."""

_PROC = "/proc"


def _proc_group_alive(pgid: int) -> bool | None:
    """Whether a live (not zombie) process of group ``pgid`` exists; None without /proc."""
    try:
        names = os.listdir(_PROC)
    except OSError:
        return None
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{_PROC}/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z":
            return True
    return False


def group_alive(pgid: int) -> bool:
    """Whether some process of group ``pgid`` still runs (zombies do not count on Linux)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    found = _proc_group_alive(pgid)
    return True if found is None else found


def _signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group, wait up to ``grace`` seconds, then SIGKILL what is left.

    Blocks for at most about ``grace`` seconds.
    """
    if not _signal_group(pgid, signal.SIGTERM):
        return
    _escalate(pgid, grace)


def _escalate(pgid: int, grace: float) -> None:
    deadline = time.monotonic() + grace
    pause = 0.005
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    _signal_group(pgid, signal.SIGKILL)


def kill_group_soon(pgid: int, grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group now; SIGKILL it after ``grace`` on a background thread.

    Returns at once (for cancel callbacks, which run on the caller's thread).
    """
    if _signal_group(pgid, signal.SIGTERM):
        threading.Thread(
            target=_escalate, args=(pgid, grace), name=f"wfkit-kill-{pgid}", daemon=True
        ).start()


class _Tail:
    """The last ``limit`` bytes written, and how many were dropped before them."""

    __slots__ = ("data", "dropped", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        extra = len(self.data) - self.limit
        if extra > 0:
            del self.data[:extra]
            self.dropped += extra


class PipeCapture:
    """Reads a process's stdout and stderr on one background thread, keeping the tails.

    Both pipes are drained concurrently (no deadlock however much either one writes);
    each keeps its last ``limit`` bytes and counts the bytes dropped before them.
    """

    def __init__(self, stdout: IO[bytes], stderr: IO[bytes], limit: int = TAIL_BYTES) -> None:
        self._tails = {"stdout": _Tail(limit), "stderr": _Tail(limit)}
        self._pipes = {"stdout": stdout, "stderr": stderr}
        self._thread = threading.Thread(target=self._read, name="wfkit-capture", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with selectors.DefaultSelector() as selector:
            for name, pipe in self._pipes.items():
                selector.register(pipe, selectors.EVENT_READ, name)
            while selector.get_map():
                for key, _ in selector.select():
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        self._tails[key.data].add(chunk)
                    else:
                        selector.unregister(key.fileobj)
        for pipe in self._pipes.values():
            pipe.close()

    def finish(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for both pipes to close; False if still open
        (a background process of the step kept them)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def text(self, name: str) -> str:
        """What was kept of ``stdout`` or ``stderr``, decoded as UTF-8 (bad bytes replaced)."""
        return bytes(self._tails[name].data).decode("utf-8", errors="replace")

    def dropped(self, name: str) -> int:
        """How many bytes of ``stdout`` or ``stderr`` were dropped (only the tail is kept)."""
        return self._tails[name].dropped


def child_environment(task: TaskSpec, output_path: str, import_dirs: list[str]) -> dict[str, str]:
    """The environment of a step's process: this process's, then ``task.env``, then
    wfkit's variables; ``import_dirs`` (absolute) go first on ``PYTHONPATH``.

    wfkit's variables: ``WFKIT_OUTPUT`` (the result file), ``WFKIT_INSTANCE_ID``,
    ``WFKIT_STEP``, ``WFKIT_ATTEMPT``, ``WFKIT_INDEX`` (the foreach index, or empty),
    ``WFKIT_WORKDIR`` and ``WFKIT_DEFINITIONS`` (absolute folders).
    """
    env = dict(os.environ)
    env.update(task.env)
    paths = [*import_dirs, *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.update(
        WFKIT_OUTPUT=output_path,
        WFKIT_INSTANCE_ID=task.instance_id,
        WFKIT_STEP=task.step,
        WFKIT_ATTEMPT=str(task.attempt),
        WFKIT_INDEX="" if task.index is None else str(task.index),
        WFKIT_WORKDIR=os.path.abspath(task.workdir),
        WFKIT_DEFINITIONS=os.path.abspath(task.definitions_dir),
    )
    return env


def process_text_problem(env: dict[str, str], argv: Sequence[str] = ()) -> str:
    """Why a step's ``env`` (or its ``argv``) cannot be handed to a process, or "": a NUL
    character, which C strings cannot carry (Python's exec fails with "embedded null
    byte"), or text the file system encoding cannot encode (a lone surrogate). The reason
    names the item."""
    for index, arg in enumerate(argv):
        why = _os_text(arg)
        if why:
            return f"argv item {index} ({_clip(arg)}) {why}, which program arguments cannot hold"
    for key, value in env.items():
        why = _os_text(value)  # names were checked with the definition
        if why:
            return (
                f"env {key[:60]}: its value ({_clip(value)}) {why}, which an environment "
                "variable cannot hold; remove it, or pass such data in a file"
            )
    return ""


def _os_text(text: str) -> str:
    nul = text.find("\0")
    if nul >= 0:
        return f"holds a NUL character (\\x00, character {nul + 1})"
    try:
        os.fsencode(text)
    except UnicodeEncodeError as exc:
        return f"holds {text[exc.start]!r} (character {exc.start + 1}), not valid Unicode"
    return ""


def _clip(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
