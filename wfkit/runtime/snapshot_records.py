"""The records of one frozen read model of an instance: :class:`InstanceSnapshot`, one
:class:`StepSnapshot` per step and one :class:`TaskSnapshot` per task of a ``foreach``.
Built by :class:`~wfkit.runtime.snapshot.SnapshotBuilder` (see that module for what
they are for); nothing in them changes once built."""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from wfkit.definition.model import Definition
from wfkit.engine.core.history import Failure
from wfkit.runtime.preview import clip, preview

if TYPE_CHECKING:
    from wfkit.graph.view import GraphView

__all__ = [
    "DONE_STEPS",
    "LIVE_STEPS",
    "PLACES_SHOWN",
    "RAN_ON",
    "Failure",
    "InstanceSnapshot",
    "StepSnapshot",
    "TaskSnapshot",
    "decode_failure",
    "places_text",
]

DONE_STEPS = frozenset({"completed", "failed", "skipped", "canceled"})
_TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED", "CANCELED"})
LIVE_STEPS = frozenset({"running", "waiting"})
_REPR_WIDTH = 70
RAN_ON = "ranOn"
"""The key of a task's details that names the Dask worker it ran on."""
PLACES_SHOWN = 3
"""Workers a step's :attr:`StepSnapshot.ran_on` names; beyond, it counts them."""


def places_text(places: tuple[str, ...]) -> str:
    """Where a step ran, in one short line: the workers' addresses, or beyond
    :data:`PLACES_SHOWN` of them the first ones and how many in all."""
    if len(places) <= PLACES_SHOWN:
        return ", ".join(places)
    shown = ", ".join(places[: PLACES_SHOWN - 1])
    return f"{len(places)} Dask workers ({shown}, ...)"


def decode_failure(text: str | None) -> Failure | None:
    """A stored failure (the JSON text of a store row) as a :class:`Failure`."""
    if not text:
        return None
    data = json.loads(text)
    return Failure(data["type"], data["message"], data.get("stack_trace", ""))


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """One task (a step, or one item of a foreach) that the events of a commit touched."""

    step: str
    index: int | None
    phase: str
    attempt: int
    failure: Failure | None = None
    lost: bool = False


@dataclass(frozen=True)
class StepSnapshot:
    """One step of an instance, as people want to see it.

    ``status`` is the step's own (``pending, running, waiting, completed, failed,
    skipped, canceled``); ``paused`` is True for the ``pause_before`` step at whose
    breakpoint the run is stopped (:attr:`shown` says ``paused`` then). ``failure`` is
    that of a step that failed (a step that completed after retries has none).
    ``duration`` runs to ``ended_at``, or to the snapshot's time while it runs.
    """

    id: str
    status: str
    output: Any = field(default=None, compare=False)
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    failure: Failure | None = None
    items: int | None = None
    details: dict[str, Any] | None = field(default=None, compare=False)
    kind: str = ""
    duration: float | None = None
    items_done: int = 0
    event: str | None = None
    is_finally: bool = False
    skip_reason: str | None = None
    paused: bool = False
    max_attempts: int | None = None
    """The retry policy's ``max_attempts`` (None: the step has no retry)."""
    places: tuple[str, ...] = ()
    """Every Dask worker a ``foreach`` step's items ran on (first seen first); empty for
    a step without items, whose :attr:`ran_on` is its latest attempt's."""

    @property
    def error(self) -> Failure | None:
        """The step's failure (the name :class:`StepInfo` always had)."""
        return self.failure

    @property
    def error_text(self) -> str:
        """``Type: message`` of the failure, or ""."""
        return f"{self.failure.type}: {self.failure.message}" if self.failure else ""

    @property
    def traceback(self) -> str:
        """The failure's stack trace, or ""."""
        return self.failure.stack_trace if self.failure else ""

    @property
    def ran_on(self) -> str | None:
        """The address of the Dask worker its latest attempt ran on (its details'
        ``ranOn``), or for a ``foreach`` every worker its items ran on (see
        :func:`places_text`), or None: the engine's own process, or not run yet."""
        if self.places:
            return places_text(self.places)
        where = (self.details or {}).get(RAN_ON)
        return where if isinstance(where, str) else None

    @property
    def shown(self) -> str:
        """The status a view shows: ``paused`` at a breakpoint, else :attr:`status`."""
        return "paused" if self.paused else self.status

    @property
    def done(self) -> bool:
        """The step will not change again (completed, failed, skipped or canceled)."""
        return self.status in DONE_STEPS

    @property
    def units(self) -> tuple[int, int]:
        """Progress of this step as ``(done, total)``: one unit, or one per foreach item."""
        total = max(1, self.items or 0)
        if self.done:
            return total, total
        return (min(self.items_done, total) if self.items else 0), total

    @property
    def preview(self) -> str:
        """The output in one short line."""
        return preview(self.output)

    def __repr__(self) -> str:
        # short, for a notebook showing instance.steps: the whole output is .output
        parts = [f"{self.id!r}", self.status]
        if self.output is not None:
            parts.append(f"output={preview(self.output, _REPR_WIDTH)}")
        if self.failure is not None:
            parts.append(f"error={clip(self.error_text, _REPR_WIDTH)}")
        if self.attempts > 1:
            parts.append(f"attempts={self.attempts}")
        if self.started_at is not None and self.ended_at is not None:
            parts.append(f"{self.ended_at - self.started_at:.2f} s")
        return f"<StepInfo {' '.join(parts)}>"


