"""How a workflow instance shows itself: a frozen view model, a status graph, text.

* :class:`InstanceView` (with one :class:`StepRunView` per step) is the runtime's frozen
  :class:`~wfkit.runtime.snapshot.InstanceSnapshot` of an instance: what hooks receive,
  and what :func:`instance_view` reads from the store. Views read only these.
* :class:`StatusSvg` is a graph laid out once whose step colours (``class`` attributes
  and fills) change in the SVG text, without laying it out again.
* :func:`preview` shows any step output in one short line (DataFrames by shape and
  columns, containers by size and first items).
* :func:`instance_mimebundle` is an instance's notebook display: the graph coloured by
  step status, a one-line summary and a legend. It never raises: without a renderer it
  shows a table of steps, and when even the store cannot be read, plain text.

Statuses shown are those of :class:`~wfkit.engine.core.status.StepStatus`, plus ``paused``
for the ``pause_before`` step at whose breakpoint the run is stopped (``StepSnapshot.shown``).
"""

from __future__ import annotations

import html
import logging
import time
from typing import TYPE_CHECKING, Any

from wfkit.definition.durations import format_seconds
from wfkit.runtime.preview import preview
from wfkit.runtime.snapshot import InstanceSnapshot, StepSnapshot
from wfkit.views.dot import STATUS_COLORS
from wfkit.views.status_svg import XML_PROLOGUE, StatusSvg, draw_status_svg

if TYPE_CHECKING:
    from wfkit.graph.view import GraphView
    from wfkit.runtime.api import Instance

__all__ = [
    "STATUSES",
    "InstanceView",
    "StatusSvg",
    "StepRunView",
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
_UNKNOWN_COLOR = "#f7f7f7"
_PAUSE_REASONS = {"pause": "paused", "step": "paused after one step"}


InstanceView = InstanceSnapshot
"""A frozen snapshot of one instance (the runtime's :class:`InstanceSnapshot`)."""

StepRunView = StepSnapshot
"""One step of an instance as a person sees it (the runtime's :class:`StepSnapshot`)."""


def load_instance(instance: Instance) -> InstanceView:
    """A snapshot of ``instance``, read from the store (with its owner and definition)."""
    return instance.snapshot()


def instance_view(instance: Instance) -> InstanceView:
    """A snapshot of ``instance``, read from the store."""
    return instance.snapshot()


def instance_graph(view: InstanceView) -> GraphView:
    """The definition's graph, foreach steps labelled with their item counts once known."""
    return view.graph()


# -- text and HTML ----------------------------------------------------------------------


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
    paused = next((s.id for s in view.steps if s.paused), None)
    if paused:
        parts.append(f"paused before {paused}")
    elif view.suspend_reason:
        parts.append(_PAUSE_REASONS.get(view.suspend_reason, f"paused ({view.suspend_reason})"))
    if view.error_text:
        parts.append(view.error_text)
    if view.owner_state in ("lost", "unclaimed") and not view.is_terminal:
        parts.append(view.owner)  # RUNNING, but nobody carries it on right now
    return " · ".join(parts)


def plain_text(view: InstanceView) -> str:
    """The summary, then one line per step: status, attempts (and the Dask worker it ran
    on), duration, output or error."""
    lines = [f"<Instance {view.instance_id}> {summary_text(view)}"]
    width = max((len(s.id) for s in view.steps), default=0)
    for step in view.steps:
        items = f" {step.units[0]}/{step.units[1]} items" if step.items is not None else ""
        detail = step.error_text or step.preview
        tries = f"attempt {step.attempts}" if step.attempts else ""
        where = f" on {step.ran_on}" if step.ran_on else ""
        cells = [step.id.ljust(width), step.shown.ljust(9), f"{tries}{items}{where}"]
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


def steps_table_html(view: InstanceView, *, dashboard: str | None = None) -> str:
    """An HTML table of the steps: status, attempts, items, start, duration, output, error,
    and, once a step has run on Dask, where each ran (``local`` or the worker's address),
    with a link to the Dask ``dashboard`` when there is one."""
    head = ["step", "status", "attempts", "items", "start", "duration", "output", "error"]
    remote = any(s.ran_on for s in view.steps)
    if remote:
        head.insert(2, "ran on")
    rows = []
    for s in view.steps:
        color = _color(s.shown)
        items = f"{s.units[0]}/{s.units[1]}" if s.items is not None else ""
        cells = [s.id, s.shown, str(s.attempts or ""), items, format_clock(s.started_at)]
        cells += [format_seconds(s.duration), s.preview, s.error_text or (s.skip_reason or "")]
        if remote:
            cells.insert(2, s.ran_on or ("local" if s.attempts else ""))
        tds = "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
        rows.append(f'<tr style="background:{color}">{tds}</tr>')
    ths = "".join(f"<th>{name}</th>" for name in head)
    link = ""
    if dashboard:
        where = html.escape(dashboard, quote=True)
        link = (
            f'<p class="wfkit-dask-dashboard" style="font-size:12px">Dask dashboard: '
            f'<a href="{where}" target="_blank" rel="noopener">{where}</a></p>'
        )
    return (
        '<table class="wfkit-instance-steps" style="font-size:12px">'
        f"<thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>{link}"
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
        view = load_instance(instance)
        text = plain_text(view)
    except Exception as exc:  # a display must never break the cell that shows it
        _log.debug("cannot read instance %r", instance, exc_info=True)
        reason = (str(exc).splitlines() or [""])[0][:200]
        return {"text/plain": f"{_fallback_text(instance)} (cannot be read: {reason})"}
    try:
        svg = draw_status_svg(view.graph()).paint(view.statuses)
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
