"""What ``wfkit worker`` prints as it runs: :class:`WorkerLog`, the engine hook.

By default one line per thing an operator cares about (:class:`OperatorLines`: instances
picked up and ended, steps completed, skipped, failed, retried or waiting, pauses);
``-v`` one line per history event (:func:`event_line`); ``--json`` one JSON object per
history event (:func:`worker_event_json`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wfkit.cli.operator_lines import OperatorLines, clock, failure_text
from wfkit.cli.show import event_line, worker_event_json

if TYPE_CHECKING:
    from wfkit.runtime.events import HistoryEvent
    from wfkit.runtime.snapshot import InstanceSnapshot

__all__ = [
    "WORKER_FORMS",
    "OperatorLines",
    "WorkerLog",
    "clock",
    "failure_text",
]


WORKER_FORMS = ("human", "verbose", "json")
"""The forms of :class:`WorkerLog`: the default lines, one line per event (``-v``), and
JSON Lines (``--json``)."""


class WorkerLog:
    """The hook of ``wfkit worker``: prints what its engine commits, as it commits it.

    ``form`` is one of :data:`WORKER_FORMS`: ``human`` (:class:`OperatorLines`, for
    people), ``verbose`` (:func:`event_line`, one line per history event) or ``json``
    (:func:`worker_event_json`, one JSON object per history event and line). Every line
    is flushed as it is written, for a reader at the other end of a pipe; once that
    reader is gone (a broken pipe) the log writes nothing more and ``closed`` is True.

    Hooks are called from several threads (the engine's loop, step worker threads): one
    lock keeps lines whole and in order.
    """

    def __init__(self, stream: Any, form: str = "human") -> None:
        if form not in WORKER_FORMS:
            raise ValueError(f"form must be one of {WORKER_FORMS}, not {form!r}")
        self.stream = stream
        self.form = form
        self.lock = threading.Lock()
        self.closed = False
        self._operator = OperatorLines()

    def hook(
        self,
        *,
        instance_id: str,
        events: list[HistoryEvent],
        snapshot: InstanceSnapshot | None = None,
        **future_kwargs: Any,
    ) -> None:
        """Print what was committed for an instance (the runtime's hook signature)."""
        with self.lock:
            if self.closed:
                return
            lines = self.lines(instance_id, events, snapshot)
            try:
                for line in lines:
                    self.stream.write(line + "\n")
                    self.stream.flush()
            except BrokenPipeError:
                self.closed = True
                _discard_the_rest(self.stream)

    def say(self, text: str, stream: Any = None) -> None:
        """Print ``text`` (to standard error by default) as one whole line: the hook
        writes from the engine's threads, and a plain ``print`` could land inside one
        of its lines."""
        with self.lock:
            print(text, file=stream or sys.stderr, flush=True)

    def lines(
        self, instance_id: str, events: Sequence[HistoryEvent], state: InstanceSnapshot | None
    ) -> list[str]:
        """The lines for one hook call, in this log's form. Without a snapshot (a caller
        that passes none), the default form prints one line per event, as ``-v`` does."""
        if self.form == "json":
            name = state.name if state is not None else ""
            return [
                json.dumps(worker_event_json(instance_id, event, name), default=str)
                for event in events
            ]
        if self.form == "verbose" or state is None:
            return [event_line(instance_id, event) for event in events]
        return self._operator.lines(instance_id, events, state)


def _discard_the_rest(stream: Any) -> None:
    """Point a stream whose reader went away at /dev/null, so that what is left in its
    buffer does not fail again when the interpreter flushes it on exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a file (a StringIO, say): nothing is flushed on exit anyway
