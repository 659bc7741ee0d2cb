"""What a request body becomes as a start's input or an event's data.

Dapr passes the body to the workflow as it is; wfkit stores JSON values, so the body is
read by its ``Content-Type``:

* empty: no input (a start) or ``null`` data (an event);
* ``text/*`` (``text/plain``, what the Dapr JavaScript SDK sends for a string): read as
  the CLI reads ``-i KEY=VALUE``: JSON when it parses (``3``, ``true``, ``{"a": 1}``),
  the text itself, as a JSON string, otherwise (``yes``); text that starts like a JSON
  object, array or string (``{``, ``[``, ``"``) must be JSON;
* any other type, or none (``application/json``, ``application/octet-stream``, curl's
  default ``application/x-www-form-urlencoded``): UTF-8 JSON text, strictly (no NaN).

A body that breaks these rules is refused with Dapr's ``ERR_MALFORMED_REQUEST`` (400),
saying where and how to send text instead; nothing is started or sent.
"""

from __future__ import annotations

import json
from typing import Any

from wfkit.errors import InvalidJsonText
from wfkit.runtime.textjson import parse_json

__all__ = ["body_value", "json_bytes"]

_LOOKS_LIKE_JSON = ("{", "[", '"')
_WHAT = "the request body"
_HINT = "send JSON (Content-Type: application/json), or text as it is with Content-Type: text/plain"


def body_value(body: bytes, content_type: str | None) -> Any:
    """The JSON value ``body`` stands for (None when it is empty), by the rules above;
    :class:`InvalidJsonText` when it breaks them."""
    if not body:
        return None
    media, charset = _media_type(content_type or "")
    if media.startswith("text/"):
        return _text_value(_decoded(body, charset or "utf-8"))
    return parse_json(_decoded(body, "utf-8"), _WHAT, _HINT)


def json_bytes(value: Any) -> bytes | None:
    """``value`` as UTF-8 JSON text (what the contract's payload fields hold), or None."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _media_type(content_type: str) -> tuple[str, str | None]:
    media, *params = (part.strip() for part in content_type.split(";"))
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media.lower(), charset


def _decoded(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError) as exc:
        reason = f"it is not {charset} text ({exc})"
        raise InvalidJsonText(_WHAT, 0, 0, reason, _HINT) from None


def _text_value(text: str) -> Any:
    if text.lstrip().startswith(_LOOKS_LIKE_JSON):
        hint = "to send this text as it is, quote it as a JSON string"
        return parse_json(text, _WHAT, hint)
    try:
        return parse_json(text, _WHAT, "")
    except InvalidJsonText:
        return text
