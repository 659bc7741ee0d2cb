"""How the contract's records travel as JSON: one codec per field, and the shared base.

Each record field carries, in its dataclass metadata, its JSON name and a :class:`Codec`
(``decode`` from a JSON value, ``encode`` to one); :class:`Record` turns those into
``to_json()`` and ``from_json()``. A codec raises :class:`CodecError`, which ``from_json``
turns into a :class:`~wfkit.errors.ContractError` naming the record and the field. The
encoding rules themselves are described in :mod:`wfkit.engine.wire.contract`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, fields
from datetime import datetime
from typing import Any, Self

from wfkit.engine.core.status import RuntimeStatus
from wfkit.engine.wire.timestamps import format_time, parse_time
from wfkit.errors import ContractError

__all__ = [
    "BOOL",
    "JSON_TEXT",
    "STATUS",
    "STR",
    "STR_MAP",
    "TIME",
    "Codec",
    "CodecError",
    "Record",
    "check_json_text",
    "checked_payload",
    "decode_status",
    "kind_of",
    "meta",
]


class CodecError(Exception):
    """Raised by a codec; turned into a ContractError naming the field.

    ``inner`` is the error of a nested record, whose field names are then joined to the
    outer field's with dots (``workflow.startedAt``).
    """

    def __init__(self, problem: str, inner: ContractError | None = None) -> None:
        super().__init__(problem)
        self.inner = inner


_KINDS = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    dict: "an object",
    list: "an array",
    bytes: "bytes",
}


def kind_of(value: object) -> str:
    """How a JSON value's kind reads in a message: ``a string``, ``null``..."""
    if value is None:
        return "null"
    return _KINDS.get(type(value), f"a {type(value).__name__}")


@dataclass(frozen=True)
class Codec:
    """How one field travels: decode from a JSON value, encode to one."""

    decode: Callable[[object], Any]
    encode: Callable[[Any], object]


def _decode_str(value: object) -> str:
    if not isinstance(value, str):
        raise CodecError(f"must be a string, got {kind_of(value)}")
    return value


def _decode_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise CodecError(f"must be true or false, got {kind_of(value)}")
    return value


def _decode_str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise CodecError(f"must be an object of strings, got {kind_of(value)}")
    for key, item in value.items():
        if not isinstance(key, str):
            raise CodecError(f"must map strings to strings, but has the key {key!r}")
        if not isinstance(item, str):
            raise CodecError(f"must map strings to strings, but {key!r} holds {kind_of(item)}")
    return dict(value)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def check_json_text(data: bytes) -> None:
    """Raise CodecError unless ``data`` is UTF-8 JSON text (RFC 8259: no NaN or Infinity)."""
    try:
        json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CodecError(f"must hold UTF-8 JSON text ({exc})") from None


def _decode_json_text(value: object) -> bytes | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CodecError(
            f"must be a string holding JSON text, got {kind_of(value)}; "
            "encode the value first (json.dumps)"
        )
    data = value.encode("utf-8")
    check_json_text(data)
    return data


def _encode_json_text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8")


def _decode_time(value: object) -> datetime:
    text = _decode_str(value)
    try:
        return parse_time(text)
    except ContractError as exc:
        raise CodecError(f"must be an RFC 3339 time: {exc.problem}") from None


def decode_status(value: object) -> RuntimeStatus:
    """A :class:`RuntimeStatus` from its JSON text; raises CodecError naming the known ones."""
    text = _decode_str(value)
    try:
        return RuntimeStatus(text)
    except ValueError:
        known = ", ".join(status.value for status in RuntimeStatus)
        raise CodecError(f"must be one of {known}; got {text!r}") from None


def _identity(value: object) -> object:
    return value


STR = Codec(_decode_str, _identity)
BOOL = Codec(_decode_bool, _identity)
STR_MAP = Codec(_decode_str_map, dict)
JSON_TEXT = Codec(_decode_json_text, _encode_json_text)
TIME = Codec(_decode_time, format_time)
STATUS = Codec(decode_status, str)


def meta(json_name: str, codec: Codec) -> dict[str, object]:
    """The dataclass field metadata of a record field: its JSON name and its codec."""
    return {"json": json_name, "codec": codec}


@dataclass(frozen=True)
class Record:
    """Shared ``to_json`` / ``from_json`` over the dataclass fields' ``json`` metadata."""

    def to_json(self) -> dict[str, object]:
        """This record as a JSON-ready dict, with Dapr's JSON names."""
        out: dict[str, object] = {}
        for spec in fields(self):
            codec: Codec = spec.metadata["codec"]
            out[spec.metadata["json"]] = codec.encode(getattr(self, spec.name))
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Build the record from a decoded JSON object; raises ContractError when it is bad."""
        name = cls.__name__
        if not isinstance(data, Mapping):
            raise ContractError(name, "", "", f"must be a JSON object, got {kind_of(data)}")
        kwargs: dict[str, Any] = {}
        for spec in fields(cls):
            json_name: str = spec.metadata["json"]
            codec: Codec = spec.metadata["codec"]
            value = data.get(json_name)
            if value is None:
                if _has_default(spec):
                    continue
                if json_name not in data:
                    raise ContractError(name, json_name, spec.name, "is missing")
            try:
                kwargs[spec.name] = codec.decode(value)
            except CodecError as exc:
                if exc.inner is not None and exc.inner.json_name:
                    json_name = f"{json_name}.{exc.inner.json_name}"
                    raise ContractError(
                        name, json_name, f"{spec.name}.{exc.inner.field}", exc.inner.problem
                    ) from None
                raise ContractError(name, json_name, spec.name, str(exc)) from None
        return cls(**kwargs)


def _has_default(spec: Field[Any]) -> bool:
    return spec.default is not MISSING or spec.default_factory is not MISSING


def checked_payload(record: str, json_name: str, name: str, value: bytes | None) -> bytes | None:
    """The payload field checked: JSON text as bytes, or None (empty bytes become None)."""
    if value is None or value == b"":
        return None
    if not isinstance(value, bytes):
        raise ContractError(record, json_name, name, f"must be bytes or None, got {kind_of(value)}")
    try:
        check_json_text(value)
    except CodecError as exc:
        raise ContractError(record, json_name, name, str(exc)) from None
    return value
