"""How an engine behaves: lease and poll timings, what it claims, and the limits it
enforces (one frozen record, handed to :class:`~wfkit.engine.loop.engine.Engine`)."""

from __future__ import annotations

from dataclasses import dataclass

from wfkit.definition.cel_cost import DEFAULT_BUDGET, Budget

__all__ = ["EngineSettings"]


@dataclass(frozen=True)
class EngineSettings:
    """Timing of leases and polling; the defaults take a crashed owner's work over in
    about ``lease_seconds + claim_interval`` (9 s), at once for a dead local process.

    ``claim_free=False`` makes an engine run only the instances it starts (and their
    children) instead of also claiming the store's free ones: what ``wfkit run`` wants.

    Limits (docs/concepts/limits.md): ``expression_budget`` bounds one evaluation of an
    expression, ``max_foreach_items`` a foreach's width, ``max_output_bytes`` the largest
    step output (JSON text, UTF-8 bytes), ``max_buffered_events`` the events an instance
    may hold unconsumed. ``store_retry_max`` is the longest pause between two tries of a store
    that keeps failing (the pauses double from ``poll_interval``).
    """

    lease_seconds: float = 8.0
    claim_interval: float = 1.0
    poll_interval: float = 0.05
    #: How often an idle engine reads versions and looks for free instances although the
    #: store told of no commit (it wakes at each one, at most every ``poll_interval``).
    safety_poll_interval: float = 1.0
    workdir: str = "."
    definitions_dir: str = "."
    claim_free: bool = True
    expression_budget: Budget = DEFAULT_BUDGET
    #: The most items a ``foreach`` may give; more fail the step (docs/concepts/limits.md).
    max_foreach_items: int = 1_000_000
    max_output_bytes: int = 16 << 20
    max_buffered_events: int = 10_000
    store_retry_max: float = 5.0
