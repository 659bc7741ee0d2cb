"""One short line for any step output: DataFrames by shape and columns, containers by
size and first items, everything else by a shortened repr."""

from __future__ import annotations

import reprlib
from itertools import islice
from typing import Any

from wfkit.errors import short

__all__ = ["clip", "preview"]


class _InOrder(reprlib.Repr):
    """``reprlib.Repr`` that shows a dict's first keys in the dict's own order (the
    standard one sorts them, which misstates what a step returned)."""

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [
            f"{self.repr1(key, level - 1)}: {self.repr1(value, level - 1)}"
            for key, value in islice(x.items(), self.maxdict)
        ]
        if len(x) > self.maxdict:
            pieces.append("...")
        return "{" + ", ".join(pieces) + "}"


_REPR = _InOrder()
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
    return clip(text, width)


def clip(text: str, width: int = 60, *, fold_space: bool = True) -> str:
    """``text`` cut to ``width`` characters with an ellipsis, the one way wfkit shortens
    what it prints. With ``fold_space`` (the default) it is put on one line first, runs of
    white space made one space; without, white space is kept as it is (a line of captured
    output, whose indentation means something)."""
    if fold_space:
        text = " ".join(text.split())
    return short(text, width)


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
