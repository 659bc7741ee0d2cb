"""How a workflow instance shows itself: a frozen view model, a status graph, text.

* :class:`InstanceView` (with one :class:`StepRunView` per step) is a read-only snapshot
  of an instance. :func:`build_instance_view` makes it from a plan and a state (the
  engine hook's arguments); :func:`instance_view` from an
  :class:`~wfkit.runtime.api.Instance`, reading the store. Views read only these.
* :class:`StatusSvg` is a graph laid out once whose step colours (``class`` attributes
  and fills) change in the SVG text, without laying it out again.
* :func:`preview` shows any step output in one short line (DataFrames by shape and
  columns, containers by size and first items).
* :func:`instance_mimebundle` is an instance's notebook display: the graph coloured by
  step status, a one-line summary and a legend. It never raises: without a renderer it
  shows a table of steps, and when even the store cannot be read, plain text.

Statuses are those of :class:`~wfkit.engine.core.status.StepStatus`, plus ``paused`` for the
``pause_before`` step at whose breakpoint the run is stopped.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from wfkit.definition.model import WaitSpec
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState, StepState
from wfkit.engine.core.status import TaskPhase
from wfkit.runtime.ownership import ownership
from wfkit.runtime.preview import preview
from wfkit.views.dot import STATUS_COLORS
from wfkit.views.status_svg import XML_PROLOGUE, StatusSvg, draw_status_svg

if TYPE_CHECKING:
    from wfkit.definition.model import Definition
    from wfkit.graph.view import GraphView
    from wfkit.runtime.api import Instance

__all__ = [
    "STATUSES",
    "InstanceView",
    "StatusSvg",
    "StepRunView",
    "build_instance_view",
    "draw_status_svg",
    "format_clock",
    "format_seconds",
    "instance_graph",
    "instance_mimebundle",
    "instance_view",
    "legend_html",
    "load_instance",
    "plain_text",
    "preview",
    "steps_table_html",
    "summary_html",
    "summary_text",
]

_log = logging.getLogger(__name__)

#: The statuses a step can be shown in, in legend order.
STATUSES = ("pending", "running", "waiting", "paused", "completed", "failed", "skipped", "canceled")
_DONE = frozenset({"completed", "failed", "skipped", "canceled"})
_TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED", "CANCELED"})
_UNKNOWN_COLOR = "#f7f7f7"
_PAUSE_REASONS = {"pause": "paused", "step": "paused after one step"}


@dataclass(frozen=True)
class StepRunView:
    """One step of an instance as a person sees it; ``status`` may be ``paused``."""

    id: str
    kind: str
    status: str
    attempts: int = 0
    started_at: float | None = None
    duration: float | None = None
    items: int | None = None
    items_done: int = 0
    output: Any = field(default=None, repr=False, compare=False)
    error: str = ""
    traceback: str = ""
    event: str | None = None
    is_finally: bool = False
    skip_reason: str | None = None

    @property
    def done(self) -> bool:
        """The step will not change again (completed, failed, skipped or canceled)."""
        return self.status in _DONE

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


@dataclass(frozen=True)
class InstanceView:
    """A frozen snapshot of one instance, taken at ``as_of`` (seconds since the epoch)."""

    instance_id: str
    name: str
    status: str
    steps: tuple[StepRunView, ...]
    definition_hash: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    as_of: float = 0.0
    suspend_reason: str | None = None
    error: str = ""
    version: int = 0
    owner: str = ""
    """Who runs it, read from the store (:mod:`wfkit.runtime.ownership`), e.g. ``no live
    owner: the lease of worker host:42 ran out 5 min ago; ...``; "" when not read (a
    snapshot an engine hook made: this process runs it) or when the run has ended."""
    owner_state: str = ""
    """``owned``, ``lost``, ``unclaimed``, ``ended``, or "" when not read."""

    def step(self, step_id: str) -> StepRunView:
        """The view of one step; ``KeyError`` when there is no such step."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def is_terminal(self) -> bool:
        return self.status in _TERMINAL

    @property
    def statuses(self) -> dict[str, str]:
        """Step id -> shown status, for colouring the graph."""
        return {step.id: step.status for step in self.steps}

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
        later = (s.event for s in self.steps if s.event and s.status in ("pending", "paused"))
        return tuple(dict.fromkeys((*self.waiting_events, *later)))

    @property
    def layout_key(self) -> Hashable:
        """Changes exactly when the drawn graph must be laid out again."""
        counts = tuple((s.id, s.items) for s in self.steps if s.items is not None)
        return self.definition_hash, counts


