"""The component settings, shared by Python (``init`` properties), the CLI and the server.

Three settings: ``definitions`` (a folder of YAML files), ``store`` (a URL) and
``workers`` (step slots of this process). From the environment they are
``WFKIT_DEFINITIONS``, ``WFKIT_STORE`` and ``WFKIT_WORKERS``. Limits (see
docs/concepts/limits.md): ``expression_budget`` and ``expression_max_result`` bound one
evaluation of an expression (``WFKIT_EXPRESSION_BUDGET``, ``WFKIT_EXPRESSION_MAX_RESULT``);
``max_foreach_items`` bounds a foreach's width (``WFKIT_MAX_FOREACH_ITEMS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from wfkit.definition.cel_cost import DEFAULT_BUDGET, Budget
from wfkit.definition.schema import did_you_mean
from wfkit.errors import WfkitError
from wfkit.store import DEFAULT_STORE_URL

__all__ = ["DEFAULTS", "Settings", "SettingsError"]

DEFAULTS = {
    "definitions": "definitions",
    "store": DEFAULT_STORE_URL,
    "workers": "",
    "expression_budget": str(DEFAULT_BUDGET.cost),
    "expression_max_result": str(DEFAULT_BUDGET.result_chars),
    "max_foreach_items": "1000000",
}


class SettingsError(WfkitError):
    """A setting is unknown or has a bad value."""


@dataclass(frozen=True)
class Settings:
    """Where definitions and state live, and how many steps run at once here."""

    definitions: str = DEFAULTS["definitions"]
    store: str = DEFAULTS["store"]
    workers: int = os.cpu_count() or 2
    expression_budget: int = DEFAULT_BUDGET.cost
    expression_max_result: int = DEFAULT_BUDGET.result_chars
    #: The most items a ``foreach`` may give; a step whose list is longer fails.
    max_foreach_items: int = int(DEFAULTS["max_foreach_items"])

    @property
    def budget(self) -> Budget:
        """What one evaluation of an expression may cost, and how big its result may be."""
        return Budget(self.expression_budget, self.expression_max_result)

    @staticmethod
    def from_properties(properties: Mapping[str, str]) -> Settings:
        """Settings from ``init`` properties; unknown names are an error naming the known."""
        unknown = [k for k in properties if k not in DEFAULTS]
        if unknown:
            hints = [did_you_mean(k, DEFAULTS) for k in unknown]
            raise SettingsError(
                f"unknown setting {', '.join(map(repr, unknown))}; known settings: "
                f"{', '.join(DEFAULTS)}"
                + (f" ({'; '.join(h for h in hints if h)})" if any(hints) else "")
            )
        values = {**DEFAULTS, **{k: v for k, v in properties.items() if v != ""}}
        return Settings(
            values["definitions"],
            values["store"],
            _count("workers", values["workers"], os.cpu_count() or 2),
            _count("expression_budget", values["expression_budget"], DEFAULT_BUDGET.cost),
            _count(
                "expression_max_result",
                values["expression_max_result"],
                DEFAULT_BUDGET.result_chars,
            ),
            _count("max_foreach_items", values["max_foreach_items"], 1_000_000),
        )

    @staticmethod
    def from_environment(
        environ: Mapping[str, str] | None = None, **overrides: str | None
    ) -> Settings:
        """Settings from ``WFKIT_*`` variables, then from explicit overrides (CLI flags)."""
        env = os.environ if environ is None else environ
        values = {k: env.get(f"WFKIT_{k.upper()}", "") for k in DEFAULTS}
        values.update({k: v for k, v in overrides.items() if v})
        return Settings.from_properties({k: v for k, v in values.items() if v})


def _count(name: str, text: str, default: int) -> int:
    if text == "":
        return default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {text!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, not {value}")
    return value
