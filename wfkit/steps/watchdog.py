"""A step's process group dies with the engine process, however the engine dies.

Shell steps and notebook kernels run in a session of their own, so that a timeout or a
terminate can kill their whole process group. The flip side: when the engine process
dies without killing them (SIGKILL, the OOM killer, a crash), the group lives on as an
orphan while the next engine takes the instance over and runs the step again beside it.

A :class:`Watchdog` closes that gap. For each step process, the engine starts a tiny
``/bin/sh`` watcher (in a session of its own, so terminal signals miss it) that holds
the read end of a pipe; the engine holds the only write end (close-on-exec, and closed
in children forked without exec). The step's program is started through ``/bin/sh``
too, as ``sh -c 'echo $$ >&0; exec "$@" </dev/null' wfkit-step ARGV...`` with the write
end as its stdin: before it execs the program (in the same process, so the pid, process
group, exit status and signals are the program's own) it writes its pid, which is the
process group, to the watcher, and it keeps no copy of the pipe afterwards. Then:

- the step ends while the engine lives: the engine writes ``done``; the watcher exits
  and nothing is killed (the watcher is the engine's child, reaped without waiting for
  it by the next start or release of a watchdog);
- the engine dies, however: the kernel closes its write end, the watcher reads end of
  file and sends SIGTERM to the group, then SIGKILL once the grace period has passed
  with some of the group still there. SIGTERM arrives within milliseconds.

Because the program itself reports its group before it runs, there is no moment in
which the program runs unwatched: an engine killed while it starts the step leaves
either nothing running, or a watcher that is told the group by the program.

What is covered, and what is not:

- Covered: the program and every descendant that stays in its process group (children,
  grandchildren, pipelines, ``sh -c``, a notebook kernel's subprocesses), whatever kills
  the engine; a nested wfkit engine run by a step takes its own steps with it in turn.
- Not covered: a descendant that leaves the group (``setsid``, ``setpgid``, daemons,
  tools that start their own sessions). Timeouts and terminate do not reach those
  either; only a cgroup would. (Jupyter's ``!cmd`` runs in a pty session of its own but
  dies with the kernel: the pty's hangup.)
- Not covered: an engine that is frozen rather than dead (SIGSTOP): its pipe stays open.
- Not covered: a watcher killed from outside (its step then runs unwatched).
- The grace is the handler's ``kill_grace``: a program that honours SIGTERM is gone at
  once; one that ignores it, after the grace.

Cost: about a millisecond more to start a step (the watcher's start and the launcher's
``sh``, each about half of it), and one small ``sh`` process per running step.

Elsewhere: the mechanism is plain POSIX (a pipe, ``/bin/sh``, ``kill -s``), so it
should work the same on macOS and the BSDs (it is tested on Linux, with dash). Where
``/bin/sh`` is missing (a distroless image) or on Windows, steps run as before,
unwatched, with one warning in the log.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType

__all__ = ["POLL", "SH", "Watchdog", "check_program", "watchdog_available"]

log = logging.getLogger("wfkit.steps")

SH = "/bin/sh"
"""The shell that runs the watcher and the launcher (any POSIX ``sh``)."""

POLL = 0.1
"""Seconds between the watcher's checks for the group during the grace period."""

# The watcher: stdin is the pipe. A line of digits is the process group to guard (from
# the launcher), ``done`` (from the engine) stands it down, end of file means the engine
# died: SIGTERM the group, poll it for up to $1 ticks, then SIGKILL whatever is left.
_WATCHER = f"""\
trap '' HUP INT QUIT TERM
group=
while read -r line; do
  case $line in
    done) exit 0 ;;
    '' | *[!0-9]*) ;;
    *) group=$line ;;
  esac
done
[ -n "$group" ] || exit 0
kill -s TERM -- "-$group" 2>/dev/null || exit 0
ticks=$1
while [ "$ticks" -gt 0 ] && kill -s 0 -- "-$group" 2>/dev/null; do
  sleep {POLL}
  ticks=$((ticks - 1))
done
kill -s KILL -- "-$group" 2>/dev/null
exit 0
"""

# The launcher: stdin is the write end. It reports its pid (= the process group, as it
# leads a new session) and execs the program with stdin from /dev/null. SIGPIPE is
# ignored around the write only (a watcher killed from outside must not stop the step).
_LAUNCHER = 'trap "" PIPE; echo "$$" >&0 2>/dev/null; trap - PIPE; exec "$@" </dev/null'

_WATCHER_ENV = {"PATH": os.defpath, "LC_ALL": "C"}

_open_fds: set[int] = set()
"""Write ends held for running steps, closed in children forked without exec."""

_warned = threading.Event()

