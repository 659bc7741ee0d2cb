"""Problems of a definition, placed: at a value, at its key, or inside a text value.

A problem inside a scalar (an expression's error, an unknown step it reads) is placed by
mapping its offset in the value back to the file
(:func:`~wfkit.definition.locations.scalar_index`); :meth:`Reporter.cut_by_comment` tells
when YAML took the end of a plain value for a comment, so that the hint can say so.
"""

from __future__ import annotations

from typing import Any

from wfkit.definition.document import Path, Positions
from wfkit.definition.locations import LineIndex, scalar_index
from wfkit.errors import Problem

__all__ = ["Reporter", "first_line"]


class Reporter:
    """Gathers the problems of one definition, each placed where it is in the file.

    ``data`` is the document being built (set by the builder), read to place a problem
    inside a text value.
    """

    def __init__(
        self,
        text: str,
        path: str,
        positions: Positions,
        problems: list[Problem],
        rejected: set[Path],
    ):
        self.text = text
        self.path = path
        self.positions = positions
        self.problems = problems
        self.rejected = rejected
        self._lines: LineIndex | None = None
        self.data: dict[str, Any] = {}

    def problem(
        self,
        where: Path,
        message: str,
        hint: str = "",
        *,
        at_key: bool = False,
        step: str | None = None,
    ) -> None:
        """Report a problem at the value at ``where`` (at its key with ``at_key``)."""
        line, column = self.positions.of_key(where) if at_key else self.positions.of(where)
        self.problems.append(Problem(self.path, line, column, message, hint, step))

    def problem_at(self, line: int, column: int, message: str, hint: str, step: str | None) -> None:
        """Report a problem at a known line and column."""
        self.problems.append(Problem(self.path, line, column, message, hint, step))

    def rejected_at(self, where: Path) -> bool:
        """Whether the schema refused the value at ``where`` or a value holding it."""
        return bool(self.rejected) and any(
            where[:k] in self.rejected for k in range(1, len(where) + 1)
        )

    def locate(self, where: Path, offset: int) -> tuple[int, int]:
        """The file position of character ``offset`` of the text value at ``where``."""
        found = self.positions.values.get(where)
        value = self.value_at(where)
        if found is None or not value:
            return self.positions.of(where)
        lines = self.lines()
        start = lines.offset(*found)
        index = None if start is None else scalar_index(self.text, start, value, offset)
        return found if index is None else lines.position(index)

    def lines(self) -> LineIndex:
        """The line index of the text, made on first use."""
        if self._lines is None:
            self._lines = LineIndex(self.text)
        return self._lines

    def cut_by_comment(self, where: Path) -> bool:
        """Whether the plain value at ``where`` is followed by a YAML comment on its line
        (``x: ${{ a # b }}`` is ``${{ a``: YAML took the rest as a comment)."""
        found = self.positions.values.get(where)
        value = self.value_at(where)
        lines = self.lines()
        start = lines.offset(*found) if found and value else None
        if start is None or self.text[start : start + 1] in ("'", '"', "|", ">", "!", "&"):
            return False
        end = scalar_index(self.text, start, value, len(value))
        if end is None:
            return False
        return self.text[end : lines.line_end(end)].lstrip(" \t").startswith("#")

    def value_at(self, where: Path) -> str:
        """The text of the scalar at ``where`` in the document, or "" (for positions)."""
        node: Any = self.data
        for part in where:
            in_dict = isinstance(node, dict) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if in_dict or in_list:
                node = node[part]
            else:
                return ""
        return node if isinstance(node, str) else ""


def first_line(error: Any) -> str:
    """A library's message cut to its first line (they can dump whole schemas)."""
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
