"""The history events that readers above the runtime are handed (by hooks, by
``Instance.history()``), under the runtime's roof.

Views, the CLI and the server read history events (they print them, and a hook is told
which ones a commit recorded) but never the engine's state or plan: they import the
event types from here, not from :mod:`wfkit.engine.core.history`.
"""

from __future__ import annotations

from wfkit.engine.core.history import (
    BreakpointSet,
    EventRaised,
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionRewound,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    Failure,
    HistoryEvent,
    StepFailed,
    StepSkipped,
    StepStarted,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceCreated,
    SubOrchestrationInstanceFailed,
    TaskAbandoned,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)

__all__ = [
    "BreakpointSet",
    "EventRaised",
    "ExecutionCompleted",
    "ExecutionResumed",
    "ExecutionRewound",
    "ExecutionStarted",
    "ExecutionSuspended",
    "ExecutionTerminated",
    "Failure",
    "HistoryEvent",
    "StepFailed",
    "StepSkipped",
    "StepStarted",
    "SubOrchestrationInstanceCompleted",
    "SubOrchestrationInstanceCreated",
    "SubOrchestrationInstanceFailed",
    "TaskAbandoned",
    "TaskCompleted",
    "TaskFailed",
    "TaskScheduled",
    "TimerCreated",
    "TimerFired",
]
