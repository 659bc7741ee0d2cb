"""Durations as the language writes them: ``500ms``, ``30s``, ``10m``, ``2h``, ``1d``,
combinations such as ``1h30m``, or a plain number of seconds."""

from __future__ import annotations

import math
import re

from wfkit.definition.model import Duration

__all__ = ["format_seconds", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*")


def parse_duration(value: str | int | float) -> Duration:
    """A :class:`Duration` from its written form; ``ValueError`` when it is not one.

    A duration is a finite number of seconds: infinity, NaN and numbers too large for a
    float are refused (a timer cannot be set for them).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value != value:
            raise ValueError("NaN is not a duration")
        if value < 0:
            raise ValueError(f"{_short(value)} is negative")
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise ValueError(f"{_short(value)} is too long for a duration")
        return Duration(seconds, f"{value}s")
    pos, total = 0, 0.0
    text = value.strip()
    if not text:
        raise ValueError("an empty duration")
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            raise ValueError(f"{value!r} is not a duration")
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    if not math.isfinite(total):
        raise ValueError(f"{_short(text)} is too long for a duration")
    return Duration(total, text)


def _short(value: object) -> str:
    """A value for a message, cut when long (a 400-digit number is not worth showing)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text):,} characters)"


def format_seconds(seconds: float | None) -> str:
    """A duration as people read it, the one form wfkit prints everywhere (the worker's
    log, notebook views): ``12ms``, ``4.2s``, ``42.5s``, ``2m05s``, ``3h10m``, ``1d02h``;
    an empty string for None (not started, or not ended)."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        digits = 2 if seconds < 10 else 1
        return f"{seconds:.{digits}f}".rstrip("0").rstrip(".") + "s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
