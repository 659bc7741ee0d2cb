"""Values typed as text (a command line's event data, a ``key=value`` input) read as JSON.

One rule for the CLI's ``raise-event DATA`` and ``-i KEY=VALUE`` and the ``%wfkit run
key=value`` magic, as the notebook widget's event form has: text meant as JSON must be
JSON, and a mistake is an error that says where (line and column) and how to send text
instead, never a value silently stored as a string that fails a later step.
"""

from __future__ import annotations

import json
from typing import Any

from wfkit.errors import InvalidJsonText, short

__all__ = ["input_value", "parse_json"]

_LOOKS_LIKE_JSON = ("{", "[", '"')
_TOO_DEEP = "it nests too deep: more than Python reads (wfkit accepts 100 levels)"


def parse_json(text: str, what: str, hint: str) -> Any:
    """``text`` read as strict JSON (no NaN or Infinity); :class:`InvalidJsonText`
    naming ``what`` with the line and column of the mistake, and ``hint``, otherwise."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InvalidJsonText(what, exc.lineno, exc.colno, exc.msg, hint) from None
    except _NotJsonConstant as exc:
        line, column = _place(text, text.find(exc.word))
        reason = f"{exc.word} is not JSON (JSON has no NaN or infinity)"
        raise InvalidJsonText(what, line, column, reason, hint) from None
    except RecursionError:
        raise InvalidJsonText(what, 0, 0, _TOO_DEEP, "") from None


def input_value(key: str, text: str, declared_type: str | None) -> Any:
    """The value of one ``key=value`` input: always text for an input declared
    ``type: string``; JSON for one declared with another type, and for text that
    starts like a JSON object, array or string (``{``, ``[``, ``"``); otherwise JSON
    when it parses (``3``, ``true``, ``null``) and the text itself when not (``ana``)."""
    if declared_type == "string":
        return text
    if declared_type is not None or text.lstrip().startswith(_LOOKS_LIKE_JSON):
        key = short(key)
        if declared_type is None:
            hint = f"to pass text, quote it as a JSON string: {key}='\"...\"'"
        else:
            hint = f"input {key!r} is declared type: {declared_type}, so its value is JSON"
        return parse_json(text, f"the value of input {key!r}", hint)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, _NotJsonConstant):
        return text
    except RecursionError:
        raise InvalidJsonText(f"the value of input {key!r}", 0, 0, _TOO_DEEP, "") from None


class _NotJsonConstant(Exception):
    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word


def _refuse_constant(word: str) -> Any:
    raise _NotJsonConstant(word)


def _place(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    offset = max(offset, 0)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
