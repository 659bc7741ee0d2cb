"""A read-only view of a definition's graph, for user interfaces.

Views (graph drawings, widgets, the CLI) read these frozen objects and never the
networkx graph or the engine's internals, so either can change without breaking them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EdgeView", "GraphView", "StepView"]


@dataclass(frozen=True)
class StepView:
    """What a UI needs to know of one step."""

    id: str
    kind: str
    target: str
    description: str = ""
    is_finally: bool = False
    pause_before: bool = False
    foreach: bool = False
    when: str | None = None
    line: int = 0


@dataclass(frozen=True)
class EdgeView:
    """``source`` must finish before ``target``; ``via`` says why.

    ``via`` is ``"needs"`` (declared), ``"expression"`` (an expression in ``target`` reads
    ``steps.<source>``) or ``"needs+expression"`` (both).
    """

    source: str
    target: str
    via: str


@dataclass(frozen=True)
class GraphView:
    """A definition's steps and edges, in a stable order (file order for steps)."""

    name: str
    steps: tuple[StepView, ...]
    edges: tuple[EdgeView, ...]
    generations: tuple[tuple[str, ...], ...]
    description: str = ""

    def step(self, step_id: str) -> StepView:
        """The view of one step; ``KeyError`` when there is no such step."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def main_steps(self) -> tuple[StepView, ...]:
        return tuple(s for s in self.steps if not s.is_finally)

    @property
    def finally_steps(self) -> tuple[StepView, ...]:
        return tuple(s for s in self.steps if s.is_finally)
