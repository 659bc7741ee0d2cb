"""What :meth:`Instance.wait() <wfkit.runtime.api.Instance.wait>` can wait for, and how
it waits without polling the store in a tight loop.

A condition is a name or a function of the instance:

=============  ==========================================================================
``terminal``   the run has ended: COMPLETED, FAILED, TERMINATED or CANCELED (the default)
``suspended``  the run is SUSPENDED: paused, at a breakpoint, or after ``step()``; a step
               it had started may still be running
``waiting``    a ``wait`` step is waiting for its event
``idle``       nothing runs: the run has ended, or no step is running and it is suspended
               or waiting for an event (it needs somebody to go on)
a function     ``until(instance)`` is true; it is called with the :class:`Instance`
=============  ==========================================================================

A run that has ended never changes again, so every wait ends when the run ends, whether
the condition holds or not: look at ``status`` when that matters.

Conditions on the status alone wake on the engine's status changes
(:meth:`Engine.wait_status_change`, through :meth:`Workflows.wait`); the others depend on
the steps too, so they wake on each of the engine's commits
(:meth:`Engine.wait_committed`) and read the instance's row then, at most
``1 / MIN_GAP`` times a second however busy the engine is. An instance that this
process's engine does not own (a worker elsewhere runs it) is read again when the store
tells of a change (:meth:`Store.wait_for_change
<wfkit.engine.protocols.Store.wait_for_change>`: at once for this process's commits,
within the store's poll interval for others'), as often at most.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wfkit.common.suggest import did_you_mean
from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.loop.engine import Engine
from wfkit.engine.protocols import InstanceRow
from wfkit.engine.wire.summary import stored_properties
from wfkit.errors import UnknownCondition, short

if TYPE_CHECKING:
    from wfkit.runtime.api import Instance

__all__ = [
    "CONDITIONS",
    "Condition",
    "UnknownCondition",
    "Until",
    "timeout_message",
    "wait",
    "wait_for",
]

#: The conditions :meth:`Instance.wait` knows by name.
Condition = Literal["terminal", "suspended", "waiting", "idle"]

#: What ``Instance.wait(until=...)`` takes: a condition's name or a function of the instance.
Until = Condition | Callable[["Instance"], bool]

#: Seconds between two reads of the row while the engine commits (bounds the reads of a
#: busy engine to 100 a second).
MIN_GAP = 0.01
#: The longest wait for a commit before reading the row anyway (a change made by another
#: process, or a commit that came between the read and the wait).
SLICE = 0.1
#: The longest wait for a change of the store before reading an instance this engine
#: does not own anyway.
MAX_WAIT = 1.0


def _properties(row: InstanceRow) -> dict[str, str]:
    return stored_properties(row)


def _steps(props: dict[str, str], key: str) -> set[str]:
    return {sid for sid in props.get(f"wfkit.steps.{key}", "").split(",") if sid}


def _is_suspended(row: InstanceRow, waits: tuple[str, ...]) -> bool:
    return row.status == RuntimeStatus.SUSPENDED.value


def _is_waiting(row: InstanceRow, waits: tuple[str, ...]) -> bool:
    return bool(_steps(_properties(row), "waiting_now").intersection(waits))


def _is_idle(row: InstanceRow, waits: tuple[str, ...]) -> bool:
    props = _properties(row)
    if _steps(props, "running_now"):
        return False
    return row.status == RuntimeStatus.SUSPENDED.value or bool(
        _steps(props, "waiting_now").intersection(waits)
    )


@dataclass(frozen=True)
class _Named:
    test: Callable[[InstanceRow, tuple[str, ...]], bool]  # the row, the wait steps' ids
    says: str  # "until workflow 'x' <says>"
    status_only: bool


def _never(row: InstanceRow, waits: tuple[str, ...]) -> bool:
    return False


#: The named conditions, each beside ending (which ends every wait).
CONDITIONS: dict[str, _Named] = {
    "terminal": _Named(_never, "ends", status_only=True),
    "suspended": _Named(_is_suspended, "is suspended", status_only=True),
    "waiting": _Named(_is_waiting, "waits for an event", status_only=False),
    "idle": _Named(
        _is_idle,
        "is idle (ended, or suspended or waiting for an event with no step running)",
        status_only=False,
    ),
}


def named(until: str) -> _Named:
    """The named condition ``until``; :class:`UnknownCondition` when there is none."""
    found = CONDITIONS.get(until)
    if found is None:
        raise UnknownCondition(until, list(CONDITIONS), did_you_mean(until, CONDITIONS))
    return found


def describe(until: Until, instance_id: str) -> str:
    """What a wait for ``until`` waits for, as in "waiting until ..."."""
    if isinstance(until, str):
        return f"workflow {short(instance_id)!r} {named(until).says}"
    name = getattr(until, "__qualname__", None) or repr(until)
    return f"{name}(instance) is true for workflow {short(instance_id)!r}"


def timeout_message(row: InstanceRow, until: Until, timeout: float) -> str:
    """The message of the :class:`TimeoutError` of a wait that ran out of time: what it
    waited for, and what the instance is still doing."""
    doing = row.custom_status
    state = row.status if doing in ("", row.status.lower()) else f"{row.status}, {doing}"
    return (
        f"gave up after {timeout:g} s waiting until {describe(until, row.instance_id)}: "
        f"it is still {state}"
    )


def wait(instance: Instance, timeout: float | None, until: Until) -> None:
    """Block until ``until`` holds for ``instance`` or the run has ended.

    Raises :class:`UnknownCondition` for a name it does not know, and
    :class:`TimeoutError` (saying what the run is still doing) after ``timeout`` seconds.
    """
    if isinstance(until, str) and named(until).status_only:
        test = named(until).test

        def done(row: InstanceRow) -> bool:
            return RuntimeStatus(row.status).is_terminal or test(row, ())

        try:
            instance.runtime.workflows.wait(instance.id, timeout, until=done)
        except TimeoutError:
            raise TimeoutError(timeout_message(instance.row(), until, timeout or 0)) from None
        return
    if not wait_for(instance.runtime.engine, instance.id, _check(instance, until), timeout):
        raise TimeoutError(timeout_message(instance.row(), until, timeout or 0))


def _check(instance: Instance, until: Until) -> Callable[[], bool]:
    """A check of ``until`` for :func:`wait_for`: true when it holds, or the run ended."""
    if isinstance(until, str):
        test = named(until).test

        def check_row() -> bool:
            row = instance.row()
            if RuntimeStatus(row.status).is_terminal:
                return True
            return test(row, instance.runtime.engine.plan_for(row.definition_hash).waits)

        return check_row

    def check_function() -> bool:
        return RuntimeStatus(instance.row().status).is_terminal or bool(until(instance))

    return check_function


def wait_for(
    engine: Engine, instance_id: str, check: Callable[[], bool], timeout: float | None
) -> bool:
    """Call ``check()`` now and after the changes the engine commits until it is true;
    False when ``timeout`` seconds (None: no limit) pass first.

    For an instance the engine owns, it wakes at each commit, and at least every
    ``SLICE`` seconds; for one it does not own, at each change the store tells of
    (``store.wait_for_change``), and at least every ``MAX_WAIT`` seconds. Either way it
    reads no more often than every ``MIN_GAP`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    store = engine.store
    token = store.wait_for_change(0)  # before the first read: a later commit moves it
    while True:
        checked = time.monotonic()
        if check():
            return True
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        if engine.running and engine.owns(instance_id):
            engine.wait_committed(SLICE if left is None else min(SLICE, left))
        else:  # run elsewhere: the store says when anything was committed
            token = store.wait_for_change(MAX_WAIT if left is None else left, after=token)
        gap = checked + MIN_GAP - time.monotonic()
        if deadline is not None:
            gap = min(gap, deadline - time.monotonic())
        if gap > 0:
            time.sleep(gap)
