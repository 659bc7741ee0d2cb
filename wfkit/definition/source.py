"""Safe YAML reading that remembers where every value came from.

Built on libyaml's event parser (PyYAML's C binding when present), not on a YAML
constructor: only plain data comes out (mappings, lists, strings, numbers, booleans,
null), explicit tags other than the standard scalar ones are refused, duplicate keys are
errors, and aliases are counted so that an exponential "billion laughs" document stops
with an error instead of eating memory. Every value's line and column (1-based) is kept
in :class:`Positions`, keyed by its path from the document root.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.reader import ReaderError

from wfkit.definition.locations import BREAKS, line_starts, position_at, strip_bom

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXPANSION",
    "Document",
    "Positions",
    "SourceError",
    "decode",
    "read_yaml",
]

Path = tuple[str | int, ...]

#: A definition file larger than this is refused before parsing.
MAX_BYTES = 16 * 1024 * 1024
#: Values reached through aliases, counted with everything inside them.
MAX_EXPANSION = 100_000
#: Nesting depth of mappings and lists.
MAX_DEPTH = 64

_Parser: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
_STD = "tag:yaml.org,2002:"
_ScalarEvent = yaml.ScalarEvent
_ALLOWED_TAGS = {f"{_STD}{n}" for n in ("str", "int", "float", "bool", "null", "map", "seq")}
_FLOAT_MAX = sys.float_info.max


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


def decode(raw: bytes) -> str:
    """UTF-8 text from bytes, or a :class:`SourceError` at the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # everything before the bad byte is valid UTF-8: count characters, not bytes
        before = strip_bom(raw[: exc.start].decode("utf-8", errors="replace"))
        line, column = position_at(before, len(before))
        raise SourceError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)",
            line,
            column,
            "save the file as UTF-8",
        ) from None


def read_yaml(text: str) -> Document:
    """Parse one YAML document of plain data; raises :class:`SourceError`."""
    if len(text) > MAX_BYTES:
        raise SourceError(
            f"the file is too large ({len(text):,} characters; the limit is {MAX_BYTES:,})",
            1,
            1,
            "split the workflow into child workflows",
        )
    text = strip_bom(text)
    builder = _Builder(text)
    try:
        return builder.build()
    except yaml.MarkedYAMLError as exc:
        raise _from_yaml_error(exc, text) from None
    except ReaderError as exc:
        raise _from_reader_error(exc, text) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"invalid YAML: {first}", 1, 1) from None


def _from_reader_error(exc: ReaderError, text: str) -> SourceError:
    """A character YAML does not allow, placed by its position (libyaml counts bytes of
    UTF-8, the pure-Python reader characters)."""
    index = exc.position
    if _Parser is not yaml.SafeLoader:
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


def _from_yaml_error(exc: yaml.MarkedYAMLError, text: str) -> SourceError:
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
        if "mapping values are not allowed" in problem:
            hint = "a value containing ': ' must be quoted"
        elif "could not find expected ':'" in problem:
            hint = "each line of a mapping is 'key: value'; check the indentation above"
        elif "did not find expected key" in problem or "expected <block end>" in problem:
            hint = (
                "check the indentation: the keys of one mapping must start in the same "
                "column, with spaces only"
            )
        elif "end of stream" in problem:
            hint = "a quote or bracket is not closed"
    return SourceError(f"invalid YAML: {problem}", line, column, hint)


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


# A prefix (0x, 0o, 0, a dot) needs at least one digit after it: '0x_' and '-.' are text.
_INT = re.compile(
    r"^[-+]?(?:0|[1-9][0-9_]*)$|^[-+]?0x_*[0-9a-fA-F][0-9a-fA-F_]*$|^[-+]?0o?_*[0-7][0-7_]*$"
)
_FLOAT = re.compile(
    r"^[-+]?(?=[0-9_]*\.?[0-9_]*[0-9])(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?$"
    r"|^[-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)$"
    r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)
_BOOLS = {
    "true": True, "True": True, "TRUE": True, "yes": True, "Yes": True, "YES": True,
    "on": True, "On": True, "ON": True,
    "false": False, "False": False, "FALSE": False, "no": False, "No": False, "NO": False,
    "off": False, "Off": False, "OFF": False,
}  # fmt: skip
_NULLS = {"", "~", "null", "Null", "NULL"}


