"""YAML 1.1 resolution of scalars, as PyYAML's safe loader does it, without its constructor.

An unquoted scalar becomes null, a boolean, an integer (decimal, ``0x``, ``0o`` or a
leading ``0`` for octal, ``_`` allowed), a float (including ``.inf`` and ``.nan``) or
stays text; a scalar with a standard tag (``!!int 3``) must be of that kind.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from wfkit.definition.document import SourceError

__all__ = ["STD_TAG", "YAML_WORDS", "is_finite", "plain_scalar", "tag_text", "tagged_scalar"]

#: The prefix of YAML's standard tags (``!!int`` is ``tag:yaml.org,2002:int``).
STD_TAG = "tag:yaml.org,2002:"
_FLOAT_MAX = sys.float_info.max

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


def plain_scalar(value: str) -> Any:
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


def is_finite(value: float) -> bool:
    """Whether a float is neither infinite nor NaN (which JSON cannot carry)."""
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


def tag_text(tag: str | None) -> str:
    """A tag as written in YAML (``!!float``), or "" for none."""
    if tag in (None, "!"):
        return ""
    return "!!" + tag[len(STD_TAG) :] if tag.startswith(STD_TAG) else tag


def _short(value: str, limit: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


#: The Python type a scalar with each standard tag (but ``!!str``) must resolve to.
_TAG_KINDS: dict[str, type] = {
    f"{STD_TAG}int": int,
    f"{STD_TAG}float": float,
    f"{STD_TAG}bool": bool,
    f"{STD_TAG}null": type(None),
}


#: Plain words YAML 1.1 reads as something other than text (so not usable as names).
YAML_WORDS = {
    **dict.fromkeys(("yes", "true", "on"), "true"),
    **dict.fromkeys(("no", "false", "off"), "false"),
    "null": "null",
}


def tagged_scalar(tag: str, value: str, line: int, column: int) -> Any:
    """The value of a scalar with a standard tag (``!!int 3``), resolved as that kind.

    An integer tagged ``!!float`` becomes a float; any other mismatch raises
    :class:`SourceError` at ``line`` and ``column``.
    """
    if tag == f"{STD_TAG}str":
        return value
    resolved = plain_scalar(value)
    wanted = _TAG_KINDS.get(tag)
    if wanted is None:  # !!map or !!seq on a scalar
        raise SourceError(f"a scalar cannot have the tag !!{tag[len(STD_TAG) :]}", line, column)
    if wanted is float and isinstance(resolved, int) and not isinstance(resolved, bool):
        try:
            return float(resolved)
        except OverflowError:  # as PyYAML: an integer beyond floats is infinite
            return float("-inf") if resolved < 0 else float("inf")
    if type(resolved) is not wanted:
        name = tag[len(STD_TAG) :]
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
