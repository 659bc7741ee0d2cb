"""Every exception wfkit raises on purpose, in one tree.

::

    WfkitError                      base of everything below; catch this to catch wfkit
    ├── DefinitionError             a definition (file, folder or text) is not valid;
    │                               .problems lists every Problem at once, sorted by place
    ├── UnknownWorkflow             a workflow name is not in the catalog (.name, .known)
    ├── RenderError                 a graph could not be drawn (no dot executable, dot failed)
    └── ErrNotImplemented           a component does not do this operation (Dapr's contract;
                                    the message is exactly Dapr's)

Each error says what happened, why, and the likely fix; structured fields carry the
details (path, line, column, step id) so that tools need not parse the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DefinitionError",
    "ErrNotImplemented",
    "Problem",
    "RenderError",
    "UnknownWorkflow",
    "WfkitError",
]


class WfkitError(Exception):
    """Base class of every error wfkit raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a definition, at a place in a file.

    ``line`` and ``column`` are 1-based; 0 means "the file as a whole".
    ``hint`` is the likely fix, or an empty string when there is nothing useful to add.
    """

    path: str
    line: int
    column: int
    message: str
    hint: str = field(default="", compare=False)
    step: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        place = self.path if self.line == 0 else f"{self.path}:{self.line}:{self.column}"
        text = f"{place}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        """Plain data, for ``--json`` output."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
            "step": self.step,
        }


class DefinitionError(WfkitError):
    """A workflow definition is not valid; ``problems`` lists every problem found.

    The message is the problems one per line, ``path:line:col: message`` with a hint
    beneath, sorted by position, so printing the exception is enough for a person.
    """

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("DefinitionError needs at least one problem")
        self.problems: list[Problem] = sorted(problems)
        count = len(self.problems)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"{head}:\n" + "\n".join(str(p) for p in self.problems))


class UnknownWorkflow(WfkitError):
    """A workflow name asked for is not in the loaded definitions."""

    def __init__(self, name: str, known: list[str], hint: str = "") -> None:
        self.name = name
        self.known = sorted(known)
        listing = ", ".join(self.known) if self.known else "none are loaded"
        message = f"no workflow named {name!r} (known: {listing})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class RenderError(WfkitError):
    """A graph could not be rendered to SVG or PNG."""


class ErrNotImplemented(WfkitError, NotImplementedError):
    """Dapr's ``ErrNotImplemented``: this component does not do the requested operation."""

    MESSAGE = "this component doesn't implement the current API operation"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)
