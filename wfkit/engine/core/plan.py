"""A definition prepared for the engine: steps in dependency order, with their links.

Everything here is computed once per definition, so that deciding never walks the whole
definition to find what a step waits for or what waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wfkit.definition.cel_cost import DEFAULT_BUDGET, Budget
from wfkit.definition.expressions import Expression
from wfkit.definition.model import Definition, Step, StepKind
from wfkit.definition.templates import Template
from wfkit.graph.order import topological_order

__all__ = ["RUNNER_KINDS", "WorkflowPlan"]

#: Kinds whose steps the step runner executes; wait, sleep and workflow are the engine's.
RUNNER_KINDS = frozenset({StepKind.CALL, StepKind.SHELL, StepKind.NOTEBOOK})


@dataclass(frozen=True)
class WorkflowPlan:
    """A definition prepared for deciding.

    ``main`` and ``final`` list the steps and the ``finally`` steps in dependency order
    (file order among equals). ``waits_for[s]`` are the steps ``s`` must see settled
    before it may start, within its own phase (finally steps start after every main
    step anyway); ``unblocks[s]`` is the reverse.
    """

    definition: Definition
    main: tuple[str, ...]
    final: tuple[str, ...]
    order: Mapping[str, int] = field(default_factory=dict)
    waits_for: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unblocks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    waits: tuple[str, ...] = ()
    roots: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """The names (inputs, steps, workflow, item, index) each step's expressions read;
    the key ``""`` holds those of the workflow's output."""
    specs: Mapping[str, Step] = field(default_factory=dict)
    """Every step, main and ``finally``, by id (what :meth:`spec` looks in)."""
    budget: Budget = DEFAULT_BUDGET
    """What one evaluation of an expression may cost (the ``expression_*`` settings)."""

    @staticmethod
    def of(definition: Definition, budget: Budget = DEFAULT_BUDGET) -> WorkflowPlan:
        main = _ordered(definition.steps)
        final = _ordered(definition.finally_steps)
        order = {sid: i for i, sid in enumerate((*main, *final))}
        waits_for: dict[str, tuple[str, ...]] = {}
        unblocks: dict[str, list[str]] = {sid: [] for sid in order}
        for phase in (definition.steps, definition.finally_steps):
            for sid, step in phase.items():
                deps = tuple(
                    sorted((d for d in step.depends_on if d in phase), key=order.__getitem__)
                )
                waits_for[sid] = deps
                for dep in deps:
                    unblocks[dep].append(sid)
        return WorkflowPlan(
            definition,
            main,
            final,
            order,
            waits_for,
            {sid: tuple(sorted(v, key=order.__getitem__)) for sid, v in unblocks.items()},
            tuple(s.id for s in definition.all_steps().values() if s.kind is StepKind.WAIT),
            {
                "": _roots(definition.output),
                **{
                    sid: _roots(step.when, step.foreach, step.with_, step.env)
                    for sid, step in definition.all_steps().items()
                },
            },
            {**definition.steps, **definition.finally_steps},
            budget,
        )

    def spec(self, step_id: str) -> Step:
        return self.specs[step_id]

    def is_final(self, step_id: str) -> bool:
        return step_id in self.definition.finally_steps


def _roots(*parts: Expression | Template | None) -> frozenset[str]:
    found: set[str] = set()
    for part in parts:
        if isinstance(part, Expression):
            found |= part.roots
        elif isinstance(part, Template):
            for expression in part.expressions():
                found |= expression.roots
    return frozenset(found)


def _ordered(steps: Mapping[str, Step]) -> tuple[str, ...]:
    """Dependency order, the earliest step in the file first among those ready."""
    edges = ((dep, sid) for sid, step in steps.items() for dep in step.depends_on)
    found = topological_order(list(steps), edges)
    if found is None:  # definitions are checked for cycles when they load: never here
        raise ValueError(f"steps of {list(steps)[:5]}... form a cycle")
    return tuple(found)
