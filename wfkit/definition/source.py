"""Safe YAML reading that remembers where every value came from.

Built on libyaml's event parser (PyYAML's C binding when present), not on a YAML
constructor: only plain data comes out (mappings, lists, strings, numbers, booleans,
null), explicit tags other than the standard scalar ones are refused, duplicate keys are
errors, and aliases are counted so that an exponential "billion laughs" document stops
with an error instead of eating memory. Every value's line and column (1-based) is kept
in :class:`Positions`, keyed by its path from the document root.

The data types are in :mod:`wfkit.definition.document`, scalar resolution in
:mod:`wfkit.definition.scalars`, the translation of PyYAML's errors in
:mod:`wfkit.definition.yaml_errors`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.reader import ReaderError

from wfkit.definition.document import Document, Path, Positions, SourceError
from wfkit.definition.locations import position_at, strip_bom
from wfkit.definition.scalars import STD_TAG, is_finite, plain_scalar, tag_text, tagged_scalar
from wfkit.definition.yaml_errors import from_reader_error, from_yaml_error

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

#: A definition file larger than this is refused before parsing.
MAX_BYTES = 16 * 1024 * 1024
#: Values reached through aliases, counted with everything inside them.
MAX_EXPANSION = 100_000
#: Nesting depth of mappings and lists.
MAX_DEPTH = 64

_Parser: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
_ScalarEvent = yaml.ScalarEvent
_ALLOWED_TAGS = {f"{STD_TAG}{n}" for n in ("str", "int", "float", "bool", "null", "map", "seq")}


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
        raise from_yaml_error(exc, text) from None
    except ReaderError as exc:
        raise from_reader_error(exc, text, counts_bytes=_Parser is not yaml.SafeLoader) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"invalid YAML: {first}", 1, 1) from None


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
                value = plain_scalar(event.value)
                if value.__class__ is float and not is_finite(value):
                    self.nonfinite[path] = event.value
                return value, 1
            return event.value, 1
        line, column = mark.line + 1, mark.column + 1
        self.positions.values[path] = (line, column)
        if isinstance(event, yaml.AliasEvent):
            value, size = self._alias(event, line, column)
            if value.__class__ is float and not is_finite(value):
                self.nonfinite[path] = f"*{event.anchor}"
            return value, size
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _ALLOWED_TAGS:
            shown = tag_text(tag)
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
            if value.__class__ is float and not is_finite(value):
                self.nonfinite[path] = f"{tag_text(tag)} {event.value}".strip()
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
                return plain_scalar(event.value)
            return event.value
        return tagged_scalar(tag, event.value, line, column)

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
            if event.tag not in (None, "!", f"{STD_TAG}str"):
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