def build_instance_view(
    plan: WorkflowPlan, state: InstanceState, *, now: float | None = None
) -> InstanceView:
    """A snapshot of ``state``; call it where the state cannot change meanwhile (a hook)."""
    now = time.time() if now is None else now
    paused_at = state.suspended_at_step if state.suspend_reason == "breakpoint" else None
    steps = []
    for sid in (*plan.main, *plan.final):
        found = state.steps.get(sid)
        step = found or StepState(sid, state.step_status(sid))
        status = step.status.value
        if sid == paused_at and status == "pending":
            status = "paused"
        steps.append(_step_view(plan, step, status, now))
    return InstanceView(
        instance_id=state.instance_id,
        name=state.name or plan.definition.name,
        status=state.status.value,
        steps=tuple(steps),
        definition_hash=state.definition_hash,
        created_at=state.created_at,
        updated_at=state.updated_at,
        as_of=now,
        suspend_reason=state.suspend_reason if state.suspended else None,
        error=f"{state.failure.type}: {state.failure.message}" if state.failure else "",
        version=state.version,
    )


def _step_view(plan: WorkflowPlan, step: StepState, status: str, now: float) -> StepRunView:
    spec = plan.spec(step.id)
    # built at every commit a widget hears of: nothing here may scan a foreach's tasks
    shown = None
    if status == "failed":
        shown = step.failure or next((t.failure for t in step.tasks if t.failure), None)
    duration = None
    if step.started_at is not None:
        duration = (step.ended_at if step.ended_at is not None else now) - step.started_at
    return StepRunView(
        id=step.id,
        kind=spec.kind.value,
        status=status,
        attempts=step.attempts,
        started_at=step.started_at,
        duration=None if duration is None else max(0.0, duration),
        items=None if step.items is None else len(step.items),
        items_done=step.count(TaskPhase.COMPLETED) + step.count(TaskPhase.FAILED)
        if step.items is not None
        else 0,
        output=step.output,
        error=f"{shown.type}: {shown.message}" if shown else "",
        traceback=shown.stack_trace if shown else "",
        event=spec.target.event if isinstance(spec.target, WaitSpec) else None,
        is_finally=spec.is_finally,
        skip_reason=step.skip_reason,
    )


def load_instance(instance: Instance) -> tuple[WorkflowPlan, InstanceView]:
    """The plan of ``instance`` and a snapshot of it, read from the store."""
    state = instance.state()
    plan = instance.runtime.engine.plan_for(state.definition_hash)
    owned = ownership(instance.row())
    view = build_instance_view(plan, state)
    return plan, replace(view, owner=owned.describe(), owner_state=owned.state)


def instance_view(instance: Instance) -> InstanceView:
    """A snapshot of ``instance``, read from the store."""
    return load_instance(instance)[1]


# -- the graph: laid out once, recoloured ----------------------------------------------


def instance_graph(definition: Definition, view: InstanceView) -> GraphView:
    """The definition's graph, foreach steps labelled with their item counts once known."""
    from wfkit.graph import build_view  # networkx is loaded only when a graph is drawn

    graph = build_view(definition)
    counts = {step.id: step.items for step in view.steps if step.items is not None}
    steps = tuple(
        replace(s, target=f"{s.target} ({counts[s.id]} items)") if s.id in counts else s
        for s in graph.steps
    )
    return replace(graph, steps=steps)


# -- text and HTML ----------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    """``0.12 s``, ``12.3 s``, ``4 min 5 s``, ``2 h 3 min``; empty for None."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def format_clock(at: float | None) -> str:
    """A time of day, ``14:03:27`` (local time); empty for None."""
    return "" if at is None else time.strftime("%H:%M:%S", time.localtime(at))


def summary_text(view: InstanceView) -> str:
    """``train-model · RUNNING · 5/8 steps · 12.3 s`` (and why it is paused or failed)."""
    parts = [view.name, view.status, f"{view.steps_done}/{len(view.steps)} steps"]
    done, total = view.progress
    if total != len(view.steps):
        parts.append(f"{done}/{total} tasks")
    parts.append(format_seconds(view.duration) or "not started")
    paused = next((s.id for s in view.steps if s.status == "paused"), None)
    if paused:
        parts.append(f"paused before {paused}")
    elif view.suspend_reason:
        parts.append(_PAUSE_REASONS.get(view.suspend_reason, f"paused ({view.suspend_reason})"))
    if view.error:
        parts.append(view.error)
    if view.owner_state in ("lost", "unclaimed") and not view.is_terminal:
        parts.append(view.owner)  # RUNNING, but nobody carries it on right now
    return " · ".join(parts)


