"""Whether the owner of an instance still holds it: one rule for every store and reader.

An owner (an engine's :class:`~wfkit.engine.protocols.Owner`: ``host:pid:random``, with
its host name and pid) holds an instance until its lease runs out. One exception makes a
crash on this machine cheap: an owner whose host is this host and whose process has
exited has lost its instances at once, without waiting for the lease. Anything else
(another host, a process that exists, any doubt about the pid) waits for the lease's
time. The stores' claims (:mod:`wfkit.store`) and the readers that show ownership
(:mod:`wfkit.runtime.ownership`) apply this rule, so that what ``wfkit get`` calls
``lost`` is what the next claim takes.

The host is the machine's name (``socket.gethostname()``) unless ``WFKIT_HOST`` names
another: a process started with ``WFKIT_HOST=elsewhere`` records and judges owners as
if it ran on a machine of that name. Tests use it to play a worker on another machine
(whose instances this host may take only when their lease runs out, as it cannot see its
process); so can two containers that share a host name.

The process probe is ``os.kill(pid, 0)`` (never on Windows, where that call kills the
process) and, on Linux, ``/proc/<pid>/stat`` (an exited process that its parent has not
reaped yet is a zombie that ``kill`` still finds).
"""

from __future__ import annotations

import os
import socket
import sys

__all__ = [
    "HOST_VARIABLE",
    "owner_is_lost",
    "owner_process_gone",
    "parse_owner",
    "process_is_gone",
    "this_host",
]

HOST_VARIABLE = "WFKIT_HOST"
"""The environment variable that overrides this machine's host name for owners."""


def this_host() -> str:
    """The name owners of this machine record as their host: ``$WFKIT_HOST`` when it is
    set, the machine's host name otherwise."""
    return os.environ.get(HOST_VARIABLE) or socket.gethostname()


def process_is_gone(pid: int | None) -> bool:
    """True only when the process with this pid on this host has exited (so its leases
    are void): no such process, or (on Linux) a zombie its parent has not yet reaped.

    Any doubt (no pid, pid 0 or below, a process of another user, Windows) is "alive":
    the instance then waits for its lease to run out instead of being taken.
    """
    if pid is None or pid <= 0 or sys.platform == "win32":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists, under another user
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """True when /proc says the process has exited and waits to be reaped (state Z)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:  # no /proc (macOS...), or the process went away meanwhile
        return False
    return bool(fields) and fields[0] in (b"Z", b"X")


def parse_owner(owner: str) -> tuple[str, int] | None:
    """``(host, pid)`` of an owner id ``host:pid:random``; None for another shape."""
    parts = owner.split(":")
    if len(parts) < 3 or not parts[-2].isdigit():
        return None
    return ":".join(parts[:-2]), int(parts[-2])


def owner_process_gone(host: str | None, pid: int | None) -> bool:
    """Whether an owner living at ``host``/``pid`` is a process of this host that exited."""
    return host is not None and host == this_host() and process_is_gone(pid)


def owner_is_lost(
    *, host: str | None, pid: int | None, lease_until: float | None, now: float
) -> bool:
    """The rule: an owner has lost an instance when its lease ran out by ``now``, or when
    it is a process of this host that has exited. ``lease_until`` None counts as held."""
    if lease_until is not None and lease_until <= now:
        return True
    return owner_process_gone(host, pid)
