"""A handle on one workflow instance (:class:`Instance`), from a
:class:`~wfkit.runtime.api.Runtime`: its status, output and steps read from the store,
waiting for it, and the lifecycle operations on it; and :class:`SnapshotReader`, which
follows one instance's snapshots."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from wfkit.common import jsontext
from wfkit.definition.display import make_widget, mimebundle
from wfkit.engine.core.history import Failure, HistoryEvent
from wfkit.engine.core.state import InstanceState
from wfkit.engine.core.status import Outcome, RuntimeStatus
from wfkit.engine.loop.operations import Workflows
from wfkit.engine.protocols import InstanceRow
from wfkit.engine.wire.summary import stored_properties
from wfkit.errors import InstanceFailed
from wfkit.runtime import waiting
from wfkit.runtime.ownership import ownership
from wfkit.runtime.snapshot import InstanceSnapshot, SnapshotBuilder, StepSnapshot, decode_failure
from wfkit.runtime.waiting import Until

if TYPE_CHECKING:
    from wfkit.runtime.api import Runtime

__all__ = ["Instance", "SnapshotReader", "StepInfo"]

StepInfo = StepSnapshot
"""One step of an instance, as people want to see it (the name ``instance.steps`` has
always used for :class:`~wfkit.runtime.snapshot.StepSnapshot`)."""


class Instance:
    """A handle on one workflow instance; every property reads the store afresh."""

    def __init__(self, runtime: Runtime, instance_id: str) -> None:
        #: The runtime whose store and engine this handle uses.
        self.runtime = runtime
        #: The instance id.
        self.id = instance_id

    @property
    def _ops(self) -> Workflows:
        return self.runtime.workflows

    def row(self) -> InstanceRow:
        """The stored instance record."""
        return self._ops.get(self.id)

    @property
    def name(self) -> str:
        """The workflow's name."""
        return self.row().workflow_name

    @property
    def status(self) -> RuntimeStatus:
        """The runtime status now (Dapr's strings: RUNNING, COMPLETED, SUSPENDED, ...)."""
        return RuntimeStatus(self.row().status)

    @property
    def output(self) -> Any:
        """The workflow's output (None until it completes)."""
        row = self.row()
        # what nests past the depth limit (stored by older versions) is shortened: as
        # a whole it could not even be printed
        return jsontext.shortened(jsontext.read_stored(row.output)) if row.output else None

    @property
    def failure(self) -> Failure | None:
        """Why the run failed or was terminated (None otherwise)."""
        return decode_failure(self.row().failure)

    @property
    def properties(self) -> dict[str, str]:
        """Dapr's ``dapr.workflow.*`` properties and wfkit's ``wfkit.*`` ones, as ``get``
        returns them."""
        return stored_properties(self.row())

    def state(self, since: InstanceState | None = None) -> InstanceState:
        """The full state, replayed from history; with ``since`` (a state this returned
        before), only the newer events are read and folded into it, in place."""
        return self._ops.state(self.id, since)

    def snapshot(self) -> InstanceSnapshot:
        """The instance now, frozen: status, owner, steps, waited events, progress
        (read from the store; what views, the CLI and hooks read)."""
        state = self.state()
        plan = self.runtime.engine.plan_for(state.definition_hash)
        owned = ownership(self.row())
        return SnapshotBuilder().build(plan, state, ownership=owned, scan_tasks=True)

    def follow(self) -> SnapshotReader:
        """A reader of this instance's snapshots that reads only the events recorded
        since its last read (for following a run as it goes)."""
        return SnapshotReader(self)

    @property
    def steps(self) -> dict[str, StepInfo]:
        """Every step's status, output, attempts and timings, in definition order."""
        return {step.id: step for step in self.snapshot().steps}

    def history(self) -> list[HistoryEvent]:
        """Every history event, oldest first."""
        return self._ops.history(self.id)

    def wait(
        self,
        timeout: float | None = None,
        *,
        until: Until = "terminal",
        stop_when_suspended: bool = False,
    ) -> Instance:
        """Block until the run ends, or until ``until`` holds: ``"suspended"``,
        ``"waiting"`` (for an event), ``"idle"`` (nothing running) or a function of the
        instance; returns self.

        ``until`` is ``"terminal"`` (the default: the run has ended), ``"suspended"``
        (paused, at a breakpoint or after ``step()``; a step it started may still run),
        ``"waiting"`` (a ``wait`` step is waiting for its event), ``"idle"`` (the run
        has ended, or no step is running and it is suspended or waiting for an event),
        or a function that takes this instance and returns True when done waiting::

            job.wait(until="waiting").raise_event("approval", {"by": "ana"})
            job.step(); job.wait(until="idle")       # the step it started has finished
            job.wait(5, until=lambda j: j.steps["extract"].status == "running")

        A run that has ended never changes, so the wait ends then whatever ``until``
        says (look at ``status``). It sleeps until this process's engine commits a
        change, rather than polling the store. Raises :class:`TimeoutError`, saying what
        the run is still doing, after ``timeout`` seconds (None: no limit).
        ``stop_when_suspended=True`` is the older spelling of ``until="suspended"``.
        """
        if stop_when_suspended:
            if until != "terminal":
                raise TypeError("wait() takes until= or stop_when_suspended=True, not both")
            until = "suspended"
        waiting.wait(self, timeout, until)
        return self

    def pause(self) -> Outcome:
        """Suspend between steps (running steps finish; nothing new starts)."""
        return self._ops.pause(self.id)

    def resume(self) -> Outcome:
        """Go on after a pause or a breakpoint."""
        return self._ops.resume(self.id)

    def step(self) -> Outcome:
        """Run the next ready step(s), then pause again."""
        return self._ops.resume(self.id, single_step=True)

    def terminate(self, reason: str = "", *, recursive: bool = True) -> Outcome:
        """Stop for good (TERMINATED), children too unless ``recursive=False``."""
        return self._ops.terminate(self.id, reason, recursive=recursive)

    def raise_event(self, name: str, data: Any = None) -> Outcome:
        """Send event ``name`` (case-insensitive) with JSON ``data`` to the instance."""
        return self._ops.raise_event(self.id, name, data)

    def retry(self) -> Outcome:
        """Run a FAILED instance again from its failed steps, with the code as it is now
        (fix a step's function, then retry); completed steps keep their outputs."""
        return self._ops.retry(self.id)

    def break_before(self, step: str, *, enabled: bool = True) -> Outcome:
        """Set (``enabled=False``: clear) a breakpoint before ``step`` of this run."""
        return self._ops.break_before(self.id, step, enabled=enabled)

    def purge(self, *, recursive: bool = True) -> int:
        """Delete the (terminal) instance and its history; returns how many were deleted."""
        return self._ops.purge(self.id, recursive=recursive)

    def raise_if_failed(self) -> Instance:
        """Raise :class:`InstanceFailed` when the instance FAILED or was TERMINATED."""
        row = self.row()
        if row.status in (RuntimeStatus.FAILED.value, RuntimeStatus.TERMINATED.value):
            failure = self.failure or Failure("Error", row.status.lower())
            raise InstanceFailed(
                self.id, row.status, failure.type, failure.message, failure.stack_trace
            )
        return self

    def __repr__(self) -> str:
        row = self.row()
        return f"<Instance {self.id} of {row.workflow_name}: {row.status}>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        """In a notebook: the graph coloured by step status, a summary and a legend."""
        try:
            text = repr(self)
        except Exception:  # the store may be closed, or the instance purged
            text = f"<Instance {self.id}>"
        return mimebundle(self, text)

    def widget(self, *, interval: float = 0.2, poll_interval: float | None = None) -> Any:
        """A live ipywidgets panel of this instance (``pip install 'wfkit[jupyter]'``):
        graph, progress, step table, pause/resume/step/terminate and raise-event.
        ``interval`` is the shortest time between two redraws.

        Returns a :class:`wfkit.views.widget.InstanceWidget`; ``close()`` it when done.
        ``poll_interval`` is accepted for notebooks written for earlier versions and
        ignored (with a ``DeprecationWarning``): the panel wakes on the store's change
        notifications instead of reading the store every so often.
        """
        if poll_interval is not None:
            warnings.warn(
                "widget(poll_interval=...) is ignored: the panel now wakes when the store "
                "changes; drop the argument",
                DeprecationWarning,
                stacklevel=2,
            )
        # The views layer registers the factory (wfkit.definition.display): runtime sits
        # below views and never names it.
        return make_widget(self, interval=interval)


class SnapshotReader:
    """Snapshots of one instance read from the store, each read folding only the events
    recorded since the one before (see :meth:`Instance.follow`)."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self._state: InstanceState | None = None
        self._builder = SnapshotBuilder()

    def read(self) -> InstanceSnapshot:
        """The instance as recorded now."""
        self._state = state = self.instance.state(since=self._state)
        plan = self.instance.runtime.engine.plan_for(state.definition_hash)
        return self._builder.build(plan, state)
