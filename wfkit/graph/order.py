"""Topological order without networkx (which costs 0.2 s to import): Kahn's algorithm.

Used on every load (cycle checks of steps and of child workflows) and by the engine's
plans; networkx is imported only to draw graphs or to describe a cycle once one exists.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

__all__ = ["topological_order"]


def topological_order(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """``nodes`` ordered so that every edge ``(a, b)`` has ``a`` before ``b``, taking the
    earliest node in ``nodes`` among those ready; None when the edges form a cycle.
    Edges naming unknown nodes are ignored."""
    position = {node: i for i, node in enumerate(nodes)}
    waiting = dict.fromkeys(nodes, 0)
    after: dict[str, list[str]] = {}
    for first, then in edges:
        if first in position and then in position:
            waiting[then] += 1
            after.setdefault(first, []).append(then)
    ready = [(position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    done: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        done.append(node)
        for nxt in after.get(node, ()):
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, (position[nxt], nxt))
    return done if len(done) == len(position) else None
