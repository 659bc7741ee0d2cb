"""Composition: the engine wired to a store backend and the local step runner.

This layer sits above ``store`` and ``steps`` (it picks the backends the engine is handed)
and below ``views``, ``cli`` and ``server``. It holds the Dapr-contract ``StepExecutor``
and the friendly notebook API (``wfkit.open``).
"""

from wfkit.runtime.api import Instance, Runtime, StepInfo, open_runtime
from wfkit.runtime.executor import StepExecutor
from wfkit.runtime.settings import Settings

__all__ = ["Instance", "Runtime", "Settings", "StepExecutor", "StepInfo", "open_runtime"]
