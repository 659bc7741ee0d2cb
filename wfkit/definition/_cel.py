"""The CEL compiler, loaded without the ``cel`` package's command-line interface.

``import cel`` runs the package's ``__init__``, which imports its REPL (typer,
prompt_toolkit, pygments): about 0.2 s of start-up that a workflow run never uses. The
compiled extension ``cel/cel.*.so`` is self-contained, so it is loaded directly; if that
ever fails (another layout, another version), the plain import is used instead.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

__all__ = ["compile"]


def _load() -> ModuleType:
    loaded = sys.modules.get("cel.cel")
    if loaded is not None:
        return loaded
    try:
        spec = importlib.util.find_spec("cel")
        folder = os.path.dirname(spec.origin) if spec and spec.origin else ""
        names = [
            n
            for n in os.listdir(folder)
            if n.startswith("cel.") and n.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
        ]
        loader = importlib.machinery.ExtensionFileLoader("cel.cel", os.path.join(folder, names[0]))
        module_spec = importlib.util.spec_from_file_location("cel.cel", loader.path, loader=loader)
        if module_spec is None:
            raise ImportError("no spec for cel.cel")
        module = importlib.util.module_from_spec(module_spec)
        loader.exec_module(module)
        if not hasattr(module, "compile"):
            raise ImportError("cel.cel has no compile()")
        # A later ``import cel`` (by user code) must find this module, not initialise the
        # extension a second time, which the Rust side does not allow.
        sys.modules["cel.cel"] = module
        return module
    except (ImportError, OSError, IndexError):
        import cel

        return cel


_module = _load()


def compile(source: str) -> Any:
    """Compile CEL text into a program with ``execute(context)``."""
    return _module.compile(source)
