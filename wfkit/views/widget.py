"""A live notebook panel of one instance: :class:`InstanceWidget` (core ipywidgets only).

The panel shows a one-line summary, the graph coloured by step status, a progress bar
(steps done of total, each foreach item counted), a table of steps, buttons Pause,
Resume, Step and Terminate, a form that raises an event, and the details (full output,
or the traceback) of a step picked from a list. Because it is built from core widgets
only, the saved notebook (``metadata.widgets``) shows the last state in nbconvert and
offline viewers.

How it updates: a runtime hook (``instance.runtime.hooks``) receives a frozen
:class:`~wfkit.runtime.snapshot.InstanceSnapshot` of the instance after each commit,
and a :class:`Throttle` hands the latest snapshot to a background thread that only sets
widget traits (safe from threads), at most once per ``interval`` (0.2 s: 5 redraws a
second); the last state is always drawn. An instance run by another process (or seen
from a ``workers=0`` client) is followed through the runtime's
:class:`~wfkit.runtime.changes.InstanceChanges`: one thread per runtime, shared by all
widgets, waits on the store's change notification and wakes a widget only when its
instance's version moved; the widget then reads only the events recorded since its last
read. An idle instance costs no store read. Once the instance is finished and drawn, the
hook and the follower are removed and the thread ends.

The graph is laid out once (:class:`StatusSvg`); redraws only change each step's
``class`` and fill in the SVG text. It is laid out again when it changes shape, i.e.
when a foreach step learns its item count. Buttons call the instance's methods, which
append one event to its history and return: they never wait for the run.
"""

from __future__ import annotations

import html
import json
import logging
import pprint
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from wfkit.common.jsontext import shortened
from wfkit.engine.core.status import Outcome
from wfkit.runtime.api import Instance, SnapshotReader
from wfkit.runtime.changes import Follower
from wfkit.views.instance import (
    InstanceView,
    StatusSvg,
    StepRunView,
    draw_status_svg,
    format_clock,
    format_seconds,
    legend_html,
    load_instance,
    steps_table_html,
    summary_html,
)
from wfkit.views.throttle import Throttle

try:
    import ipywidgets as widgets  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "InstanceWidget needs ipywidgets: pip install 'wfkit[jupyter]'", name=exc.name
    ) from exc

__all__ = ["InstanceWidget", "Throttle", "details_html", "output_html"]

_log = logging.getLogger(__name__)
T = TypeVar("T")
_NOTHING: Any = object()
_OUTPUT_MAX = 20_000
_BAR_STYLES = {"COMPLETED": "success", "FAILED": "danger", "TERMINATED": "danger"}
_BAR_STYLES |= {"SUSPENDED": "warning", "CANCELED": "danger"}


def details_html(step: StepRunView | None) -> str:
    """Everything about one step: status, timings, the error and traceback, the output."""
    if step is None:
        return ""
    facts = [f"<b>{html.escape(step.id)}</b> ({html.escape(step.kind)}): {step.shown}"]
    if step.attempts:
        facts.append(f"attempt {step.attempts}")
    if step.items is not None:
        facts.append("{}/{} items".format(*step.units))
    if step.started_at is not None:
        facts.append(f"started {format_clock(step.started_at)}")
    if step.duration is not None:
        facts.append(f"took {format_seconds(step.duration)}")
    parts = [f"<p>{' · '.join(facts)}</p>"]
    if step.skip_reason:
        parts.append(f"<p>skipped: {html.escape(step.skip_reason)}</p>")
    if step.error_text:
        parts.append(f'<p style="color:#b00020">{html.escape(step.error_text)}</p>')
        if step.traceback:
            parts.append(_pre(step.traceback))
    if step.output is not None:
        parts.append(output_html(step.output))
    return f'<div class="wfkit-step-details">{"".join(parts)}</div>'


def output_html(value: Any) -> str:
    """A whole output: its own HTML when it has some (a DataFrame), else its pprint."""
    rich = getattr(value, "_repr_html_", None)
    if callable(rich) and not isinstance(value, type):
        try:
            page = rich()
            if isinstance(page, str):
                return page
        except Exception:  # fall back to text
            _log.debug("_repr_html_ of %s failed", type(value).__name__, exc_info=True)
    try:
        # shortened: data nested past the depth limit (stored by older versions) would
        # reach pprint's recursion limit
        text = pprint.pformat(shortened(value), width=100, sort_dicts=False)
    except Exception:  # a broken __repr__
        text = f"<{type(value).__name__} that cannot be shown>"
    if len(text) > _OUTPUT_MAX:
        text = text[:_OUTPUT_MAX] + f"\n... ({len(text) - _OUTPUT_MAX:,} more characters)"
    return _pre(text)


def _find(view: InstanceView, step_id: str) -> StepRunView | None:
    return next((step for step in view.steps if step.id == step_id), None)


def _pre(text: str) -> str:
    style = "max-height:300px;overflow:auto;font-size:11px;white-space:pre-wrap"
    return f'<pre style="{style}">{html.escape(text)}</pre>'


