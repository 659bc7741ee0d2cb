"""What reading YAML gives: plain data, where each part of it stands, or an error.

:class:`Document` holds the data and its :class:`Positions` (line and column, 1-based, of
every value and mapping key, keyed by :data:`Path` from the document root);
:class:`SourceError` is raised when the text is not readable YAML of plain data. The
reader itself is :mod:`wfkit.definition.source`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Document", "Path", "Positions", "SourceError"]

#: Where a value stands in the data: the keys and list indexes leading to it.
Path = tuple[str | int, ...]


class SourceError(Exception):
    """The text is not readable YAML of plain data; line and column are 1-based."""

    def __init__(self, message: str, line: int, column: int, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint


@dataclass
class Positions:
    """Where each value (and each mapping key) stands in the text."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: Path) -> tuple[int, int]:
        """The position of the value at ``path``, or of its nearest known ancestor."""
        while True:
            found = self.values.get(path)
            if found is not None:
                return found
            if not path:
                return (1, 1)
            path = path[:-1]

    def of_key(self, path: Path) -> tuple[int, int]:
        """The position of the key whose value is at ``path`` (the value's when unknown)."""
        return self.keys.get(path) or self.of(path)


@dataclass
class Document:
    """Plain data read from YAML, with the positions of its parts.

    ``nonfinite`` holds, by path, the text of every number that is infinite or not a
    number (``.inf``, ``.nan``, ``1e99999``): JSON cannot carry them, so the loader
    refuses them, showing them as written.
    """

    data: Any
    positions: Positions
    nonfinite: dict[Path, str] = field(default_factory=dict)
