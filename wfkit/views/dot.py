"""A definition's graph as DOT text, for Graphviz-compatible renderers.

:func:`to_dot` turns a frozen :class:`~wfkit.graph.view.GraphView` into DOT text; it never
runs an executable (that is :mod:`wfkit.views.render`). The drawing reads left to right:

* a step is a rounded, filled box: its id in bold, its kind and target beneath;
* an edge from ``needs`` is solid, one from an expression reference (``steps.<id>``) is
  dashed, one that is both is solid with a double arrowhead;
* ``finally`` steps sit in a cluster labelled "finally", to the right of the main steps;
* a ``pause_before`` step (a breakpoint) has a thick border and a ``‖`` before its id;
* a ``foreach`` step has a double border and ``× each`` after its target;
* the tooltip of every step names it in full, with its ``when`` condition if any.

Every step's SVG group gets ``id="step_<id>"`` and ``class="wfkit-step status-<status>"``,
so a page can recolour a drawn graph through CSS without laying it out again. Output is
deterministic: the same view and statuses always give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from wfkit.errors import RenderError

if TYPE_CHECKING:  # importing wfkit.graph at run time would load networkx
    from wfkit.graph.view import EdgeView, GraphView, StepView

__all__ = ["DEFAULT_STATUS", "STATUS_COLORS", "to_dot"]

#: Fill colour of a step by status: light tints of the Okabe-Ito palette, which people
#: with the common colour-vision deficiencies can tell apart, dark enough for black text.
STATUS_COLORS: Mapping[str, str] = {
    "pending": "#eeeeee",
    "running": "#a6d8f5",
    "waiting": "#f3cf80",
    "completed": "#80cfb9",
    "failed": "#f0a878",
    "skipped": "#ffffff",
    "canceled": "#bdbdbd",
    "paused": "#e6bcd3",
}

#: The status of a step that ``statuses`` does not mention (and of every step without it).
DEFAULT_STATUS = "pending"

_UNKNOWN_STATUS_COLOR = "#f7f7f7"
_PAUSE_COLOR = "#d55e00"
_TARGET_MAX = 40
_FONT = "Helvetica"
_JOINER = "\u2060"  # WORD JOINER: zero width, breaks "\N"-style escapes (see _html)

# How each kind of edge is drawn; ``via`` values not listed here are drawn as "needs".
_EDGE_STYLES: Mapping[str, tuple[str, dict[str, str]]] = {
    "needs": ("via-needs", {}),
    "expression": ("via-expression", {"style": "dashed"}),
    "needs+expression": ("via-both", {"arrowhead": "normalnormal", "penwidth": "1.5"}),
}

_GRAPH_ATTRS = {"rankdir": "LR", "fontname": _FONT, "nodesep": "0.3", "ranksep": "0.45"}
_NODE_ATTRS = {"shape": "box", "style": "rounded,filled", "fontname": _FONT, "margin": "0.15,0.06"}
_EDGE_ATTRS = {"fontname": _FONT, "color": "#555555", "arrowsize": "0.7"}
_CLUSTER_ATTRS = {"label": "finally", "style": "dashed,rounded", "color": "#888888"}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_CSS_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def to_dot(view: GraphView, *, statuses: Mapping[str, str] | None = None) -> str:
    """The DOT text of ``view``; ``statuses`` (step id -> status) sets the fill colours.

    Steps missing from ``statuses`` are ``pending``; a status without a colour in
    :data:`STATUS_COLORS` gets a neutral fill. Raises :class:`~wfkit.errors.RenderError`
    when an edge names a step that the view does not have.
    """
    import graphviz  # imported here: `import wfkit.views` stays cheap

    names = {step.id: f"s{index}" for index, step in enumerate(view.steps)}
    graph = graphviz.Digraph(
        name=graphviz.escape(view.name),
        graph_attr=_GRAPH_ATTRS,
        node_attr=_NODE_ATTRS,
        edge_attr=_EDGE_ATTRS,
    )
    for step in view.main_steps:
        graph.node(names[step.id], **_node_attrs(step, _status(step.id, statuses)))
    if view.finally_steps:
        with graph.subgraph(name="cluster_finally", graph_attr=_CLUSTER_ATTRS) as cluster:
            for step in view.finally_steps:
                cluster.node(names[step.id], **_node_attrs(step, _status(step.id, statuses)))
    edges = _sorted_edges(view.edges, names)
    for edge in edges:
        graph.edge(names[edge.source], names[edge.target], **_edge_attrs(edge))
    for source, target in _finally_anchors(view, edges):
        graph.edge(names[source], names[target], style="invis", weight="0")
    return str(graph.source)


def _status(step_id: str, statuses: Mapping[str, str] | None) -> str:
    """A step's status, lower-cased; a str-valued enum member counts as its value."""
    if statuses is None or step_id not in statuses:
        return DEFAULT_STATUS
    value = statuses[step_id]
    return str(getattr(value, "value", value)).lower()


