"""Which child definitions a run is pinned to: every workflow it can start, transitively.

A run is pinned to its own definition's text when it starts; so are the children it can
start later (and theirs), so that editing or deleting a child's YAML file while the
parent sleeps never changes a run already started. ``workflow:`` targets are fixed text
(no expressions), so the set is known when the run starts. The texts are kept once per
hash in the store's definitions; each instance keeps only the map ``name -> hash`` in
its :class:`~wfkit.engine.core.history.ExecutionStarted` event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from wfkit.definition.model import Definition
from wfkit.engine.core.plan import WorkflowPlan
from wfkit.errors import PinnedDefinitionMissing, WfkitError

__all__ = ["pin", "pinned_definition", "reachable", "subset"]


def reachable(definition: Definition, lookup: Callable[[str], Definition | None]) -> dict[str, str]:
    """``name -> content hash`` of every workflow ``definition`` can start, directly or
    through its children. ``lookup`` gives a name's definition, or None when it has none
    (that name is left out: it will be looked up by name when the child starts, and
    fail then as it would have)."""
    pinned: dict[str, str] = {}
    todo = sorted(definition.child_workflows())
    while todo:
        name = todo.pop()
        if name in pinned:
            continue
        child = lookup(name)
        if child is None:
            continue
        pinned[name] = child.content_hash
        todo += sorted(child.child_workflows() - pinned.keys())
    return pinned


def subset(
    definition: Definition, pinned: Mapping[str, str], load: Callable[[str], Definition]
) -> dict[str, str]:
    """The part of a parent's ``pinned`` map that a child of ``definition`` can reach;
    ``load(hash)`` gives a pinned definition."""
    return reachable(definition, lambda name: load(pinned[name]) if name in pinned else None)


def pin(
    definition: Definition,
    parent_pinned: Mapping[str, str] | None,
    *,
    resolve: Callable[[str], Definition],
    load: Callable[[str], Definition],
) -> dict[str, str]:
    """What a new run of ``definition`` is pinned to: the part of its parent's map it can
    reach, or (a run started by name, or the child of a run that pinned nothing) every
    workflow it can reach as ``resolve(name)`` finds them now."""
    if not definition.child_workflows():
        return {}
    if parent_pinned is not None:
        return subset(definition, parent_pinned, load)

    def lookup(name: str) -> Definition | None:
        try:
            return resolve(name)
        except WfkitError:  # unknown now: looked up (and failing) when it starts
            return None

    return reachable(definition, lookup)


def pinned_definition(
    name: str, pinned: Mapping[str, str] | None, plan_for: Callable[[str], WorkflowPlan]
) -> Definition | None:
    """The definition a child ``name`` starts from: the one its parent was pinned to, or
    None when the parent pinned none (an older run: the child is looked up by name)."""
    if pinned is None or name not in pinned:
        return None
    try:
        return plan_for(pinned[name]).definition
    except LookupError:
        raise PinnedDefinitionMissing(name, pinned[name]) from None
