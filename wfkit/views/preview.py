"""One short line for any step output: DataFrames by shape and columns, containers by
size and first items, everything else by a shortened repr."""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["preview"]

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 2, 4, 4, 4
_REPR.maxset, _REPR.maxfrozenset, _REPR.maxstring, _REPR.maxother = 4, 4, 40, 40


def preview(value: Any, width: int = 60) -> str:
    """``value`` in one line of at most ``width`` characters; never raises.

    A DataFrame shows its type, shape and first columns, an array its shape and dtype,
    a list or dict its size and first items; anything else its (shortened) repr.
    """
    try:
        text = _preview(value)
    except Exception:  # a broken __repr__ or property: the type is still worth showing
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _preview(value: Any) -> str:
    if value is None:
        return ""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and not isinstance(value, type):
        columns = getattr(value, "columns", None)
        size = "×".join(str(n) for n in shape)
        if columns is not None and len(shape) == 2:
            names = [str(c) for c in list(columns)[:4]] + (["…"] if len(columns) > 4 else [])
            return f"{type(value).__name__} {size} [{', '.join(names)}]"
        return f"{type(value).__name__} {size} {getattr(value, 'dtype', '')}".rstrip()
    if isinstance(value, list | tuple | set | frozenset | dict) and value:
        unit = "key" if isinstance(value, dict) else "item"
        plural = "" if len(value) == 1 else "s"
        return f"{len(value)} {unit}{plural}: {_REPR.repr(value)}"
    return _REPR.repr(value)
