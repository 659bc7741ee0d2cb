"""Composition: the engine wired to a store backend and the local step runner.

This layer sits above ``store`` and ``steps`` (it picks the backends the engine is handed)
and below ``views``, ``cli`` and ``server``. It holds the Dapr-contract ``StepExecutor``
and the friendly notebook API (``wfkit.open``).

The names below are loaded when first used, as ``wfkit``'s own are: importing a light
module of this package (``preview``, ``settings``) must not load the engine and a store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Instance": "wfkit.runtime.api",
    "Runtime": "wfkit.runtime.api",
    "Settings": "wfkit.runtime.settings",
    "StepExecutor": "wfkit.runtime.executor",
    "StepInfo": "wfkit.runtime.api",
    "open_runtime": "wfkit.runtime.api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'wfkit.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from wfkit.runtime.api import Instance as Instance
    from wfkit.runtime.api import Runtime as Runtime
    from wfkit.runtime.api import StepInfo as StepInfo
    from wfkit.runtime.api import open_runtime as open_runtime
    from wfkit.runtime.executor import StepExecutor as StepExecutor
    from wfkit.runtime.settings import Settings as Settings
