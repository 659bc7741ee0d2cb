"""JSON text for the records wfkit writes at every step: history events, properties.

The engine encodes several small values per step (each event, the instance's properties),
and the standard library's encoder builds a new C encoder on every call (about 4 µs for
a small mapping). :func:`dumps` uses ``orjson`` (about 0.4 µs), falling back to the
standard library, with the same compact output, for what orjson refuses: integers beyond
64 bits, non-string keys, and types it does not know (given to ``default``).

These functions encode values that were checked where they entered (a step's output,
an event's data, the input): unlike ``json.dumps(allow_nan=False)``, orjson writes NaN
and infinity as ``null`` instead of raising, so use :func:`check` where values come in;
:func:`json_problem` says what is wrong with a value that is not JSON, and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

__all__ = [
    "MAX_DEPTH",
    "TOO_DEEP_MARKER",
    "TooLarge",
    "check",
    "checked_copy",
    "depth_problem",
    "dumps",
    "encoded_size",
    "json_problem",
    "loads",
    "read_stored",
    "shortened",
    "text_problem",
    "too_deep",
    "type_name",
    "utf8_size",
]

#: How deep data may nest where it comes in (inputs, event data, step outputs): deeper
#: data reaches the recursion limits of Python's JSON and of the CEL interpreter.
MAX_DEPTH = 100

_strict = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_orjson_dumps = orjson.dumps


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Compact JSON text of ``value`` (``{"a":1}``), as ``json.dumps`` with
    ``separators=(",", ":")`` gives it (see the module docstring for NaN)."""
    try:
        return _orjson_dumps(value, default=default).decode()
    except TypeError:  # a big int, a non-str key, an unknown type without a default
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=default)


def utf8_size(text: str, limit: int) -> int:
    """The size of ``text`` in UTF-8 bytes, exact up to ``limit``: above it, possibly a
    lower bound (enough to say it is over). Free for ASCII text (CPython knows it)."""
    if text.isascii() or len(text) > limit:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def encoded_size(value: Any) -> int:
    """The size in UTF-8 bytes of :func:`dumps`'s text of ``value`` (as it is stored)."""
    try:
        return len(_orjson_dumps(value))
    except TypeError:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check(value: Any) -> str:
    """Strict JSON text of ``value``: raises ``ValueError`` for NaN or infinity and
    ``TypeError`` for what is not JSON, like ``json.dumps(allow_nan=False)``."""
    return _strict(value)


