"""Generators of the documentation pages that are computed from the code.

``python -m docs._gen`` (from the repository root) rewrites every generated page under
``docs/``; ``python -m docs._gen --check`` only says which are out of date. The generated
pages are committed, so the site builds without running any generator, and
``tests/docs`` fails when one of them no longer matches the code.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

#: Each generated page (path under ``docs/``) and the module whose ``render()`` makes it.
MODULES: tuple[str, ...] = (
    "docs._gen.language",
    "docs._gen.cli",
    "docs._gen.api",
    "docs._gen.statuses",
    "docs._gen.dapr",
    "docs._gen.tutorials",
)


def generators() -> dict[str, Callable[[], str]]:
    """Page path under ``docs/`` -> the function that renders it."""
    out: dict[str, Callable[[], str]] = {}
    for name in MODULES:
        module = import_module(name)
        out[module.OUTPUT] = module.render
    return out


def render_all() -> dict[str, str]:
    """Every generated page's path under ``docs/`` and its text."""
    return {path: render() for path, render in generators().items()}
