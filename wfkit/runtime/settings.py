"""The component settings, shared by Python (``init`` properties), the CLI and the server.

Four settings say where things are and how steps run: ``definitions`` (a folder of
YAML files), ``store`` (a URL), ``workers`` (step slots of this process) and ``runner``
(which step runner, by name: ``local`` threads by default, or ``dask``, with
``dask_scheduler`` the address of the cluster's scheduler; ``workers=0`` is a client
that runs no steps: it starts, watches and steers instances that workers run); the others
set limits (see docs/concepts/limits.md): ``expression_budget`` and
``expression_max_result`` bound one evaluation of an expression, ``max_foreach_items`` a
foreach's width, ``max_output_bytes`` a step's output, ``max_buffered_events`` the events
an instance holds unconsumed, and ``store_outage_timeout`` how long ``wfkit run`` waits
for a failing store. From the environment each is ``WFKIT_`` and its name in capitals
(``WFKIT_DEFINITIONS``, ``WFKIT_MAX_OUTPUT_BYTES``...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from wfkit.common.suggest import did_you_mean
from wfkit.definition.cel_cost import DEFAULT_BUDGET, Budget
from wfkit.errors import SettingsError
from wfkit.steps.runners import DEFAULT_RUNNER, runner_opener
from wfkit.store import DEFAULT_STORE_URL

__all__ = ["DEFAULTS", "Settings", "SettingsError"]

DEFAULTS = {
    "definitions": "definitions",
    "store": DEFAULT_STORE_URL,
    "workers": "",
    "runner": DEFAULT_RUNNER,
    "dask_scheduler": "",
    "dask_resource_wait": "10",
    "expression_budget": str(DEFAULT_BUDGET.cost),
    "expression_max_result": str(DEFAULT_BUDGET.result_chars),
    "max_foreach_items": "1000000",
    "max_output_bytes": str(16 << 20),
    "max_buffered_events": "10000",
    "store_outage_timeout": "60",
}


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
    #: The largest step output (JSON, UTF-8 bytes); a bigger one fails its step.
    max_output_bytes: int = int(DEFAULTS["max_output_bytes"])
    #: Events an instance may hold that no wait step has consumed yet.
    max_buffered_events: int = int(DEFAULTS["max_buffered_events"])
    #: Seconds ``wfkit run`` keeps retrying a failing store before it gives up.
    store_outage_timeout: float = float(DEFAULTS["store_outage_timeout"])
    #: Which step runner runs the steps (a name of ``wfkit.steps.RUNNERS``).
    runner: str = DEFAULT_RUNNER
    #: The Dask scheduler's address (``tcp://host:8786``) for steps that run on Dask;
    #: empty: a local cluster started on first use.
    dask_scheduler: str = ""
    #: Seconds a step on Dask whose ``resources`` no worker offers waits for one to join.
    dask_resource_wait: float = float(DEFAULTS["dask_resource_wait"])

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
        runner_opener(values["runner"])  # an unknown runner: UnknownRunner, naming the known
        return Settings(
            values["definitions"],
            values["store"],
            workers=_workers(values["workers"]) if values["workers"] else _cpus(),
            expression_budget=_count("expression_budget", values["expression_budget"]),
            expression_max_result=_count("expression_max_result", values["expression_max_result"]),
            max_foreach_items=_count("max_foreach_items", values["max_foreach_items"]),
            max_output_bytes=_count("max_output_bytes", values["max_output_bytes"]),
            max_buffered_events=_count("max_buffered_events", values["max_buffered_events"]),
            store_outage_timeout=_number(
                "store_outage_timeout", values["store_outage_timeout"], 0, whole=False
            ),
            runner=values["runner"],
            dask_scheduler=values["dask_scheduler"],
            dask_resource_wait=_number(
                "dask_resource_wait", values["dask_resource_wait"], 0, whole=False
            ),
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


def _count(name: str, text: str) -> int:
    """A whole-number setting of at least 1 (``_`` may group digits: ``16_000_000``)."""
    return int(_number(name, text.replace("_", ""), 1))


def _number(name: str, text: str, least: float, *, whole: bool = True) -> float:
    """A limit setting's value: a whole number (or any number) of at least ``least``."""
    try:
        value = float(int(text)) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise SettingsError(f"{name} must be {kind}, not {text[:40]!r}") from None
    if not value >= least:  # also refuses NaN
        raise SettingsError(f"{name} must be at least {least:g}, not {text[:40]}")
    return value


def _workers(text: str) -> int:
    """The ``workers`` setting: step slots, or 0 for a client that runs no steps."""
    return int(_number("workers", text.replace("_", ""), 0))


def _cpus() -> int:
    return os.cpu_count() or 2