class TooLarge(Exception):
    """:func:`checked_copy` found the text over its ``limit``; ``size`` is its size in
    bytes (or a lower bound of it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"{size} bytes of JSON")


def checked_copy(value: Any, limit: int | None = None) -> tuple[str, Any]:
    """:func:`check`'s text of ``value`` (the same JSON, maybe other string escapes) and
    what reading it back gives: a fresh copy made of dicts, lists and scalars. Raises
    what :func:`check` raises, and ``ValueError`` for text with a lone surrogate
    (:func:`text_problem`).

    orjson writes and reads the value back, and the copy is used when it equals the value
    (about 0.4 µs for a small mapping, against 1.8 for the standard library's strict
    encoder and a read): NaN and infinity, which orjson writes as ``null``, tuples, and
    keys that are not text compare unequal, and go through :func:`check` instead.

    With ``limit``, text longer than ``limit`` UTF-8 bytes raises :class:`TooLarge`
    before it is read back (a huge value is not copied twice more)."""
    try:
        data = _orjson_dumps(value)
        if limit is not None and len(data) > limit:
            raise TooLarge(len(data))
        copy = _orjson_loads(data)
    except (TypeError, orjson.JSONDecodeError):  # big ints, non-str keys, deep nesting
        pass
    else:
        if copy == value:
            return data.decode(), copy
    text = check(value)
    if text_problem(value):  # orjson refused it maybe for this, which check() escapes
        raise ValueError("text with a lone surrogate")
    if limit is not None and utf8_size(text, limit) > limit:
        raise TooLarge(utf8_size(text, limit))
    return text, loads(text)


_LONG_NUMBER = re.compile(r"\d{19}").search
_orjson_loads = orjson.loads


def loads(text: str | bytes) -> Any:
    """Parse JSON text as ``json.loads`` does, with orjson when that gives the same
    values: orjson reads integers beyond 64 bits as floats, so text holding 19 digits in
    a row goes to the standard library (as does anything orjson refuses)."""
    if _LONG_NUMBER(text if isinstance(text, str) else text.decode()) is None:
        try:
            return _orjson_loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


TOO_DEEP_MARKER = "<nested too deep to show>"
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def read_stored(text: str) -> Any:
    """Stored JSON text read back as :func:`loads` does, never raising RecursionError:
    text nested deeper than Python's JSON reads (stored before the depth limit) comes
    back with what lies past :data:`MAX_DEPTH` levels replaced by a short text."""
    try:
        return loads(text)
    except RecursionError:
        return loads(_cut_text(text, MAX_DEPTH))


def _cut_text(text: str, limit: int) -> str:
    """JSON ``text`` with each container nested deeper than ``limit`` replaced by
    :data:`TOO_DEEP_MARKER`, in one pass without recursion (brackets inside strings are
    skipped with the strings)."""
    pieces, depth, kept_to = [], 0, 0
    for token in _TOKENS.finditer(text):
        bracket = token.group()
        if bracket[0] == '"':
            continue
        if bracket in "[{":
            depth += 1
            if depth == limit + 1:
                pieces += [text[kept_to : token.start()], f'"{TOO_DEEP_MARKER}"']
        else:
            if depth == limit + 1:
                kept_to = token.end()
            depth -= 1
    pieces.append(text[kept_to:])
    return "".join(pieces)


def type_name(value: object) -> str:
    """``pandas.core.frame.DataFrame`` style name of a value's type (builtins bare)."""
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


_HINTS = {
    "DataFrame": 'return df.to_dict("records") (a list of row objects) instead',
    "Series": "return series.to_list() or series.to_dict() instead",
    "ndarray": "return array.tolist() instead",
    "set": "return sorted(values) or list(values) instead",
    "frozenset": "return sorted(values) or list(values) instead",
    "datetime": "return value.isoformat() instead",
    "date": "return value.isoformat() instead",
    "Decimal": "return str(value) or float(value) instead",
    "bytes": "return value.decode() or a base64 string instead",
    "Path": "return str(path) instead",
    "PosixPath": "return str(path) instead",
}


def depth_problem(value: Any, limit: int = MAX_DEPTH, *, plain: bool = False) -> str:
    """Why ``value`` nests too deep (lists and mappings more than ``limit`` levels), or
    "" when it does not. Walks without recursion, so any depth is measured safely.
    ``plain``: ``value`` was just read from JSON text, so its containers are exactly
    dicts and lists, which are told apart faster (2.5 times) than by ``isinstance``."""
    if not isinstance(value, list | dict | tuple):
        return ""
    level = [value]
    below_of = _plain_below if plain else _below
    for depth in range(1, limit + 2):
        below = below_of(level)
        if not below:
            return ""
        if depth >= limit:
            return too_deep(limit)
        level = below
    return ""  # not reached


def _below(level: list[Any]) -> list[Any]:
    """The containers directly inside those of ``level``."""
    return [
        item
        for node in level
        for item in (node.values() if isinstance(node, dict) else node)
        if isinstance(item, list | dict | tuple)
    ]


def _plain_below(level: list[Any]) -> list[Any]:
    """:func:`_below` for containers that are exactly dicts and lists."""
    return [
        item
        for node in level
        for item in (node.values() if type(node) is dict else node)
        if type(item) in _PLAIN
    ]


_PLAIN = (dict, list)


def too_deep(limit: int = MAX_DEPTH) -> str:
    """What :func:`depth_problem` says of data nested past ``limit``."""
    return (
        f"it nests more than {limit} levels deep (lists and objects inside each other), "
        "past wfkit's limit; flatten it, or keep it in a file and pass its path"
    )