@dataclass(frozen=True)
class InstanceSnapshot:
    """A frozen snapshot of one instance, taken at ``as_of`` (seconds since the epoch).

    ``tasks`` holds the tasks that the events of the commit it was made for touched (by
    step and index) and ``child_steps`` the step of each child those events name: a
    hook reads what a commit did there, without the snapshot copying every task of a
    wide foreach. Both are empty in a snapshot read from the store.
    """

    instance_id: str
    name: str
    status: str
    steps: tuple[StepSnapshot, ...]
    definition_hash: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    as_of: float = 0.0
    suspend_reason: str | None = None
    """Why it is suspended (``pause``, ``breakpoint``, ``step``); None when it is not."""
    suspended_at_step: str | None = None
    single_step: bool = False
    failure: Failure | None = None
    version: int = 0
    parent_id: str | None = None
    parent_step: str | None = None
    custom_status: str = ""
    buffered_events: int = 0
    """Events raised and not yet consumed by a wait step."""
    owner: str = ""
    """Who runs it, read from the store (:mod:`wfkit.runtime.ownership`), e.g. ``no live
    owner: the lease of worker host:42 ran out 5 min ago; ...``; "" when not read (a
    snapshot made for a hook: this process runs it) or when the run has ended."""
    owner_state: str = ""
    """``owned``, ``lost``, ``unclaimed``, ``ended``, or "" when not read."""
    tasks: Mapping[tuple[str, int | None], TaskSnapshot] = field(
        default_factory=dict, repr=False, compare=False
    )
    child_steps: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    definition: Definition | None = field(default=None, repr=False, compare=False)

    def step(self, step_id: str) -> StepSnapshot:
        """The snapshot of one step; ``KeyError`` when there is no such step."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def task(self, step: str, index: int | None) -> TaskSnapshot | None:
        """A task the commit touched (None when it did not, or in a store read)."""
        return self.tasks.get((step, index))

    @property
    def is_terminal(self) -> bool:
        return self.status in _TERMINAL

    @property
    def suspended(self) -> bool:
        return self.suspend_reason is not None

    @property
    def paused_at(self) -> str | None:
        """The step at whose breakpoint the run is paused (None otherwise)."""
        return self.suspended_at_step if self.suspend_reason == "breakpoint" else None

    @property
    def error_text(self) -> str:
        """``Type: message`` of the instance's failure, or ""."""
        return f"{self.failure.type}: {self.failure.message}" if self.failure else ""

    @property
    def statuses(self) -> dict[str, str]:
        """Step id -> shown status (``paused`` included), for colouring the graph."""
        return {step.id: step.shown for step in self.steps}

    @property
    def steps_done(self) -> int:
        return sum(1 for step in self.steps if step.done)

    @property
    def progress(self) -> tuple[int, int]:
        """``(done, total)`` over every step, foreach items counted one by one."""
        units = [step.units for step in self.steps]
        return sum(done for done, _ in units), sum(total for _, total in units)

    @property
    def duration(self) -> float | None:
        """Seconds from the start to the end (or to ``as_of`` while it runs)."""
        if not self.created_at:
            return None
        end = self.updated_at if self.is_terminal else max(self.as_of, self.updated_at)
        return max(0.0, end - self.created_at)

    @property
    def waiting_events(self) -> tuple[str, ...]:
        """The events that wait steps are waiting for now."""
        return tuple(s.event for s in self.steps if s.event and s.status == "waiting")

    @property
    def expected_events(self) -> tuple[str, ...]:
        """Waiting events first, then those of wait steps that have not started yet."""
        later = (s.event for s in self.steps if s.event and s.status == "pending")
        return tuple(dict.fromkeys((*self.waiting_events, *later)))

    @property
    def layout_key(self) -> Hashable:
        """Changes exactly when the drawn graph must be laid out again."""
        counts = tuple((s.id, s.items) for s in self.steps if s.items is not None)
        return self.definition_hash, counts

    def graph(self) -> GraphView:
        """The definition's read-only graph, foreach steps labelled with their item
        counts once known (loads networkx)."""
        from wfkit.graph import build_view

        if self.definition is None:
            raise LookupError(f"the snapshot of {self.instance_id[:64]} has no definition")
        graph = build_view(self.definition)
        counts = {step.id: step.items for step in self.steps if step.items is not None}
        steps = tuple(
            replace(s, target=f"{s.target} ({counts[s.id]} items)") if s.id in counts else s
            for s in graph.steps
        )
        return replace(graph, steps=steps)
