"""Suggestions for a name that matches nothing: "did you mean 'needs'?"."""

from __future__ import annotations

import difflib
from typing import Any

__all__ = ["did_you_mean"]


def did_you_mean(word: str, choices: Any) -> str:
    """A hint naming the closest choice to ``word``, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""
