"""Drawing workflows: DOT text, SVG/PNG rendering and notebook display.

Importing this package registers how a :class:`~wfkit.definition.model.Definition` and a
:class:`~wfkit.runtime.api.Instance` show themselves in a notebook (see
:mod:`wfkit.definition.display`). It stays cheap to import: ``graphviz`` and
``networkx`` are loaded only when a graph is actually drawn, and ``ipywidgets`` and
IPython only by :mod:`wfkit.views.widget` (``InstanceWidget``) and
:mod:`wfkit.views.magics` (``%load_ext wfkit.views.magics``), which are not imported here.
"""

from __future__ import annotations

from typing import Any

from wfkit.definition.display import register_renderer, register_widget
from wfkit.definition.model import Definition
from wfkit.runtime.api import Instance
from wfkit.views.dot import STATUS_COLORS, to_dot
from wfkit.views.instance import (
    InstanceView,
    StepRunView,
    instance_mimebundle,
    instance_view,
    preview,
)
from wfkit.views.notebook import definition_mimebundle
from wfkit.views.render import find_renderer, render, render_file

__all__ = [
    "STATUS_COLORS",
    "InstanceView",
    "StepRunView",
    "definition_mimebundle",
    "find_renderer",
    "instance_mimebundle",
    "instance_view",
    "preview",
    "render",
    "render_file",
    "to_dot",
]


def _instance_widget(instance: Instance, **options: Any) -> Any:
    # imported on the first panel: ipywidgets is loaded only then
    from wfkit.views.widget import InstanceWidget

    return InstanceWidget(instance, **options)


register_renderer(Definition, definition_mimebundle)
register_renderer(Instance, instance_mimebundle)
register_widget(Instance, _instance_widget)
