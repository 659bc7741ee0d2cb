"""``concepts/statuses.md``: runtime and step statuses and the lifecycle transition table.

The prose is ``templates/statuses.md``; the status lists, the terminal set and the table
of which operation does what in which status are read from :mod:`wfkit.engine.core.status`
(``RuntimeStatus``, ``StepStatus``, ``TERMINAL_STATUSES``, ``TRANSITIONS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docs._gen._common import banner, code, fill, table, template

if TYPE_CHECKING:
    from wfkit.engine.core.status import RuntimeStatus

OUTPUT = "concepts/statuses.md"

#: What each runtime status means in wfkit. Every status must have an entry.
RUNTIME_MEANINGS: dict[str, str] = {
    "PENDING": "Started and stored; no step has been scheduled yet.",
    "RUNNING": "Steps are running, waiting for an event or a timer, or ready to start.",
    "SUSPENDED": "Paused: by `pause`, at a breakpoint (`pause_before`), or after "
    "`resume --step`. Running steps finish and their results are recorded; nothing new "
    "starts until `resume`.",
    "COMPLETED": "Every step settled and the `output` was computed.",
    "FAILED": "A step failed for good (after its retries, with `on_error: fail`), or the "
    "`output` expression failed. The `finally` steps ran.",
    "TERMINATED": "Stopped by `terminate`. Steps that had not settled are `canceled`.",
    "CANCELED": "Dapr's status; wfkit has no cancel operation and never sets it.",
    "CONTINUED_AS_NEW": "Dapr's status; wfkit has no continue-as-new and never sets it.",
}

#: What each step status means. Every status must have an entry.
STEP_MEANINGS: dict[str, str] = {
    "pending": "Not started: it waits for the steps it depends on (or the instance is suspended).",
    "running": "Started: a call, shell or notebook attempt or a child workflow is running, "
    "or a retry is due.",
    "waiting": "A `wait` step waiting for its event, or a `sleep` step on its timer.",
    "completed": "Done; `steps.<id>.output` holds its result.",
    "failed": "Failed for good, after its retries.",
    "skipped": "Its `when` was false; its output is null and its dependents still run.",
    "canceled": "The instance ended (terminated, or failed elsewhere) before this step "
    "settled or started.",
}


def _check(meanings: dict[str, str], values: list[str], what: str) -> None:
    if sorted(meanings) != sorted(values):
        raise ValueError(f"{what} meanings {sorted(meanings)} differ from {sorted(values)}")


def _runtime_table() -> str:
    from wfkit.engine.core.status import TERMINAL_STATUSES, RuntimeStatus

    statuses = [s.value for s in RuntimeStatus]
    _check(RUNTIME_MEANINGS, statuses, "runtime status")
    return table(
        ("status", "terminal", "meaning"),
        [
            [code(s.value), "yes" if s in TERMINAL_STATUSES else "", RUNTIME_MEANINGS[s.value]]
            for s in _grouped_statuses()
        ],
    )


def _step_table() -> str:
    from wfkit.engine.core.status import StepStatus

    _check(STEP_MEANINGS, [s.value for s in StepStatus], "step status")
    return table(
        ("status", "final", "meaning"),
        [
            [code(s.value), "yes" if s.is_terminal else "", STEP_MEANINGS[s.value]]
            for s in StepStatus
        ],
    )


def _rule_text(rule: object) -> str:
    from wfkit.engine.core.status import Outcome, Refusal

    if rule is Outcome.APPLY:
        return "applies"
    if rule is Outcome.NO_OP:
        return "no-op"
    if isinstance(rule, Refusal):
        return "**refused**"
    raise ValueError(f"unknown rule {rule!r}")


def _grouped_statuses() -> list[RuntimeStatus]:
    """Active statuses, then SUSPENDED, then terminal ones; Dapr's order within each."""
    from wfkit.engine.core.status import RuntimeStatus

    def group(status: RuntimeStatus) -> int:
        return 2 if status.is_terminal else 1 if status is RuntimeStatus.SUSPENDED else 0

    return sorted(RuntimeStatus, key=group)


def _transitions_table() -> str:
    from wfkit.engine.core.status import TRANSITIONS, Operation

    return table(
        ("status", *(code(op.value) for op in Operation)),
        [
            [code(status.value), *(_rule_text(TRANSITIONS[status, op]) for op in Operation)]
            for status in _grouped_statuses()
        ],
    )


def _refusals_table() -> str:
    from wfkit.engine.core.status import TRANSITIONS, Operation, Refusal

    # Walked in enum order: TRANSITIONS' own order follows a frozenset, which varies
    # between processes.
    grouped: dict[tuple[Operation, Refusal], list[str]] = {}
    for operation in Operation:
        for status in _grouped_statuses():
            rule = TRANSITIONS[status, operation]
            if isinstance(rule, Refusal):
                grouped.setdefault((operation, rule), []).append(status.value)
    fields = {"id": "ID", "status": "STATUS"}
    rows = [
        [
            code(operation.value),
            ", ".join(code(s) for s in statuses),
            code(rule.message.format_map(fields)),
            rule.hint.format_map(fields),
        ]
        for (operation, rule), statuses in grouped.items()
    ]
    return table(("operation", "in status", "error message", "hint"), rows)


def render() -> str:
    """The page."""
    text = fill(
        template("statuses.md"),
        {
            "runtime_statuses": _runtime_table(),
            "step_statuses": _step_table(),
            "transitions": _transitions_table(),
            "refusals": _refusals_table(),
        },
    )
    source = "`wfkit/engine/core/status.py` and `docs/_gen/templates/statuses.md`"
    return banner(source) + text
