"""Which names the expressions of one definition may read, and which steps a step may need.

A :class:`ReferenceContext` knows the ids of the main and finally steps and the declared
inputs; its checks give a problem message and hint for a bad reference (an unknown root,
input, workflow field or step, a step reading itself, a main step reading a finally step)
or a bad entry of ``needs``, and empty strings when all is well.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from wfkit.common.suggest import did_you_mean
from wfkit.definition.expressions import ROOTS, Expression, Reference

__all__ = ["WORKFLOW_FIELDS", "ReferenceContext", "steps_hint"]

#: What an expression may read of ``workflow``.
WORKFLOW_FIELDS = ("id", "name", "status")


@dataclass
class ReferenceContext:
    """The names expressions of one definition may read, and the steps a step may need."""

    main: set[str]
    finals: set[str]
    inputs: set[str]
    known: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.known = self.main | self.finals

    @staticmethod
    def valid_id(step_id: Any) -> bool:
        """Whether ``step_id`` can be a step's id (read as ``steps.<id>``)."""
        return isinstance(step_id, str) and step_id.isidentifier()

    def reads_well(
        self, expressions: Iterable[Expression], step: str | None, *, allow_item: bool
    ) -> bool:
        """Whether every reference of ``expressions`` is fine (the fast check, before any
        problem is placed)."""
        check = self.check
        for expression in expressions:
            for ref in expression.references:
                if check(ref, step, allow_item=allow_item)[0]:
                    return False
        return True

    def check(self, ref: Reference, step: str | None, *, allow_item: bool) -> tuple[str, str]:
        """A problem message and hint for one reference, or empty strings when it is fine."""
        root, target = ref.root, ref.step
        if root not in ROOTS:
            hint = did_you_mean(root, ROOTS) or f"expressions can read {', '.join(ROOTS)}"
            return f"unknown name {root!r} in expression", hint
        if root in ("item", "index") and not allow_item:
            return (
                f"{root!r} is only defined inside a step with foreach",
                "use item and index in the with or env of a foreach step",
            )
        if root == "inputs" and ref.member is not None and ref.member not in self.inputs:
            hint = did_you_mean(ref.member, self.inputs) or (
                f"declared inputs: {', '.join(sorted(self.inputs))}"
                if self.inputs
                else "declare it under inputs:"
            )
            return f"unknown input {ref.member!r}", hint
        if root == "workflow" and ref.member is not None and ref.member not in WORKFLOW_FIELDS:
            return (
                f"workflow has no field {ref.member!r}",
                f"workflow fields: {', '.join(WORKFLOW_FIELDS)}",
            )
        if target is None:
            return "", ""
        if target not in self.known:
            hint = steps_hint(target, self.known - {step} if step else self.known)
            return f"unknown step {target!r} in expression", hint
        if target == step:
            return (
                f"step {step!r} reads its own result",
                "a step cannot depend on itself; read an earlier step instead",
            )
        if step in self.main and target in self.finals:
            return (
                f"step {step!r} reads finally step {target!r}, which runs after every step",
                "only finally steps and the workflow output can read finally steps",
            )
        return "", ""

    def check_need(self, name: str, step: str, section: str) -> tuple[str, str]:
        """A problem message and hint for step ``step`` of ``section`` needing ``name``, or
        empty strings when it may."""
        if name == step:
            return f"step {step!r} needs itself", "remove it from needs"
        if name not in self.known:
            return f"unknown step {name!r} in needs", steps_hint(name, self.known - {step})
        if section == "steps" and name in self.finals:
            return (
                f"step {step!r} needs finally step {name!r}, which runs after every step",
                "only finally steps can need finally steps",
            )
        if section == "finally" and name in self.main:
            return (
                f"finally step {step!r} needs main step {name!r}",
                "finally steps run after every main step already; needs may name only "
                "other finally steps",
            )
        return "", ""


def steps_hint(name: str, known: Collection[str]) -> str:
    """Did-you-mean for a step id, or the known ids when none is close."""
    close = did_you_mean(name, known)
    if close or not known:
        return close
    ids = sorted(known)
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10:,} more" if len(ids) > 10 else "")
    return f"known steps: {shown}"