_released: list[subprocess.Popen[bytes]] = []
"""Watchers told ``done`` that had not exited yet: reaped by :func:`_reap_released`."""
_released_lock = threading.Lock()


def _reap_released() -> None:
    """Reap the released watchers that have exited (without waiting for the others)."""
    if not _released:
        return
    with _released_lock:
        _released[:] = [process for process in _released if process.poll() is None]


def _close_in_forked_child() -> None:
    # A child forked without exec (multiprocessing's "fork") must not keep the engine's
    # write ends open: the watchers would never see the engine die while it lives.
    for fd in list(_open_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _open_fds.clear()
    global _released_lock
    _released_lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_forked_child)


def watchdog_available() -> bool:
    """Whether steps can be watched here: a POSIX system with an executable ``/bin/sh``."""
    return os.name == "posix" and os.access(SH, os.X_OK)


def check_program(name: str, env: Mapping[str, str], cwd: str) -> None:
    """Raise what :class:`subprocess.Popen` would raise for ``name`` as ``argv[0]``.

    ``FileNotFoundError`` when no such program exists (on the ``PATH`` of ``env`` when
    ``name`` has no slash; relative paths are relative to ``cwd``), ``PermissionError``
    when one exists but cannot be executed. The launcher is what really starts the
    program, so its errors would only show as exit codes 126 and 127; this check keeps
    the clear errors of a direct start.
    """
    if os.path.dirname(name):
        candidates = [name]
    else:
        candidates = [os.path.join(folder, name) for folder in os.get_exec_path(dict(env))]
    denied = False
    for candidate in candidates:
        path = os.path.join(cwd, candidate)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return
        denied = denied or os.path.exists(path)
    if denied:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)


class Watchdog:
    """The watcher of one step process (see the module docstring).

    ``Watchdog.start(grace)`` starts the watcher; start the step's process with
    :meth:`command` as its argv, :attr:`stdin` as its stdin and a new session; call
    :meth:`release` once that process has ended (also when it never started). A
    context manager too (release on exit). Where watching is not possible
    (:func:`watchdog_available`), or the watcher cannot be started, the watchdog is
    unarmed: :meth:`command` returns the argv unchanged and :attr:`stdin` is
    ``/dev/null``.
    """

    __slots__ = ("_fd", "_process")

    def __init__(self, process: subprocess.Popen[bytes] | None, fd: int | None) -> None:
        self._process = process
        self._fd = fd

    @classmethod
    def start(cls, grace: float) -> Watchdog:
        """Start a watcher that gives the group ``grace`` seconds between SIGTERM and
        SIGKILL when the engine dies. Never raises: an unarmed watchdog instead."""
        if not watchdog_available():
            _warn_once(f"{SH} is not available")
            return cls(None, None)
        _reap_released()
        ticks = max(0, math.ceil(grace / POLL))
        read_end, write_end = os.pipe()
        _open_fds.add(write_end)
        try:
            process = subprocess.Popen(
                [SH, "-c", _WATCHER, "wfkit-watchdog", str(ticks)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                env=_WATCHER_ENV,
                start_new_session=True,
            )
        except OSError as exc:
            _open_fds.discard(write_end)
            os.close(write_end)
            _warn_once(f"the watcher could not start ({exc})")
            return cls(None, None)
        finally:
            os.close(read_end)
        return cls(process, write_end)

    @property
    def armed(self) -> bool:
        """True while a watcher guards the step (not released, not unavailable)."""
        return self._fd is not None

    @property
    def stdin(self) -> int:
        """The stdin to give the step's process: the pipe, or ``/dev/null`` unarmed."""
        return subprocess.DEVNULL if self._fd is None else self._fd

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` started through the launcher (``argv`` itself when unarmed)."""
        if self._fd is None:
            return list(argv)
        return [SH, "-c", _LAUNCHER, "wfkit-step", *argv]

    def release(self) -> None:
        """The step's process has ended (or never started): stand the watcher down and
        reap it. Idempotent."""
        fd, self._fd = self._fd, None
        process, self._process = self._process, None
        if fd is not None:
            with contextlib.suppress(OSError):  # OSError: the watcher was killed from outside
                os.write(fd, b"done\n")
            _open_fds.discard(fd)
            os.close(fd)
        if process is not None and process.poll() is None:
            # It exits as soon as it reads "done"; waiting for that here would cost the
            # step milliseconds, so it is reaped by a later start or release instead.
            with _released_lock:
                _released.append(process)
        _reap_released()

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def _warn_once(reason: str) -> None:
    if not _warned.is_set():
        _warned.set()
        log.warning(
            "shell and notebook steps run unwatched: %s, so a step's processes can "
            "outlive an engine process that is killed",
            reason,
        )