def _node_attrs(step: StepView, status: str) -> dict[str, Any]:
    """The DOT attributes of one step's node (``class`` and all, as keyword arguments)."""
    import graphviz

    attrs: dict[str, Any] = {
        "label": _label(step),
        "id": graphviz.escape(f"step_{step.id}"),
        "class": f"wfkit-step status-{_CSS_UNSAFE.sub('_', status)}",
        "fillcolor": STATUS_COLORS.get(status, _UNKNOWN_STATUS_COLOR),
        "tooltip": _tooltip(step),
    }
    if step.foreach:
        attrs["peripheries"] = "2"
    if step.pause_before:
        attrs["penwidth"] = "2.5"
        attrs["color"] = _PAUSE_COLOR
    if status == "skipped":
        attrs["style"] = "rounded,filled,dashed"
    return attrs


def _label(step: StepView) -> str:
    """An HTML-like label: the id in bold, then kind and target in a smaller font."""
    title = _html(step.id)
    if step.pause_before:
        title = "‖ " + title
    target = _clean(step.target)
    if len(target) > _TARGET_MAX:
        target = target[: _TARGET_MAX - 3] + "..."
    detail = _html(f"{step.kind} {target}".strip())
    if step.foreach:
        detail += " × each"
    return f'<<B>{title}</B><BR/><FONT POINT-SIZE="10">{detail}</FONT>>'


def _tooltip(step: StepView) -> str:
    """Hover text: id, kind and full target, description, markers and the condition."""
    import graphviz

    lines = [step.id, f"{step.kind} {_clean(step.target)}".strip()]
    if step.description:
        lines.append(step.description)
    if step.foreach:
        lines.append("runs once per item (foreach)")
    if step.pause_before:
        lines.append("breakpoint: the run pauses before this step")
    if step.when is not None:
        lines.append(f"when: {step.when}")
    # Each line is escaped, then they are joined by DOT's own newline escape.
    text: str = graphviz.nohtml("\\n".join(_shown(line) for line in lines))
    return text


def _edge_attrs(edge: EdgeView) -> dict[str, Any]:
    import graphviz

    css, style = _EDGE_STYLES.get(edge.via, _EDGE_STYLES["needs"])
    return {
        "id": graphviz.escape(f"edge_{edge.source}__{edge.target}"),
        "class": f"wfkit-edge {css}",
        "tooltip": graphviz.nohtml(_shown(f"{edge.source} -> {edge.target} ({edge.via})")),
        **style,
    }


def _sorted_edges(edges: Iterable[EdgeView], names: Mapping[str, str]) -> list[EdgeView]:
    """Edges in step order (source, then target), so edge order in the view is irrelevant."""
    order = {step_id: index for index, step_id in enumerate(names)}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in order:
                raise RenderError(
                    f"edge {edge.source!r} -> {edge.target!r} names a step {end!r} that "
                    "the graph view does not have; the view is inconsistent"
                )
    return sorted(edges, key=lambda e: (order[e.source], order[e.target], e.via))


def _finally_anchors(view: GraphView, edges: list[EdgeView]) -> list[tuple[str, str]]:
    """Invisible edges that push the ``finally`` cluster to the right of the main steps.

    From the deepest main step to every finally step that no other finally step precedes.
    """
    finals = {step.id for step in view.finally_steps}
    if not finals or not view.main_steps:
        return []
    main = {step.id for step in view.main_steps}
    anchor = view.main_steps[-1].id
    for generation in reversed(view.generations):
        deepest = [step_id for step_id in generation if step_id in main]
        if deepest:
            anchor = deepest[0]
            break
    preceded = {e.target for e in edges if e.source in finals and e.target in finals}
    return [(anchor, s.id) for s in view.finally_steps if s.id not in preceded]


def _clean(text: str) -> str:
    """One line of text: control characters (newlines, tabs) become single spaces."""
    return _CONTROL.sub(" ", text).strip()


def _shown(text: str) -> str:
    r"""One line of text made literal inside a quoted DOT escString (a tooltip).

    Backslashes are doubled and followed by a word joiner (U+2060, invisible): renderers
    disagree on how ``\\N`` is read (graphviz-pure expands it to the node name), and no
    escape sequence starts with a word joiner.
    """
    return _clean(text).replace("\\", "\\\\" + _JOINER)


def _html(text: str) -> str:
    r"""Text made safe inside a Graphviz HTML-like label.

    Graphviz leaves ``\N`` in HTML labels alone but graphviz-pure expands it (even from
    ``&#92;N``), so a word joiner (U+2060, invisible) follows each backslash.
    """
    return (
        _clean(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
        .replace("\\", "\\" + _JOINER)
    )
