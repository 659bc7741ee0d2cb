"""How model objects find their notebook renderers without importing the views layer.

Lower layers cannot import :mod:`wfkit.views` (imports point down only), yet a
``Definition`` should draw itself in a notebook. The views layer registers a renderer per
type here when it is imported (``import wfkit`` does that); until then, and whenever a
renderer fails, objects fall back to their plain text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Renderer", "mimebundle", "register_renderer"]

Renderer = Callable[[Any], dict[str, Any]]

_log = logging.getLogger(__name__)
_renderers: dict[type, Renderer] = {}


def register_renderer(cls: type, renderer: Renderer) -> None:
    """Make ``renderer(obj)`` produce the notebook mime bundle of instances of ``cls``."""
    _renderers[cls] = renderer


def mimebundle(obj: object, fallback_text: str) -> dict[str, Any]:
    """The mime bundle for ``obj``; never raises (a notebook cell must not error on display)."""
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
