"""What step expressions see, and turning their values into step inputs.

CEL converts the whole context on every evaluation, so a context holds only the names
the step's expressions read (``inputs``, ``steps.<id>``, ``workflow``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from wfkit.definition.cel_cost import Budget
from wfkit.definition.templates import Template
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.engine.core.state import InstanceState
from wfkit.engine.core.status import RuntimeStatus, StepStatus

__all__ = ["context_for", "describe", "env_text", "json_type", "render", "truthy"]

# a plain str for expressions; reading the enum's .value costs about 0.5 µs a time
_STATUS_TEXT = {status: status.value for status in StepStatus}
_RUNTIME_TEXT: dict[str, str] = {status: status.value for status in RuntimeStatus}


def describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no field {exc.args[0]!r} (guard it with has(...) or a status check)"
    return str(exc) or type(exc).__name__


def context_for(
    plan: WorkflowPlan, state: InstanceState, refs: Iterable[str], wf_status: str, who: str
) -> dict[str, Any]:
    """What expressions of step ``who`` (or of the output, for ``""``) may read; only the
    names they use, since CEL converts the whole context on every evaluation."""
    roots = plan.roots.get(who, frozenset())
    context: dict[str, Any] = {}
    if "steps" in roots:
        steps = {}
        for sid in refs:
            step = state.steps.get(sid)
            steps[sid] = {
                "output": step.output if step else None,
                "status": _STATUS_TEXT[step.status] if step else "pending",
            }
        context["steps"] = steps
    if "inputs" in roots:
        context["inputs"] = state.input if isinstance(state.input, dict) else {}
    if "workflow" in roots:
        status = _RUNTIME_TEXT.get(wf_status, wf_status)
        context["workflow"] = {"id": state.instance_id, "name": state.name, "status": status}
    return context


def render(
    template: Template | None,
    context: dict[str, Any],
    budget: Budget,
    memo: dict[Any, Any] | None = None,
) -> Any:
    """``template`` rendered (None stays None); ``memo``: see :meth:`Template.render`."""
    return None if template is None else template.render(context, budget, memo)


def env_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"when gave {json_type(value)}, not true or false")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", dict: "a map"}.get(
        type(value), type(value).__name__
    )
