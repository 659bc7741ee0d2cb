"""Generators of the documentation pages that are computed from the code.

``python -m docs._gen`` (from the repository root) rewrites every generated page under
``docs/``; ``python -m docs._gen --check`` only says which are out of date. The generated
pages are committed, so the site builds without running any generator, and
``tests/docs`` fails when one of them no longer matches the code.

A module makes one page, ``OUTPUT``, with ``render()``. It may also own a folder under
``docs/``, ``FOLDER``, whose pages ``render_folder()`` makes (path under ``docs/`` -> text):
every file in such a folder is generated, so one that no generator makes any more is stale.
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


def folders() -> tuple[str, ...]:
    """The folders under ``docs/`` whose every file is generated."""
    return tuple(
        module.FOLDER for module in map(import_module, MODULES) if hasattr(module, "FOLDER")
    )


def render_all() -> dict[str, str]:
    """Every generated page's path under ``docs/`` and its text."""
    pages = {path: render() for path, render in generators().items()}
    for name in MODULES:
        module = import_module(name)
        if hasattr(module, "FOLDER"):
            made: dict[str, str] = module.render_folder()
            outside = sorted(p for p in made if not p.startswith(f"{module.FOLDER}/"))
            if outside:
                raise ValueError(f"{name} makes pages outside {module.FOLDER}/: {outside}")
            pages.update(made)
    return pages