# -- the panel ---------------------------------------------------------------------------


class InstanceWidget:
    """A live ipywidgets panel of ``instance``; display it, and :meth:`close` it when done.

    ``interval`` is the shortest time between redraws. The widgets are attributes
    (``graph``, ``progress``, ``table``, ``pause_button``, ``event_name``, ...) and ``box``
    holds them all; ``view`` is the last snapshot drawn; ``reads`` counts the widget's
    reads of the store after the first.
    """

    def __init__(self, instance: Instance, *, interval: float = 0.2) -> None:
        self.instance = instance
        self.view = load_instance(instance)
        self._latest = self.view.version  # of the newest snapshot drawn or queued
        self.draws = 0
        self.reads = 0
        self.layouts = 0
        self._svg: StatusSvg | None = None
        self._svg_error: tuple[Hashable, str] | None = None
        self._auto_picked = False
        self._hooks: list[Any] | None = None
        self._reader: SnapshotReader = instance.follow()  # the drawing thread's store reads
        self._lock = threading.Lock()
        self._build()
        self._draw(self.view)
        self._follower = Follower(instance.id, lambda: self._latest, self.refresh)
        self._throttle: Throttle[InstanceView | None] = Throttle(
            self._draw_value, interval=interval, name=f"wfkit-widget-{instance.id[:8]}"
        )
        if not self.view.is_terminal:
            self._attach()
            self.refresh()  # whatever was committed before the hook was in place

    # -- public ---------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        """True while the widget's hook is registered with the engine (until the instance
        is finished and drawn, or the widget closed)."""
        return self._hooks is not None

    def refresh(self) -> None:
        """Read the instance from the store and redraw (in the background)."""
        self._throttle.submit(None)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every update received so far is drawn, then send the whole panel's
        state again; False when ``timeout`` ran out first.

        Call it in a notebook's last cell when the notebook is executed by nbclient or
        ``nbconvert --execute``: they record widget updates only while a cell runs, so an
        update drawn between two cells would otherwise be missing from the saved state.
        """
        drawn = self._throttle.flush(timeout)
        for child in (*self._children, self.box):
            child.send_state()
        return drawn

    def pause(self) -> bool:
        """The Pause button: ask the instance to pause; True when the request was accepted."""
        return self._act("pause", self.instance.pause)

    def resume(self) -> bool:
        """The Resume button."""
        return self._act("resume", self.instance.resume)

    def step(self) -> bool:
        """The Step button: run the next ready step(s), then pause again."""
        return self._act("step", self.instance.step)

    def terminate(self) -> bool:
        """The Terminate button."""
        return self._act("terminate", lambda: self.instance.terminate("terminated from a widget"))

    def send_event(self) -> bool:
        """The Send button: raise the chosen event with the JSON data typed in the form.

        Bad JSON shows a message and sends nothing; empty data sends ``null``.
        """
        name = self.event_name.value
        if not name:
            self._say("choose an event to send", error=True)
            return False
        text = self.event_data.value.strip()
        try:
            data = json.loads(text) if text else None
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            self._say(f"not sent: the data is not valid JSON ({exc.msg} at {where})", error=True)
            return False
        return self._act(f"raise event {name}", lambda: self.instance.raise_event(name, data))

    def close(self) -> None:
        """Stop listening to the engine, stop the update thread and close the widgets."""
        self._detach()
        self._throttle.close()
        for child in self._children:
            child.close()
        self.box.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<InstanceWidget of {self.instance.id}: {self.view.status}>"

    # -- building -------------------------------------------------------------------------

    def _build(self) -> None:
        w = widgets
        wide = w.Layout(width="100%")
        self.summary, self.graph, self.table = w.HTML(), w.HTML(), w.HTML()
        self.details, self.message = w.HTML(), w.HTML()
        self.progress = w.IntProgress(
            value=0, min=0, max=1, layout=wide, style={"description_width": "initial"}
        )
        self.pause_button = w.Button(description="Pause", icon="pause")
        self.resume_button = w.Button(description="Resume", icon="play")
        self.step_button = w.Button(description="Step", icon="step-forward")
        self.terminate_button = w.Button(description="Terminate", icon="stop")
        self.terminate_button.button_style = "danger"
        self.step_picker = w.Dropdown(options=[("(pick a step)", "")], description="Details")
        self.event_name = w.Dropdown(options=[], description="Event")
        self.event_data = w.Textarea(placeholder='JSON data, e.g. {"approved": true}', rows=2)
        self.send_button = w.Button(description="Send", icon="paper-plane")
        handlers = {
            self.pause_button: self.pause,
            self.resume_button: self.resume,
            self.step_button: self.step,
            self.terminate_button: self.terminate,
            self.send_button: self.send_event,
        }
        for button, handler in handlers.items():
            button.on_click(lambda _button, act=handler: act())
        self.step_picker.observe(self._show_details, names="value")
        buttons = w.HBox([self.pause_button, self.resume_button, self.step_button])
        buttons.children += (self.terminate_button,)
        form = w.HBox([self.event_name, self.event_data, self.send_button])
        self._children = [self.summary, self.graph, self.progress, buttons, self.table]
        self._children += [self.step_picker, self.details, form, self.message]
        self.box = w.VBox(self._children)
        self._children += [*buttons.children, *form.children]

    # -- drawing (the update thread; only traits are set) ---------------------------------

    def _draw_value(self, value: InstanceView | None) -> None:
        if value is None:  # read the store: only what was recorded since the last read
            value = self._reader.read()
            self.reads += 1
        self._draw(value)

    def _draw(self, view: InstanceView) -> None:
        self.view = view
        self._latest = max(self._latest, view.version)
        self.summary.value = summary_html(view)
        self.graph.value = self._graph_html(view)
        done, total = view.progress
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.progress.description = f"{done}/{total}"
        self.progress.bar_style = _BAR_STYLES.get(view.status, "")
        self.table.value = steps_table_html(view, dashboard=self._dashboard())
        self._draw_controls(view)
        self._draw_details(view)
        self.draws += 1
        if view.is_terminal:
            self._detach()

    def _dashboard(self) -> str | None:
        """The Dask dashboard of the instance's runtime, when its steps went to one."""
        try:
            return self.instance.runtime.dask_dashboard
        except Exception:  # a drawing never fails for a link
            return None

    def _graph_html(self, view: InstanceView) -> str:
        key = view.layout_key
        if self._svg is None or self._svg.key != key:
            if self._svg_error is not None and self._svg_error[0] == key:
                return self._svg_error[1]
            try:
                self._svg = draw_status_svg(view.graph(), key)
                self.layouts += 1
            except Exception as exc:  # no renderer: the table below still says it all
                _log.info("cannot draw the graph of %s", view.instance_id, exc_info=True)
                note = f"<p><small>graph not drawn: {html.escape(str(exc))}</small></p>"
                self._svg_error = (key, note)
                return note
        svg = self._svg.paint(view.statuses, inline=True)
        return f'<div class="wfkit-graph">{svg}</div>{legend_html()}'

    def _draw_controls(self, view: InstanceView) -> None:
        self.pause_button.disabled = view.status not in ("PENDING", "RUNNING")
        self.resume_button.disabled = view.status != "SUSPENDED"
        self.step_button.disabled = view.status != "SUSPENDED"
        self.terminate_button.disabled = view.is_terminal
        waiting = view.waiting_events
        options = tuple((f"{e} (waiting)" if e in waiting else e, e) for e in view.expected_events)
        if options != tuple(tuple(o) for o in self.event_name.options):
            current = self.event_name.value
            self.event_name.options = options
            events = view.expected_events
            self.event_name.value = current if current in events else next(iter(events), None)
        self.send_button.disabled = view.is_terminal or not options

    def _draw_details(self, view: InstanceView) -> None:
        picks = (("(pick a step)", ""), *((s.id, s.id) for s in view.steps))
        if picks != tuple(tuple(p) for p in self.step_picker.options):  # another definition
            self.step_picker.options, self.step_picker.value = picks, ""
        picked = self.step_picker.value
        failed = next((s.id for s in view.steps if s.status == "failed"), "")
        if not picked and failed and not self._auto_picked:
            self._auto_picked = True
            self.step_picker.value = failed  # shows it through _show_details
        elif picked:
            self.details.value = details_html(_find(view, picked))

    def _show_details(self, change: Mapping[str, Any]) -> None:
        self.details.value = details_html(_find(self.view, change.get("new") or ""))

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#1b5e20"
        self.message.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    # -- acting and listening -------------------------------------------------------------

    def _act(self, what: str, action: Callable[[], Outcome]) -> bool:
        try:
            outcome = action()
        except Exception as exc:  # an illegal transition or a store error: shown, not raised
            self._say(f"{what}: {exc}", error=True)
            return False
        if outcome == Outcome.APPLY:
            self._say(f"{what}: done")
        else:
            self._say(f"{what}: nothing to do, the instance is {self.view.status.lower()}")
        self.refresh()
        return True

    def _on_commit(self, *, instance_id: str = "", snapshot: Any = None, **_future: Any) -> None:
        """The runtime hook: queue a redraw of the snapshot it brings."""
        if instance_id != self.instance.id:
            return
        if not isinstance(snapshot, InstanceView):
            self.refresh()
            return
        self._latest = max(self._latest, snapshot.version)
        self._throttle.submit(snapshot)

    def _attach(self) -> None:
        with self._lock:
            if self._hooks is None:
                self._hooks = self.instance.runtime.hooks
                self._hooks.append(self._on_commit)
                self.instance.runtime.changes.follow(self._follower)

    def _detach(self) -> None:
        with self._lock:
            hooks, self._hooks = self._hooks, None
        if hooks is not None:
            self.instance.runtime.changes.leave(self._follower)
            if self._on_commit in hooks:
                hooks.remove(self._on_commit)
