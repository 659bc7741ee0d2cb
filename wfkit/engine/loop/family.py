"""The lifecycle actions that reach beyond one instance: starting child workflows,
terminating them, and telling parents how their children ended. A base class of
:class:`~wfkit.engine.loop.operations.Workflows`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from wfkit.definition.model import Definition
from wfkit.engine.core import actions as act
from wfkit.engine.core import pinning
from wfkit.engine.core.history import (
    Failure,
    HistoryEvent,
    SubOrchestrationInstanceCompleted,
    SubOrchestrationInstanceFailed,
)
from wfkit.engine.core.status import Outcome, RuntimeStatus
from wfkit.engine.loop.engine import Engine
from wfkit.engine.protocols import InstanceRow, Store
from wfkit.errors import WfkitError, short

__all__ = ["Family", "stamped"]

_RETRIES = 200


class Family:
    """Children and parents (see the module)."""

    engine: Engine
    store: Store

    def start(
        self,
        name: str,
        input: Any = None,
        instance_id: str = "",
        *,
        parent_id: str | None = None,
        parent_step: str | None = None,
        definition: Definition | None = None,
        pinned: Mapping[str, str] | None = None,
    ) -> str:
        raise NotImplementedError

    def terminate(self, instance_id: str, reason: str = "", *, recursive: bool = True) -> Outcome:
        raise NotImplementedError

    def _append_after(self, row: InstanceRow, event: HistoryEvent) -> bool:
        raise NotImplementedError

    def _on_action(self, instance_id: str, action: act.Action) -> None:
        if isinstance(action, act.StartChild):
            self._start_child(instance_id, action)
        elif isinstance(action, act.TerminateChildren):
            for child in action.child_ids:
                with contextlib.suppress(WfkitError):
                    self.terminate(child, action.reason)
        elif isinstance(action, act.NotifyParent):
            self._notify(action)

    def _start_child(self, parent_id: str, action: act.StartChild) -> None:
        existing = self.store.get(action.child_id)
        parent = self.store.get(parent_id)
        # the parent's id may be reused (a terminal instance is replaced): a child made
        # before this run of the parent began is an earlier run's, never this one's
        earlier = existing is not None and (
            parent is None or existing.created_at < parent.created_at
        )
        if existing is not None and not earlier:
            if RuntimeStatus(existing.status).is_terminal:
                self._tell_parent(action.child_id)  # it finished while nobody listened
            return
        if existing is not None and not RuntimeStatus(existing.status).is_terminal:
            self._deliver(parent_id, _child_id_taken(parent_id, action.child_id, existing))
            return
        try:
            definition = pinning.pinned_definition(action.name, action.pinned, self.engine.plan_for)
            self.start(
                action.name,
                action.input,
                action.child_id,
                parent_id=parent_id,
                parent_step=action.step or None,
                definition=definition,
                pinned=action.pinned,
            )
        except WfkitError as exc:
            failure = Failure(type(exc).__name__, f"could not start child workflow: {exc}")
            self._deliver(
                parent_id, SubOrchestrationInstanceFailed(child_id=action.child_id, failure=failure)
            )

    def _tell_parent(self, child_id: str) -> None:
        row = self.store.get(child_id)
        if row is None or row.parent_id is None:
            return
        failure = None
        if row.failure:
            data = json.loads(row.failure)
            failure = Failure(
                data.get("type", "Error"), data.get("message", ""), data.get("stack_trace", "")
            )
        output = json.loads(row.output) if row.output else None
        self._notify(act.NotifyParent(row.parent_id, child_id, row.status, output, failure))

    def _notify(self, action: act.NotifyParent) -> None:
        event: HistoryEvent
        if action.status == RuntimeStatus.COMPLETED.value:
            event = SubOrchestrationInstanceCompleted(
                child_id=action.child_id, output=action.output
            )
        else:
            failure = action.failure or Failure(action.status.title(), f"child {action.status}")
            event = SubOrchestrationInstanceFailed(child_id=action.child_id, failure=failure)
        self._deliver(action.parent_id, event)

    def _deliver(self, instance_id: str, event: HistoryEvent) -> None:
        """Hand an event to the owning engine, or append it to the store directly."""
        event = stamped(event, self.engine.clock())
        if self.engine.deliver(instance_id, event):
            return
        for _ in range(_RETRIES):
            row = self.store.get(instance_id)
            if row is None or RuntimeStatus(row.status).is_terminal:
                return
            if self._append_after(row, event):
                return


def stamped(event: HistoryEvent, now: float) -> HistoryEvent:
    """``event`` with its time set to ``now`` unless it has one."""
    return event if event.at else replace(event, at=now)


def _child_id_taken(
    parent_id: str, child_id: str, existing: InstanceRow
) -> SubOrchestrationInstanceFailed:
    """The child step's failure when its id is held by an active child of an earlier run
    of the parent (the parent's id was reused after a non-recursive terminate)."""
    message = (
        f"could not start child workflow: an active workflow with ID '{short(child_id)}' "
        f"already exists: it is {existing.status}, left by an earlier run of "
        f"'{short(parent_id)}' that ended without it; terminate it "
        f"(wfkit terminate {short(child_id)}), then retry this run"
    )
    failure = Failure("InstanceAlreadyExists", message)
    return SubOrchestrationInstanceFailed(child_id=child_id, failure=failure)
