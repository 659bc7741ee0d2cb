"""Times on the contract's wire: RFC 3339 in UTC with microseconds.

``format_time`` writes ``2026-11-27T05:40:28.123456Z``; ``parse_time`` accepts any RFC 3339
offset and any number of fractional digits, and gives an aware UTC datetime. Naive
datetimes and times without an offset are refused with a
:class:`~wfkit.errors.ContractError` (the rules are in :mod:`wfkit.engine.wire.contract`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from wfkit.errors import ContractError

__all__ = ["format_time", "parse_time", "to_utc", "utc_field"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)
_TIME_NAME = "RFC 3339 time"


def format_time(moment: datetime) -> str:
    """RFC 3339 text of an aware datetime, in UTC with microseconds: ``...T05:40:28.123456Z``.

    Raises :class:`ContractError` for a naive datetime.
    """
    u = to_utc(moment)
    if u is None:
        raise ContractError(_TIME_NAME, "", "", f"needs an aware datetime, got {moment!r}")
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T"
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
    )


def parse_time(text: str) -> datetime:
    """An aware UTC datetime from RFC 3339 text (``Z`` or any ``+hh:mm`` offset).

    Fractional seconds beyond microseconds are truncated. Raises :class:`ContractError`
    when the text is not an RFC 3339 time, including a time without an offset.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ContractError(
            _TIME_NAME, "", "", f"{text!r} is not a time like '2026-11-27T05:40:28.123456Z'"
        )
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = match.groups()
    if not zulu and not sign:
        raise ContractError(
            _TIME_NAME, "", "", f"{text!r} has no UTC offset; add 'Z' if it is in UTC"
        )
    offset = timedelta(0)
    if sign:
        if int(oh) > 23 or int(om) > 59:
            raise ContractError(_TIME_NAME, "", "", f"{text!r} has an invalid UTC offset")
        offset = timedelta(hours=int(oh), minutes=int(om))
        if sign == "-":
            offset = -offset
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micro,
            timezone(offset),
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ContractError(_TIME_NAME, "", "", f"{text!r} is not a valid time ({exc})") from None


def to_utc(moment: object) -> datetime | None:
    """``moment`` in UTC, or None when it is not an aware datetime that fits in UTC."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def utc_field(moment: datetime, record: str, json_name: str, name: str) -> datetime:
    """A record's time field in UTC; raises :class:`ContractError` naming the field."""
    u = to_utc(moment)
    if u is None:
        raise ContractError(
            record, json_name, name, f"must be an aware datetime within UTC's range, got {moment!r}"
        )
    return u