def plain_text(view: InstanceView) -> str:
    """The summary, then one line per step: status, attempts, duration, output or error."""
    lines = [f"<Instance {view.instance_id}> {summary_text(view)}"]
    width = max((len(s.id) for s in view.steps), default=0)
    for step in view.steps:
        items = f" {step.units[0]}/{step.units[1]} items" if step.items is not None else ""
        detail = step.error or step.preview
        tries = f"attempt {step.attempts}" if step.attempts else ""
        cells = [step.id.ljust(width), step.status.ljust(9), f"{tries}{items}"]
        cells += [format_seconds(step.duration), detail]
        lines.append("  " + "  ".join(cell for cell in cells if cell).rstrip())
    return "\n".join(lines)


def legend_html() -> str:
    """A row of colour swatches, one per status."""
    swatch = (
        '<span style="display:inline-block;margin-right:8px">'
        '<span style="display:inline-block;width:10px;height:10px;border:1px solid #888;'
        'background:{color};margin-right:3px"></span>{name}</span>'
    )
    body = "".join(swatch.format(color=_color(s), name=s) for s in STATUSES)
    return f'<div class="wfkit-legend" style="font-size:11px">{body}</div>'


def _color(status: str) -> str:
    return STATUS_COLORS.get(status, _UNKNOWN_COLOR)


def steps_table_html(view: InstanceView) -> str:
    """An HTML table of the steps: status, attempts, items, start, duration, output, error."""
    head = ("step", "status", "attempts", "items", "start", "duration", "output", "error")
    rows = []
    for s in view.steps:
        color = _color(s.status)
        items = f"{s.units[0]}/{s.units[1]}" if s.items is not None else ""
        cells = [s.id, s.status, str(s.attempts or ""), items, format_clock(s.started_at)]
        cells += [format_seconds(s.duration), s.preview, s.error or (s.skip_reason or "")]
        tds = "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
        rows.append(f'<tr style="background:{color}">{tds}</tr>')
    ths = "".join(f"<th>{name}</th>" for name in head)
    return (
        '<table class="wfkit-instance-steps" style="font-size:12px">'
        f"<thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def summary_html(view: InstanceView) -> str:
    """The one-line summary as an HTML paragraph."""
    return f'<p class="wfkit-summary"><strong>{html.escape(summary_text(view))}</strong></p>'


# -- the notebook display ---------------------------------------------------------------


def instance_mimebundle(instance: Instance) -> dict[str, Any]:
    """The notebook bundle of ``instance``: SVG, HTML (summary, graph, legend) and text.

    Never raises: without a renderer the HTML is a table of steps, and when the
    instance cannot be read at all the bundle is its plain text only.
    """
    try:
        plan, view = load_instance(instance)
        text = plain_text(view)
    except Exception as exc:  # a display must never break the cell that shows it
        _log.debug("cannot read instance %r", instance, exc_info=True)
        reason = (str(exc).splitlines() or [""])[0][:200]
        return {"text/plain": f"{_fallback_text(instance)} (cannot be read: {reason})"}
    try:
        svg = draw_status_svg(instance_graph(plan.definition, view)).paint(view.statuses)
    except Exception as exc:  # no renderer, or it failed: a table instead
        _log.info("drawing instance %s failed; showing a table", view.instance_id, exc_info=True)
        note = html.escape(f"graph not drawn: {exc}")
        page = f"{summary_html(view)}{steps_table_html(view)}<p><small>{note}</small></p>"
        return {"text/html": f'<div class="wfkit-instance">{page}</div>', "text/plain": text}
    body = XML_PROLOGUE.sub("", svg, count=1)
    page = f'<div class="wfkit-instance">{summary_html(view)}{body}{legend_html()}</div>'
    return {"image/svg+xml": svg, "text/html": page, "text/plain": text}


def _fallback_text(instance: object) -> str:
    try:
        return f"<Instance {getattr(instance, 'id', '?')}>"
    except Exception:  # even the id is broken
        return "<Instance>"
