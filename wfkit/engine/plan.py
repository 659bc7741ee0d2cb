"""A definition prepared for the engine: steps in dependency order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wfkit.definition.model import Definition, Step, StepKind

__all__ = ["RUNNER_KINDS", "WorkflowPlan"]

#: Kinds whose steps the step runner executes; wait, sleep and workflow are the engine's.
RUNNER_KINDS = frozenset({StepKind.CALL, StepKind.SHELL, StepKind.NOTEBOOK})


@dataclass(frozen=True)
class WorkflowPlan:
    """A definition prepared for deciding: steps in dependency order (file order within)."""

    definition: Definition
    main: tuple[str, ...]
    final: tuple[str, ...]

    @staticmethod
    def of(definition: Definition) -> WorkflowPlan:
        return WorkflowPlan(
            definition,
            _ordered(definition.steps),
            _ordered(definition.finally_steps),
        )

    def spec(self, step_id: str) -> Step:
        steps = self.definition.steps
        return steps[step_id] if step_id in steps else self.definition.finally_steps[step_id]


def _ordered(steps: Any) -> tuple[str, ...]:
    ids = list(steps)
    done: list[str] = []
    seen: set[str] = set()
    while len(done) < len(ids):
        progressed = False
        for sid in ids:
            if sid not in seen and all(d in seen or d not in steps for d in steps[sid].depends_on):
                seen.add(sid)
                done.append(sid)
                progressed = True
        if not progressed:  # a cycle: definitions are checked at load, so never here
            raise ValueError(f"steps form a cycle among {sorted(set(ids) - seen)}")
    return tuple(done)