def _plain_scalar(value: str) -> Any:
    """YAML 1.1 resolution of an unquoted scalar (as PyYAML's safe loader does it).

    Never raises: what cannot become a number (an integer over Python's 4,300-digit
    limit) stays text, for the schema to judge.
    """
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    first = value[0]
    if first.isdigit() or first in "+-.":
        try:
            if _INT.match(value):
                return _to_int(value)
            if _FLOAT.match(value):
                return _to_float(value)
        except ValueError:
            return value
    return value


def _finite(value: float) -> bool:
    return -_FLOAT_MAX <= value <= _FLOAT_MAX


def _to_int(value: str) -> int:
    text = value.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text.startswith("0x"):
        return sign * int(text[2:], 16)
    if text.startswith("0o"):
        return sign * int(text[2:], 8)
    if len(text) > 1 and text.startswith("0"):
        return sign * int(text, 8)
    return sign * int(text)


def _to_float(value: str) -> float:
    text = value.replace("_", "").lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text.endswith(".nan"):
        return float("nan")
    return float(text)


def _tag_text(tag: str | None) -> str:
    """A tag as written in YAML (``!!float``), or "" for none."""
    if tag in (None, "!"):
        return ""
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


def _short(value: str, limit: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _tagged_scalar(tag: str, value: str, line: int, column: int) -> Any:
    if tag == f"{_STD}str":
        return value
    resolved = _plain_scalar(value)
    kinds = {
        f"{_STD}int": int,
        f"{_STD}float": float,
        f"{_STD}bool": bool,
        f"{_STD}null": type(None),
    }
    wanted = kinds[tag]
    if wanted is float and isinstance(resolved, int) and not isinstance(resolved, bool):
        try:
            return float(resolved)
        except OverflowError:  # as PyYAML: an integer beyond floats is infinite
            return float("-inf") if resolved < 0 else float("inf")
    if type(resolved) is not wanted:
        name = tag[len(_STD) :]
        digits = value.strip().lstrip("+-").replace("_", "")
        if wanted is int and digits.isdigit() and len(digits) > 4300:
            raise SourceError(
                f"the integer has {len(digits):,} digits; the limit is 4,300",
                line,
                column,
                "quote it to keep it as text",
            )
        raise SourceError(f"{_short(value)} is not a valid {name}", line, column)
    return resolved


class _Builder:
    """Turns libyaml events into plain values and positions."""

    def __init__(self, text: str) -> None:
        self.parser = _Parser(text)
        self.positions = Positions()
        self.values = self.positions.values
        self.keys = self.positions.keys
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded = 0
        self.nonfinite: dict[Path, str] = {}

    def build(self) -> Document:
        self._expect(yaml.StreamStartEvent)
        event = self.parser.get_event()
        if isinstance(event, yaml.StreamEndEvent):
            raise SourceError("the file is empty", 1, 1, "a definition starts with 'wfkit: 1'")
        data, _ = self._node(self.parser.get_event(), (), 0)
        self._expect(yaml.DocumentEndEvent)
        extra = self.parser.get_event()
        if not isinstance(extra, yaml.StreamEndEvent):
            mark = extra.start_mark
            raise SourceError(
                "the file holds more than one YAML document",
                mark.line + 1,
                mark.column + 1,
                "keep one workflow per file; remove the '---' separator",
            )
        return Document(data, self.positions, self.nonfinite)

    def _expect(self, kind: type) -> Any:
        event = self.parser.get_event()
        if not isinstance(event, kind):  # pragma: no cover - libyaml guarantees the order
            raise SourceError(f"unexpected YAML event {event}", 1, 1)
        return event

    def _node(self, event: Any, path: Path, depth: int) -> tuple[Any, int]:
        """Build the value that ``event`` opens; returns it and its size in nodes."""
        mark = event.start_mark
        if type(event) is _ScalarEvent and event.tag is None and event.anchor is None:
            # the common case, kept short: an untagged scalar
            self.values[path] = (mark.line + 1, mark.column + 1)
            if not event.style and event.implicit[0]:
                value = _plain_scalar(event.value)
                if value.__class__ is float and not _finite(value):
                    self.nonfinite[path] = event.value
                return value, 1
            return event.value, 1
        line, column = mark.line + 1, mark.column + 1
        self.positions.values[path] = (line, column)
        if isinstance(event, yaml.AliasEvent):
            value, size = self._alias(event, line, column)
            if value.__class__ is float and not _finite(value):
                self.nonfinite[path] = f"*{event.anchor}"
            return value, size
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _ALLOWED_TAGS:
            shown = _tag_text(tag)
            raise SourceError(
                f"the YAML tag {shown} is not allowed",
                line,
                column,
                "definitions are plain data; remove the tag",
            )
        if depth > MAX_DEPTH:
            raise SourceError(f"values are nested more than {MAX_DEPTH} levels deep", line, column)
        if isinstance(event, yaml.ScalarEvent):
            value, size = self._scalar(event, tag, line, column), 1
            if value.__class__ is float and not _finite(value):
                self.nonfinite[path] = f"{_tag_text(tag)} {event.value}".strip()
        elif isinstance(event, yaml.SequenceStartEvent):
            value, size = self._sequence(path, depth)
        elif isinstance(event, yaml.MappingStartEvent):
            value, size = self._mapping(path, depth, line, column)
        else:  # pragma: no cover - libyaml guarantees the order
            raise SourceError(f"unexpected YAML event {event}", line, column)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, size)
        return value, size

    def _alias(self, event: Any, line: int, column: int) -> tuple[Any, int]:
        found = self.anchors.get(event.anchor)
        if found is None:  # pragma: no cover - libyaml reports unknown anchors itself
            raise SourceError(f"unknown alias *{event.anchor}", line, column)
        value, size = found
        self.expanded += size
        if self.expanded > MAX_EXPANSION:
            raise SourceError(
                f"aliases expand to more than {MAX_EXPANSION:,} values",
                line,
                column,
                "this looks like a 'billion laughs' document; write the values out instead",
            )
        return value, size

    def _scalar(self, event: Any, tag: str | None, line: int, column: int) -> Any:
        if tag in (None, "!"):
            if not event.style and event.implicit[0]:
                return _plain_scalar(event.value)
            return event.value
        return _tagged_scalar(tag, event.value, line, column)

    def _sequence(self, path: Path, depth: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        size = 1
        while True:
            event = self.parser.get_event()
            if isinstance(event, yaml.SequenceEndEvent):
                return items, size
            value, n = self._node(event, (*path, len(items)), depth + 1)
            items.append(value)
            size += n

    def _mapping(
        self, path: Path, depth: int, line: int, column: int
    ) -> tuple[dict[Any, Any], int]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        size = 1
        while True:
            event = self.parser.get_event()
            if isinstance(event, yaml.MappingEndEvent):
                for key, value in merged.items():
                    result.setdefault(key, value)
                return result, size
            mark = event.start_mark
            kline, kcol = mark.line + 1, mark.column + 1
            if type(event) is not _ScalarEvent:
                raise SourceError("mapping keys must be plain text", kline, kcol)
            # Keys keep their text as written: 'on' or '1' name things, they are no booleans
            # or numbers here.
            key = event.value
            if event.tag not in (None, "!", f"{_STD}str"):
                raise SourceError(f"mapping key {key!r} must be plain text", kline, kcol)
            if key == "<<" and not event.style:
                value, n = self._node(self.parser.get_event(), (*path, "<<"), depth + 1)
                self._merge(merged, value, kline, kcol)
                size += n
                continue
            if key in result:
                first = self.keys[(*path, key)]
                raise SourceError(
                    f"duplicate key {key!r} (first at line {first[0]})",
                    kline,
                    kcol,
                    "each key may appear once in a mapping; remove or rename one",
                )
            child = (*path, key)
            self.keys[child] = (kline, kcol)
            value, n = self._node(self.parser.get_event(), child, depth + 1)
            result[key] = value
            size += n + 1

    @staticmethod
    def _merge(merged: dict[Any, Any], value: Any, line: int, column: int) -> None:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                raise SourceError(
                    "a '<<' merge takes a mapping or a list of mappings", line, column
                )
            for key, item in source.items():
                merged.setdefault(key, item)
