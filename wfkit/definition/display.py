"""How model objects find their notebook renderers without importing the views layer.

Lower layers cannot import :mod:`wfkit.views` (imports point down only), yet a
``Definition`` should draw itself in a notebook. The views layer registers a renderer per
type here when it is imported. ``import wfkit`` names the module that does so with
:func:`register_renderer_module`, and it is imported on the first display, so that
programs that never display anything never load it. Until then, and whenever a
renderer fails, objects fall back to their plain text.

Live panels work the same way: the views layer registers a widget factory per type
(:func:`register_widget`), and ``instance.widget()`` asks :func:`make_widget`, which
loads the named modules first. So the runtime never names the views layer, and
``instance.widget()`` works in a notebook that imported only ``wfkit`` (the package's
``__init__``, which names ``wfkit.views``, always runs before any of its modules).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from wfkit.errors import RenderError

__all__ = [
    "Renderer",
    "WidgetFactory",
    "make_widget",
    "mimebundle",
    "register_renderer",
    "register_renderer_module",
    "register_widget",
]

Renderer = Callable[[Any], dict[str, Any]]
WidgetFactory = Callable[..., Any]

_log = logging.getLogger(__name__)
_renderers: dict[type, Renderer] = {}
_widgets: dict[type, WidgetFactory] = {}
_modules: list[str] = []


def register_renderer_module(name: str) -> None:
    """Import module ``name`` (which calls :func:`register_renderer`) on the first display."""
    if name not in _modules:
        _modules.append(name)


def _load_modules(*, strict: bool = False) -> None:
    while _modules:
        name = _modules.pop(0)
        try:
            importlib.import_module(name)
        except Exception:  # a display must never break the cell that shows it
            if strict:
                raise
            _log.warning("could not load the renderers of %s", name, exc_info=True)


def register_renderer(cls: type, renderer: Renderer) -> None:
    """Make ``renderer(obj)`` produce the notebook mime bundle of instances of ``cls``."""
    _renderers[cls] = renderer


def mimebundle(obj: object, fallback_text: str) -> dict[str, Any]:
    """The mime bundle for ``obj``; never raises (a notebook cell must not error on display)."""
    _load_modules()
    for cls in type(obj).__mro__:
        renderer = _renderers.get(cls)
        if renderer is None:
            continue
        try:
            bundle = dict(renderer(obj))
        except Exception:  # a display must never break the cell that shows it
            _log.warning("rendering %r failed; showing text", obj, exc_info=True)
            break
        bundle.setdefault("text/plain", fallback_text)
        return bundle
    return {"text/plain": fallback_text}


def register_widget(cls: type, factory: WidgetFactory) -> None:
    """Make ``factory(obj, **options)`` build the live panel of instances of ``cls``."""
    _widgets[cls] = factory


def make_widget(obj: object, **options: Any) -> Any:
    """The live panel of ``obj``, built by the factory registered for its type.

    Unlike a display, this raises: the modules named with
    :func:`register_renderer_module` are imported first, and their errors (a missing
    ``ipywidgets``, say) reach the caller; :class:`~wfkit.errors.RenderError` when no
    factory is registered for ``obj``'s type."""
    _load_modules(strict=True)
    for cls in type(obj).__mro__:
        factory = _widgets.get(cls)
        if factory is not None:
            return factory(obj, **options)
    raise RenderError(
        f"no live panel is registered for {type(obj).__name__}: the views layer was not "
        "loaded; import wfkit.views (pip install 'wfkit[jupyter]' for the widgets)"
    )
