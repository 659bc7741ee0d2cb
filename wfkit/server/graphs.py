"""Graphs as SVG for the server: the drawing the notebook shows, laid out off the event
loop, at most a few at once, and each layout kept for the next request.

A layout runs the Graphviz-compatible renderer (a subprocess, tens of milliseconds); the
colours of an instance's steps are painted into a kept layout
(:class:`~wfkit.views.instance.StatusSvg`) without laying it out again, so an instance
page that refreshes its graph at every change costs a string join."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import anyio
from anyio import CapacityLimiter

from wfkit.definition.model import Definition
from wfkit.runtime.snapshot import InstanceSnapshot
from wfkit.views.instance import StatusSvg, draw_status_svg

__all__ = ["LAYOUTS_KEPT", "RENDERS_AT_ONCE", "GraphDrawer"]

LAYOUTS_KEPT = 256
"""Layouts kept (the least recently used go first)."""

RENDERS_AT_ONCE = 2
"""Renderer processes run at once; further requests wait their turn."""


class GraphDrawer:
    """SVG drawings of definitions and instances, with their layouts kept."""

    def __init__(self) -> None:
        self._layouts: OrderedDict[Hashable, StatusSvg] = OrderedDict()
        self._lock = threading.Lock()
        self._limiter: CapacityLimiter | None = None

    async def instance_svg(self, snapshot: InstanceSnapshot) -> str:
        """``snapshot``'s graph, its steps coloured by status."""
        layout = await self._layout(snapshot.layout_key, snapshot)
        return layout.paint(snapshot.statuses)

    async def definition_svg(self, definition: Definition) -> str:
        """``definition``'s graph, every step pending."""
        layout = await self._layout(("definition", definition.content_hash), definition)
        return layout.paint({})

    async def _layout(self, key: Hashable, source: InstanceSnapshot | Definition) -> StatusSvg:
        with self._lock:
            found = self._layouts.get(key)
            if found is not None:
                self._layouts.move_to_end(key)
                return found
        if self._limiter is None:  # made in the event loop's thread, on first use
            self._limiter = CapacityLimiter(RENDERS_AT_ONCE)
        drawn = await anyio.to_thread.run_sync(_draw, source, key, limiter=self._limiter)
        with self._lock:
            self._layouts[key] = drawn
            while len(self._layouts) > LAYOUTS_KEPT:
                self._layouts.popitem(last=False)
        return drawn


def _draw(source: InstanceSnapshot | Definition, key: Hashable) -> StatusSvg:
    """Lay ``source`` out (runs the renderer: call it in a worker thread)."""
    if isinstance(source, Definition):
        from wfkit.graph import build_view

        return draw_status_svg(build_view(source), key)
    return draw_status_svg(source.graph(), key)