def shortened(value: Any, limit: int = MAX_DEPTH) -> Any:
    """``value`` with what nests deeper than ``limit`` levels replaced by a short text:
    for showing data stored before the depth limit existed. ``value`` is read from JSON
    (exactly dicts and lists)."""
    if not depth_problem(value, limit, plain=True):
        return value
    return _cut(value, limit)


def _cut(value: Any, levels: int) -> Any:
    if not isinstance(value, list | dict | tuple):
        return value
    if levels <= 0:
        return TOO_DEEP_MARKER
    if isinstance(value, dict):
        return {k: _cut(v, levels - 1) for k, v in value.items()}
    return [_cut(v, levels - 1) for v in value]


_SURROGATE = re.compile("[\ud800-\udfff]").search
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").fullmatch


def text_problem(value: Any, root: str = "value") -> str:
    """Why ``value`` holds text that is not valid Unicode, or "": a string or key with a
    surrogate code point (a lone surrogate), which UTF-8 cannot encode, so that neither
    the store, nor CEL, nor a child process's environment can take it. The reason names
    where, as a path from ``root`` (``inputs.v.rows[2]``). Walks without recursion."""
    try:
        _orjson_dumps(value)  # refuses every surrogate, at C speed
        return ""
    except TypeError:
        pass
    stack: list[tuple[Any, str]] = [(value, root)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _SURROGATE(node):
                return _surrogate(f"the text at {path}", node)
        elif isinstance(node, dict):
            for key, item in reversed(node.items()):
                if isinstance(key, str) and _SURROGATE(key):
                    return _surrogate(f"a key of {path}", key)
                stack.append((item, path + _step(key)))
        elif isinstance(node, list | tuple):
            stack.extend((item, f"{path}[{i}]") for i, item in reversed(list(enumerate(node))))
    return ""


def _step(key: object) -> str:
    text = str(key) if len(str(key)) <= 40 else str(key)[:37] + "..."
    return f".{text}" if isinstance(key, str) and _NAME(key) else f"[{text!r}]"


def _surrogate(where: str, text: str) -> str:
    position = _SURROGATE(text).start()  # type: ignore[union-attr]
    shown = text if len(text) <= 40 else text[:37] + "..."
    return (
        f"{where} ({shown!r}) holds a lone surrogate ({text[position]!r}, character "
        f"{position + 1}), which is not valid Unicode: UTF-8 cannot encode it, so wfkit "
        "cannot store it or pass it on. Such text comes from bytes decoded with "
        "errors='surrogateescape' (file names, os.environ) or a JSON \\ud800 escape: "
        "decode bytes with errors='replace', or pass them as base64"
    )


def json_problem(value: Any, root: str = "value") -> tuple[str | None, str]:
    """Check that ``value`` is JSON (no NaN or infinity), nests at most
    :data:`MAX_DEPTH` levels, and holds only valid Unicode text (:func:`text_problem`,
    whose paths start at ``root``): ``(json_text, "")`` or ``(None, reason)`` where the
    reason names the offending type and a likely fix."""
    deep = depth_problem(value)
    if deep:
        return None, deep
    try:
        text = check(value)
        surrogate = text_problem(value, root)
        return (None, surrogate) if surrogate else (text, "")
    except ValueError as exc:  # NaN or infinity, or a circular reference
        if "ircular" in str(exc):
            return None, "it refers to itself (a circular reference)"
        return None, "it holds NaN or infinity, which JSON cannot represent; use None instead"
    except TypeError:
        culprit = _first_non_json(value)
        name = type_name(culprit)
        hint = _HINTS.get(
            type(culprit).__name__,
            "convert it to dicts, lists, strings, numbers, booleans and None",
        )
        where = "it is" if culprit is value else "it holds"
        return None, f"{where} a {name}, which is not JSON; {hint}"


def _first_non_json(value: Any, depth: int = 0) -> Any:
    """The first value (depth first) that :func:`json.dumps` cannot encode."""
    if depth > 100:
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                return key
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for item in value:
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return None
    return value
