"""The lexical side of expressions: where ``${{ ... }}`` sits in text, and what it reads.

The CEL package reports only root names, so step references (``steps.<id>.output``,
``steps.<id>.status``) are found here with a small scanner over CEL's lexical grammar,
which also gives each reference its offset for errors. :func:`split_template` cuts a
string into literal pieces and the sources of the expressions inside it (a ``}}`` inside a
string literal does not close one). Compiling and evaluating are in
:mod:`wfkit.definition.expressions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CLOSE",
    "KEYWORDS",
    "OPEN",
    "STEP_FIELDS",
    "ExpressionSyntaxError",
    "Reference",
    "Token",
    "scan_references",
    "split_template",
    "tokens",
]

#: What an expression may read of a step: steps.<id>.output and steps.<id>.status.
STEP_FIELDS = ("output", "status")
#: CEL's keywords: none can follow a dot (``steps.in.output`` does not parse), so none
#: can be a step id. CEL also reserves as, break, const, if, package, while... for later
#: use; the interpreter wfkit runs reads those after a dot, so they stay allowed.
KEYWORDS = frozenset({"true", "false", "null", "in"})
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
#: What opens and what closes an expression in text.
OPEN = "${{"
CLOSE = "}}"

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*"))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[uU]?|0[xX][0-9a-fA-F]+[uU]?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<punct>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class ExpressionSyntaxError(Exception):
    """An expression is not valid; ``offset`` is the 0-based position in its source."""

    def __init__(self, message: str, offset: int = 0, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True)
class Reference:
    """A name an expression reads: a root (``inputs``) or a step (``steps.train``)."""

    root: str
    step: str | None
    offset: int
    member: str | None = None


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    offset: int


def _tokens(source: str) -> list[_Token]:
    out = []
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "bad"
        if kind == "ws":
            continue
        if kind == "bad":
            raise ExpressionSyntaxError(f"unexpected character {match.group()!r}", match.start())
        out.append(_Token(kind, match.group(), match.start()))
    return out


#: CEL's tokens, for readers of an expression's shape (:mod:`wfkit.definition.cel_tree`).
Token = _Token
tokens = _tokens


def _unquote(text: str) -> str:
    body = text.lstrip("rRbB")
    quote = body[:3] if body[:3] in ("'''", '"""') else body[0]
    return body[len(quote) : -len(quote)]


_SIMPLE_PATH = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*")


def _simple_path(source: str) -> list[Reference] | None:
    """The references of a bare dotted path (the common case), without tokenizing."""
    match = _SIMPLE_PATH.fullmatch(source)
    if match is None:
        return None
    root = match[1]
    members = [m.strip() for m in match[2].split(".")[1:]]
    offset = match.start(1)
    if root in ("true", "false", "null"):
        return []
    if root != "steps":
        return [Reference(root, None, offset, members[0] if members else None)]
    if len(members) >= 2 and members[1] in STEP_FIELDS:
        return [Reference("steps", members[0], offset)]
    return None  # let the tokenizer report what is wrong


def scan_references(source: str) -> list[Reference]:
    """Every root name and step reference in ``source``, in order.

    Names bound by comprehension macros (``x`` in ``list.map(x, x * 2)``) are not roots.
    Raises :class:`ExpressionSyntaxError` for a ``steps`` access that is not
    ``steps.<id>.output`` or ``steps.<id>.status`` (references must be static, so that they
    can become edges of the graph).
    """
    simple = _simple_path(source)
    if simple is not None:
        return simple
    toks = _tokens(source)
    bound = {
        toks[i + 2].text
        for i in range(len(toks) - 2)
        if toks[i].kind == "ident"
        and toks[i].text in _MACROS
        and i > 0
        and toks[i - 1].text == "."
        and toks[i + 1].text == "("
        and toks[i + 2].kind == "ident"
    }
    refs: list[Reference] = []
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or tok.text in bound:
            continue
        if i > 0 and toks[i - 1].text == ".":
            continue  # a field or method, not a root
        if i + 1 < len(toks) and toks[i + 1].text == "(":
            continue  # a function call such as size(...)
        if tok.text in KEYWORDS:
            continue
        if tok.text != "steps":
            member = None
            if i + 2 < len(toks) and toks[i + 1].text == "." and toks[i + 2].kind == "ident":
                member = toks[i + 2].text
            refs.append(Reference(tok.text, None, tok.offset, member))
            continue
        refs.append(_step_reference(toks, i))
    return refs


def _step_reference(toks: list[_Token], i: int) -> Reference:
    start = toks[i].offset
    rest = toks[i + 1 : i + 5]
    texts = [t.text for t in rest]
    step: str | None = None
    after = 0
    if len(rest) >= 2 and texts[0] == "." and rest[1].kind == "ident":
        step, after = rest[1].text, 2
    elif len(rest) >= 3 and texts[0] == "[" and rest[1].kind == "string" and texts[2] == "]":
        step, after = _unquote(rest[1].text), 3
    if step is None:
        raise ExpressionSyntaxError(
            "steps must be followed by a step id",
            start,
            "write steps.<id>.output or steps.<id>.status; step ids cannot be computed",
        )
    field_toks = toks[i + 1 + after : i + 3 + after]
    if len(field_toks) < 2 or field_toks[0].text != "." or field_toks[1].text not in STEP_FIELDS:
        raise ExpressionSyntaxError(
            f"steps.{step} must be followed by .output or .status",
            start,
            f"write steps.{step}.output for its result or steps.{step}.status for its state",
        )
    return Reference("steps", step, start)


def split_template(text: str) -> list[str | tuple[int, str]]:
    """Split text into literal pieces and ``(offset, source)`` expression pieces."""
    parts: list[str | tuple[int, str]] = []
    pos = 0
    while True:
        start = text.find(OPEN, pos)
        if start < 0:
            if pos < len(text):
                parts.append(text[pos:])
            return parts
        if start > pos:
            parts.append(text[pos:start])
        body_start = start + len(OPEN)
        end = _find_close(text, body_start)
        if end < 0:
            raise ExpressionSyntaxError(
                "expression is not closed", start, "close it with }} on the same value"
            )
        parts.append((body_start, text[body_start:end]))
        pos = end + len(CLOSE)


def _find_close(text: str, pos: int) -> int:
    end = text.find(CLOSE, pos)
    if end < 0 or ("'" not in text[pos:end] and '"' not in text[pos:end]):
        return end  # no string literal before the first }}: the common case
    quote = ""
    i = pos
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif text.startswith(CLOSE, i):
            return i
        i += 1
    return -1
