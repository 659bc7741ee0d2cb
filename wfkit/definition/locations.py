"""Lines, columns and offsets in definition text, counted as libyaml counts them.

libyaml breaks lines at ``\\n``, ``\\r``, ``\\r\\n`` (once), NEL, LS and PS, and counts
columns in characters; a leading byte order mark is not part of the text. A problem
inside a scalar (an expression's error, an unknown step it reads) is placed by mapping an
offset in the scalar's *value* back to the file: :func:`scalar_index` walks the source of
the scalar from its start, stepping over what YAML removes or rewrites (quotes, escapes,
block headers, indentation and folded line breaks).
"""

from __future__ import annotations

import bisect
import re

__all__ = ["LineIndex", "line_starts", "position_at", "scalar_index", "strip_bom"]

_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
BREAKS = "\r\n\x85\u2028\u2029"
_BLANK = " \t" + BREAKS
#: Source length of a double-quoted escape, by the character after the backslash.
_ESCAPE_LENGTH = {"x": 4, "u": 6, "U": 10}


def strip_bom(text: str) -> str:
    """``text`` without a leading byte order mark (positions count from after it)."""
    return text[1:] if text.startswith("\ufeff") else text


def line_starts(text: str) -> list[int]:
    """The index where each line of ``text`` starts."""
    return [0, *(m.end() for m in _BREAK.finditer(text))]


def position_at(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column (in characters) of ``text[index]``."""
    starts = line_starts(text[:index])
    return len(starts), index - starts[-1] + 1


class LineIndex:
    """Converts between (line, column) and offsets in one text; built once, on demand."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = line_starts(text)

    def offset(self, line: int, column: int) -> int | None:
        """The index of a 1-based (line, column), or None outside the text."""
        if not 0 < line <= len(self.starts):
            return None
        index = self.starts[line - 1] + column - 1
        return index if index <= len(self.text) else None

    def position(self, index: int) -> tuple[int, int]:
        """The 1-based (line, column) of an index."""
        line = bisect.bisect_right(self.starts, index) - 1
        return line + 1, index - self.starts[line] + 1

    def line_end(self, index: int) -> int:
        """The index of the line break ending the line that holds ``index``."""
        line = bisect.bisect_right(self.starts, index)
        if line >= len(self.starts):
            return len(self.text)
        end = self.starts[line]
        while end > index and self.text[end - 1] in BREAKS:
            end -= 1
        return end


def scalar_index(text: str, start: int, value: str, offset: int) -> int | None:
    """The index in ``text`` of ``value[offset]``, for the scalar that starts at ``start``.

    ``offset`` may be ``len(value)`` (just after the last character). Returns None when
    the source cannot be matched with the value (an alias, a merged value): the caller
    then falls back to the scalar's start.
    """
    p, style = _body_start(text, start)
    if p is None or not 0 <= offset <= len(value):
        return None
    n, i = len(text), 0
    while p < n:
        if i == len(value):
            return p if i == offset else None
        t = text[p]
        if style == '"' and t == "\\":
            after = text[p + 1 : p + 2]
            if after and after in BREAKS:  # an escaped line break gives nothing
                p += 3 if text.startswith("\r\n", p + 1) else 2
                continue
            if i == offset:
                return p
            p += _ESCAPE_LENGTH.get(after, 2)
            i += 1
            continue
        if style == "'" and text.startswith("''", p):
            if i == offset:
                return p
            p += 2
            i += 1
            continue
        c = value[i]
        if t == c:
            if i == offset:
                return p
            p += 1
            i += 1
        elif t in _BLANK:
            p += 1  # indentation, a folded line break, a stripped trailing space
        elif c in " \n":
            if i == offset:  # a folded line break, already stepped over
                return p
            i += 1
        else:
            return None
    return p if i == offset == len(value) else None


def _body_start(text: str, start: int) -> tuple[int | None, str]:
    """Where the characters of a scalar begin, after its tag, anchor, quote or block
    header, and its style: a quote, ``|``, ``>`` or "" for plain."""
    p, n = start, len(text)
    while p < n and text[p] in "!&":
        while p < n and text[p] not in _BLANK:
            p += 1
        while p < n and text[p] in _BLANK:
            p += 1
    if p >= n:
        return (p, "") if p == n else (None, "")
    style = text[p]
    if style in "'\"":
        return p + 1, style
    if style in "|>":
        while p < n and text[p] not in BREAKS:
            p += 1
        return p, style
    if style in "*[]{},#":
        return None, ""
    return p, ""
