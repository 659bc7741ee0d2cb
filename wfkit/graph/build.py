"""A definition as a networkx DAG, its static checks, and the read-only view for UIs.

One node per step (``finally`` steps included), with the :class:`Step` and its kind as
attributes; an edge ``a -> b`` when ``b`` needs ``a`` or an expression in ``b`` reads
``steps.a``, with ``via`` saying which. Finally steps have no edge from the main steps
they do not read: they run after every main step by rule, not by edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfkit.definition.model import Definition, Step, StepKind
from wfkit.definition.parse import paused_gc
from wfkit.errors import Problem
from wfkit.graph.order import topological_order
from wfkit.graph.view import EdgeView, GraphView, StepView

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["build_graph", "build_view", "cycle_problems", "generations"]


def build_graph(definition: Definition) -> nx.DiGraph:
    """The step graph of ``definition`` (edges point from a step to those that depend on it)."""
    import networkx as nx  # imported where used: it costs 0.2 s, and running needs none of it

    graph = nx.DiGraph(name=definition.name)
    steps = definition.all_steps()
    with paused_gc():  # a bulk build, like parsing: do not scan the new objects meanwhile
        graph.add_nodes_from(
            (s.id, {"step": s, "kind": s.kind.value, "is_finally": s.is_finally})
            for s in steps.values()
        )
        graph.add_edges_from(
            (source, step.id, {"via": _via(source, step)})
            for step in steps.values()
            for source in sorted(step.depends_on)
            if source in steps  # an unknown id was reported when the definition was parsed
        )
    return graph


def _via(source: str, step: Step) -> str:
    if source in step.needs:
        return "needs+expression" if source in step.refs else "needs"
    return "expression"


def cycle_problems(definition: Definition, graph: nx.DiGraph | None = None) -> list[Problem]:
    """One problem per cycle among the steps, naming the path with each step's line."""
    if graph is None:
        if _is_acyclic(definition):  # the usual case, answered without importing networkx
            return []
        graph = build_graph(definition)
    import networkx as nx

    steps = definition.all_steps()
    problems = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1:
            (node,) = component
            if not graph.has_edge(node, node):
                continue
        cycle = _cycle_in(graph.subgraph(component))
        first = min(cycle, key=lambda s: (steps[s].line, steps[s].column))
        start = cycle.index(first)
        ordered = cycle[start:] + cycle[:start]
        path = " -> ".join(f"{s} (line {steps[s].line})" for s in [*ordered, first])
        second = ordered[1] if len(ordered) > 1 else first
        path += f"; {first} -> {second} means {second} needs or reads {first}"
        step = steps[first]
        problems.append(
            Problem(
                definition.path,
                step.line,
                step.column,
                f"steps form a cycle: {path}",
                "each step must come after those it needs; remove one of these "
                "dependencies (a needs entry or a steps.<id> reference)",
                first,
            )
        )
    return problems


def _is_acyclic(definition: Definition) -> bool:
    """Whether the steps form no cycle (without building a networkx graph)."""
    steps = definition.all_steps()
    edges = ((dep, sid) for sid, step in steps.items() for dep in step.depends_on)
    return topological_order(list(steps), edges) is not None


def _cycle_in(component: Any) -> list[str]:
    import networkx as nx

    edges = nx.find_cycle(component)
    return [edge[0] for edge in edges]


def generations(graph: nx.DiGraph) -> list[list[str]]:
    """Steps in topological generations (each list can run together), ids sorted within."""
    import networkx as nx

    return [sorted(gen) for gen in nx.topological_generations(graph)]


def build_view(definition: Definition) -> GraphView:
    """The read-only :class:`GraphView` of a (valid) definition, in file order."""
    graph = build_graph(definition)
    steps = tuple(_step_view(s) for s in definition.all_steps().values())
    order = {s.id: i for i, s in enumerate(steps)}
    edges = tuple(
        EdgeView(a, b, data["via"])
        for a, b, data in sorted(graph.edges(data=True), key=lambda e: (order[e[1]], order[e[0]]))
    )
    gens = tuple(tuple(g) for g in generations(graph)) if _is_acyclic(definition) else ()
    return GraphView(definition.name, steps, edges, gens, definition.description)


def _step_view(step: Step) -> StepView:
    return StepView(
        id=step.id,
        kind=step.kind.value,
        target=_target_text(step),
        description=step.description,
        is_finally=step.is_finally,
        pause_before=step.pause_before,
        foreach=step.foreach is not None,
        when=step.when.source.strip() if step.when is not None else None,
        line=step.line,
    )


def _target_text(step: Step) -> str:
    if step.kind is StepKind.SHELL:
        return " ".join(step.target)
    if step.kind is StepKind.WAIT:
        text = f"event {step.target.event}"
        return f"{text}, timeout {step.target.timeout}" if step.target.timeout else text
    return str(step.target)
