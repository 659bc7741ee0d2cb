"""Drawing workflows: DOT text, SVG/PNG rendering and notebook display.

Importing this package registers how a :class:`~wfkit.definition.model.Definition` shows
itself in a notebook (see :mod:`wfkit.definition.display`). It stays cheap to import:
``graphviz`` and ``networkx`` are loaded only when a graph is actually drawn.
"""

from __future__ import annotations

from wfkit.definition.display import register_renderer
from wfkit.definition.model import Definition
from wfkit.views.dot import STATUS_COLORS, to_dot
from wfkit.views.notebook import definition_mimebundle
from wfkit.views.render import find_renderer, render, render_file

__all__ = [
    "STATUS_COLORS",
    "definition_mimebundle",
    "find_renderer",
    "render",
    "render_file",
    "to_dot",
]

register_renderer(Definition, definition_mimebundle)
