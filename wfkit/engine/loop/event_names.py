"""Event names a ``raise_event`` carries: which can never match, which nothing awaits.

A ``wait`` step's event name is fixed text in its definition (the loader refuses an
expression in it), so whether an instance can ever take an event is known from the
definition it runs: a name no wait step of its workflow takes stays buffered, unused,
until the instance ends. Events are not passed on to child instances, so a name only a
child workflow waits for is one of those; the warning then names the child instance.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from wfkit.common.suggest import did_you_mean
from wfkit.definition.model import Definition, StepKind, WaitSpec
from wfkit.definition.schema import load_schema
from wfkit.errors import InvalidEventName, UnknownEventWarning, WfkitError, short

if TYPE_CHECKING:
    from wfkit.engine.loop.engine import Engine

__all__ = ["MAX_EVENT_NAME", "check_event_name", "unheard_event", "wait_events"]

MAX_EVENT_NAME: int = load_schema()["$defs"]["eventName"]["maxLength"]
"""The longest event name, in characters: the language's, so that a name a definition
can declare can always be sent, and one it cannot is refused when sent."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHOWN_CHILDREN = 3


def check_event_name(instance_id: str, name: object) -> None:
    """Raise :class:`InvalidEventName` for a name no wait step could ever take."""
    if not isinstance(name, str):
        reason = f"the name must be text, not {type(name).__name__}"
    elif not name:
        reason = "the name is empty"
    elif len(name) > MAX_EVENT_NAME:
        reason = f"the name has {len(name)} characters"
    elif (found := _CONTROL.search(name)) is not None:
        reason = f"the name has a control character ({found.group()!r}) at {found.start() + 1}"
    else:
        return
    raise InvalidEventName(instance_id, str(name), reason, MAX_EVENT_NAME)


def wait_events(definition: Definition) -> dict[str, str]:
    """Event name (lower case) -> the first wait step of ``definition`` that takes it."""
    found: dict[str, str] = {}
    for step in definition.all_steps().values():
        if isinstance(step.target, WaitSpec):
            found.setdefault(step.target.event, step.id)
    return found


def unheard_event(engine: Engine, instance_id: str, name: str) -> UnknownEventWarning | None:
    """The warning for event ``name`` (lower case) just sent to ``instance_id`` when no
    wait step of its workflow takes it; None when one does (or the instance is gone)."""
    row = engine.store.get(instance_id)
    if row is None:
        return None
    definition = engine.plan_for(row.definition_hash).definition
    expected = wait_events(definition)
    if name in expected:
        return None
    hint = _child_hint(engine, instance_id, definition, name) or did_you_mean(name, expected)
    return UnknownEventWarning(
        instance_id=instance_id,
        workflow_name=definition.name,
        event=name,
        expected=sorted(expected),
        hint=hint,
    )


def _child_hint(engine: Engine, instance_id: str, definition: Definition, name: str) -> str:
    """Where the event should go when a child workflow (at any depth) waits for it."""
    for workflow, step in _child_waits(engine.resolve, definition, name):
        ids = []
        for child in engine.store.children(instance_id):
            row = engine.store.get(child)
            if row is not None and row.workflow_name == workflow:
                ids.append(child)
        where = (
            "raise it to that child instance: " + ", ".join(short(i) for i in ids[:_SHOWN_CHILDREN])
            if ids
            else "raise it to the child instance once it has started (wfkit list --name "
            f"{short(workflow)})"
        )
        return (
            f"events are not passed on to child workflows: step {short(step)!r} of child "
            f"workflow {short(workflow)!r} waits for it; {where}"
        )
    return ""


def _child_waits(
    resolve: Callable[[str], Definition], definition: Definition, name: str
) -> Iterator[tuple[str, str]]:
    """``(workflow, step)`` of the wait steps of child workflows that take ``name``."""
    seen = {definition.name}
    todo = [definition]
    while todo:
        parent = todo.pop(0)
        for step in parent.all_steps().values():
            if step.kind is not StepKind.WORKFLOW or step.target in seen:
                continue
            seen.add(step.target)
            try:
                child = resolve(step.target)
            except WfkitError:  # not in the folder (any more): nothing to say about it
                continue
            waits = wait_events(child)
            if name in waits:
                yield child.name, waits[name]
            todo.append(child)
