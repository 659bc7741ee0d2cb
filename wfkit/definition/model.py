"""The validated, frozen model of a workflow definition (language version 1).

Nothing here reads files or checks input: :mod:`wfkit.definition.parse` builds these
objects only from a document that passed validation, so every field has its type.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wfkit.definition.display import mimebundle
from wfkit.definition.expressions import Expression
from wfkit.definition.templates import Template

__all__ = [
    "RUNNER_NAMES",
    "Definition",
    "Duration",
    "InputSpec",
    "OnError",
    "RetryPolicy",
    "Step",
    "StepKind",
    "WaitSpec",
]

LANGUAGE_VERSION = 1

RUNNER_NAMES = ("local", "dask")
"""The values of the ``runner`` key, at a workflow's top level and on a step."""


class StepKind(enum.Enum):
    """What a step does; a step has exactly one kind."""

    CALL = "call"
    SHELL = "shell"
    NOTEBOOK = "notebook"
    WORKFLOW = "workflow"
    WAIT = "wait"
    SLEEP = "sleep"


class OnError(enum.Enum):
    """What a step's final failure does to its instance."""

    FAIL = "fail"
    CONTINUE = "continue"


@dataclass(frozen=True)
class Duration:
    """A span of time, as written (``text``) and in seconds."""

    seconds: float
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing step is tried again; ``max_attempts`` includes the first try.

    The delay before attempt n+1 is ``initial_interval * backoff_coefficient**(n-1)``,
    capped at ``max_interval``; no retry starts after ``retry_timeout`` since the first try.
    """

    max_attempts: int = 1
    initial_interval: Duration = Duration(1.0, "1s")
    backoff_coefficient: float = 1.0
    max_interval: Duration | None = None
    retry_timeout: Duration | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        seconds = self.initial_interval.seconds * self.backoff_coefficient ** (attempt - 1)
        if self.max_interval is not None:
            seconds = min(seconds, self.max_interval.seconds)
        return seconds


@dataclass(frozen=True)
class WaitSpec:
    """A ``wait`` step: the event it waits for (lower-cased) and an optional timeout."""

    event: str
    timeout: Duration | None = None


@dataclass(frozen=True)
class InputSpec:
    """One declared input: a small JSON Schema subset plus whether it is required."""

    name: str
    schema: Mapping[str, Any]
    line: int = 0

    @property
    def required(self) -> bool:
        """An input without a default must be given at start."""
        return "default" not in self.schema

    @property
    def type(self) -> str | None:
        value = self.schema.get("type")
        return value if isinstance(value, str) else None

    @property
    def description(self) -> str:
        value = self.schema.get("description", "")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Step:
    """One step of a definition, validated; expressions are compiled.

    ``target`` depends on ``kind``: the ``module:function`` text for ``call``, the argv
    tuple for ``shell``, the notebook path for ``notebook``, the child workflow's name for
    ``workflow``, a :class:`WaitSpec` for ``wait`` and a :class:`Duration` for ``sleep``.
    ``refs`` are the step ids its expressions read; ``needs`` are the declared ones.
    """

    id: str
    kind: StepKind
    target: Any
    needs: tuple[str, ...] = ()
    refs: frozenset[str] = frozenset()
    with_: Template | None = None
    env: Template | None = None
    when: Expression | None = None
    foreach: Template | None = None
    max_parallel: int | None = None
    retry: RetryPolicy | None = None
    timeout: Duration | None = None
    on_error: OnError = OnError.FAIL
    pause_before: bool = False
    outputs: Mapping[str, Any] | None = None
    description: str = ""
    is_finally: bool = False
    #: Where the step runs (``local`` or ``dask``): its own ``runner``, else the
    #: workflow's; None (the engine's runner) for both unset and for kinds that stay in
    #: the engine.
    runner: str | None = None
    #: Dask worker resources an attempt holds (name -> amount), or None.
    resources: Mapping[str, float] | None = None
    line: int = 0
    column: int = 0
    target_at: tuple[int, int] = (0, 0)
    depends_on: frozenset[str] = field(init=False, repr=False, compare=False)
    """Every step this one must wait for: ``needs`` and expression references."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "depends_on", frozenset(self.needs) | self.refs)


@dataclass(frozen=True, eq=False)
class Definition:
    """A whole validated workflow definition.

    ``steps`` and ``finally_steps`` keep the file's order. ``source`` is the exact text
    it was loaded from and ``content_hash`` its sha256, to which runs are pinned.
    """

    name: str
    steps: Mapping[str, Step]
    path: str = "<string>"
    source: str = ""
    content_hash: str = ""
    language: int = LANGUAGE_VERSION
    version: str | None = None
    description: str = ""
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    default_retry: RetryPolicy | None = None
    default_timeout: Duration | None = None
    concurrency: int | None = None
    finally_steps: Mapping[str, Step] = field(default_factory=dict)
    output: Template | None = None
    name_at: tuple[int, int] = (1, 1)
    #: The workflow's ``runner`` (``local`` or ``dask``), or None: the engine's.
    runner: str | None = None

    def all_steps(self) -> dict[str, Step]:
        """Main steps then ``finally`` steps, by id."""
        return {**self.steps, **self.finally_steps}

    def child_workflows(self) -> frozenset[str]:
        """Names of the definitions that ``workflow:`` steps start."""
        return frozenset(s.target for s in self.all_steps().values() if s.kind is StepKind.WORKFLOW)

    def __repr__(self) -> str:
        return (
            f"<Definition {self.name!r} from {self.path}: {len(self.steps)} steps"
            f", {len(self.finally_steps)} finally>"
        )

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        return mimebundle(self, repr(self))
