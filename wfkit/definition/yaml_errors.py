"""PyYAML's errors as :class:`~wfkit.definition.document.SourceError`, placed and explained.

A character YAML does not allow is placed by its offset; a bracket or quote left open is
reported where it opens, not where the parser gave up; a tab in the indentation is named
as such; the common parser messages get a hint of the likely fix.
"""

from __future__ import annotations

import yaml
from yaml.reader import ReaderError

from wfkit.definition.document import SourceError
from wfkit.definition.locations import BREAKS, line_starts, position_at

__all__ = ["from_reader_error", "from_yaml_error"]


def from_reader_error(exc: ReaderError, text: str, *, counts_bytes: bool) -> SourceError:
    """A character YAML does not allow, placed by its position (libyaml counts bytes of
    UTF-8, the pure-Python reader characters: ``counts_bytes`` says which one read)."""
    index = exc.position
    if counts_bytes:
        index = len(text.encode("utf-8")[:index].decode("utf-8", errors="ignore"))
    line, column = position_at(text, min(index, len(text)))
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    kind = "control character" if code < 0x20 or 0x7F <= code <= 0x9F else "character"
    escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return SourceError(
        f"the {kind} U+{code:04X} is not allowed in YAML text",
        line,
        column,
        f"remove it; inside a double-quoted string it can be written as {escape}",
    )


#: Where libyaml's parser reports a missing closer, the opening is the useful place.
_NOT_CLOSED = {
    "while parsing a flow sequence": "the '[' here is not closed (or a value inside it "
    "needs quotes); close it with ']'",
    "while parsing a flow mapping": "the '{' here is not closed (or a value inside it "
    "needs quotes); close it with '}'",
    "while scanning a quoted scalar": "the quote here is not closed; end the text with "
    "the same quote",
}


def from_yaml_error(exc: yaml.MarkedYAMLError, text: str) -> SourceError:
    """A parser or scanner error, placed where the mistake is and with a likely fix."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    hint = ""
    opened = _NOT_CLOSED.get(exc.context or "")
    if opened and exc.context_mark is not None and _unclosed(exc):
        opening = exc.context_mark
        return SourceError(
            f"invalid YAML: {problem} ({exc.context})", opening.line + 1, opening.column + 1, opened
        )
    offending = _line_of(text, line)
    if "\t" in offending[: max(column, 1)] or "'\\t'" in problem:
        problem = "a tab character is used for indentation"
        hint = "YAML indents with spaces only; replace the tab with spaces"
        column = offending.index("\t") + 1 if "\t" in offending else column
    else:
        if exc.context:
            problem = f"{problem} ({exc.context})"
        hint = _hint(problem)
    return SourceError(f"invalid YAML: {problem}", line, column, hint)


#: Hints for the parser's messages: the first entry with a phrase found in the message.
_HINTS = (
    (("mapping values are not allowed",), "a value containing ': ' must be quoted"),
    (
        ("could not find expected ':'",),
        "each line of a mapping is 'key: value'; check the indentation above",
    ),
    (
        ("did not find expected key", "expected <block end>"),
        "check the indentation: the keys of one mapping must start in the same column, "
        "with spaces only",
    ),
    (("end of stream",), "a quote or bracket is not closed"),
)


def _hint(problem: str) -> str:
    """The likely fix for a parser message, or ""."""
    for phrases, hint in _HINTS:
        if any(phrase in problem for phrase in phrases):
            return hint
    return ""


def _unclosed(exc: yaml.MarkedYAMLError) -> bool:
    """Whether the error looks like a bracket or quote left open (not a bad value inside)."""
    problem, start, mark = exc.problem or "", exc.context_mark, exc.problem_mark
    if "end of stream" in problem or "document indicator" in problem:
        return True
    if "quoted scalar" in (exc.context or ""):
        return False  # a bad escape inside the quotes, reported where it is
    return mark is None or start is None or mark.line != start.line


def _line_of(text: str, line: int) -> str:
    starts = line_starts(text)
    if not 0 < line <= len(starts):
        return ""
    end = starts[line] if line < len(starts) else len(text)
    return text[starts[line - 1] : end].rstrip(BREAKS)
