"""Where :func:`~wfkit.engine.core.decide.advance` records the events of one decision.

An event is recorded with its place in the history (``seq``, the state's version plus
one) and a time (``at``; the decision's ``now`` when it has none), folded into the state
at once, and kept for the commit. Events are frozen, so each is built with its ``seq``
and ``at``: the decider builds its own with :attr:`Outbox.seq` and :attr:`Outbox.now`;
an incoming event built for this decision (an :class:`EventDraft`) is built here with its
``seq``; an incoming event that carries another number is copied once, renumbered.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from wfkit.engine.core.history import (
    ExecutionCompleted,
    ExecutionRewound,
    ExecutionTerminated,
    HistoryEvent,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
    TimerFired,
)
from wfkit.engine.core.progress import Progress
from wfkit.engine.core.state import InstanceState, apply
from wfkit.engine.core.status import RuntimeStatus

__all__ = ["EventDraft", "Incoming", "Outbox"]


class EventDraft(Protocol):
    """An incoming event still to be numbered: called with the ``seq`` it gets when it
    is recorded (for example ``functools.partial(TaskCompleted, at=now, step=...)``).
    The engine queues task results as drafts, so that none is copied to be numbered."""

    def __call__(self, *, seq: int) -> HistoryEvent: ...


Incoming = HistoryEvent | EventDraft
"""What a decision takes in: events, and drafts of events it numbers."""


class Outbox:
    """Collects the events of one decision, numbering each and folding it into the state."""

    __slots__ = ("events", "limit", "max_items", "now", "progress", "state")

    def __init__(
        self,
        state: InstanceState,
        now: float,
        progress: Progress,
        max_items: int | None = None,
        limit: int | None = None,
    ) -> None:
        self.state = state
        self.now = now
        self.progress = progress
        self.max_items = max_items  # the widest foreach allowed
        self.limit = limit  # the largest workflow output, in bytes of JSON
        self.events: list[HistoryEvent] = []

    @property
    def seq(self) -> int:
        """The ``seq`` of the next event recorded."""
        return self.state.version + 1

    def draft(self, item: Incoming) -> HistoryEvent:
        """The event that ``item`` is, or that it builds numbered as the next one."""
        if isinstance(item, HistoryEvent):
            return item
        return item(seq=self.state.version + 1)

    def emit(self, event: HistoryEvent) -> None:
        """Record ``event`` as the next one (a copy when it carries another ``seq`` or no
        time), fold it into the state and refresh the counters it changes."""
        seq = self.state.version + 1
        if event.seq != seq or not event.at:
            event = replace(event, seq=seq, at=event.at or self.now)
        apply(self.state, event)
        self.events.append(event)
        self._touch(event)

    def _touch(self, event: HistoryEvent) -> None:
        state, progress = self.state, self.progress
        how = _TOUCHES.get(type(event), _STEP)
        if how == _STEP:
            sid = getattr(event, "step", None)
        elif how == _EVERYTHING:
            if not (isinstance(event, ExecutionCompleted) and state.status is _COMPLETED):
                # steps were canceled or reset: rebuilt when needed (a completed run
                # leaves every step as it was, all settled)
                state.derived = None
            return
        elif how == _TIMER:
            progress.fired.add(event.timer_id)  # type: ignore[attr-defined]
            return
        else:  # a child's end: the step that started it
            where = state.children.get(event.child_id)  # type: ignore[attr-defined]
            sid = where[0] if where else None
        if sid:
            progress.touch(state, sid)


_COMPLETED = RuntimeStatus.COMPLETED
# What an event changes in the counters (Outbox._touch): its step (the default), every
# step, a timer, or the step of a child instance.
_STEP, _EVERYTHING, _TIMER, _CHILD = range(4)
_TOUCHES: dict[type[HistoryEvent], int] = {
    ExecutionCompleted: _EVERYTHING,
    ExecutionTerminated: _EVERYTHING,
    ExecutionRewound: _EVERYTHING,
    TimerFired: _TIMER,
    SubOrchestrationInstanceCompleted: _CHILD,
    SubOrchestrationInstanceFailed: _CHILD,
}
