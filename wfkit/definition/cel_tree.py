"""The shape of a CEL expression: a small tree read from its tokens, and its size limits.

The CEL interpreter is Rust and recurses on the tree it builds: a long operator chain
(``1 + 1 + ...``, 12,500 terms) overflows its stack and kills the process with SIGSEGV,
at compile or at evaluation, where Python cannot catch it. So every expression is read
here first, with a parser that never recurses on a chain, and refused with a positioned
:class:`ExpressionSyntaxError` when it is too long, has too many nodes or nests too deep
(see docs/concepts/limits.md). The tree also feeds the evaluation cost estimate
(:mod:`wfkit.definition.cel_cost`).

The tree is an over-approximation of CEL's: it only has to be as deep as CEL's (so that
a depth limit here holds there) and to show comprehension macros with their ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

from wfkit.definition.scanner import ExpressionSyntaxError, Token, tokens

__all__ = ["MACROS", "MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "Node", "NotReadable", "parse_tree"]

#: The longest expression source, in characters.
MAX_LENGTH = 10_000
#: The most nodes (literals, names, operators, calls, fields) in one expression.
MAX_NODES = 1_000
#: The deepest an expression may nest (operators in a chain, brackets, calls, macros).
MAX_DEPTH = 64
#: Comprehension macros: ``range.name(var, body)`` (``map`` also takes a filter).
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
#: Levels a macro counts for: CEL expands one into a comprehension a few levels deep.
_MACRO_LEVELS = 3

_BINARY = {
    "*": 5, "/": 5, "%": 5, "+": 4, "-": 4,
    "<": 3, "<=": 3, ">": 3, ">=": 3, "==": 3, "!=": 3, "in": 3,
    "&&": 2, "||": 1,
}  # fmt: skip
_HINT = "split it into smaller expressions, or compute the value in a call step"


class NotReadable(ExpressionSyntaxError):
    """The text is not an expression this module's parser reads (CEL may still)."""


@dataclass(frozen=True, eq=False)
class Node:
    """One node: ``kind`` is lit, ident, select, index, call, method, macro, unary,
    binary, cond, list or map; ``text`` the name, operator or literal; ``kids`` its
    operands (a method's target first; a macro's range, then its body and filter)."""

    kind: str
    text: str
    offset: int
    kids: tuple[Node, ...] = ()
    depth: int = 1
    var: str = ""
    """The name a macro binds (``x`` in ``list.map(x, x * 2)``)."""


def parse_tree(source: str) -> Node:
    """The tree of ``source``; raises :class:`ExpressionSyntaxError` (with an offset into
    ``source``) when it is past a limit or is not an expression this parser reads."""
    if len(source) > MAX_LENGTH:
        raise ExpressionSyntaxError(
            f"expression is too long: {len(source):,} characters, the limit is {MAX_LENGTH:,}",
            MAX_LENGTH,
            _HINT,
        )
    try:
        found = tokens(source)
    except ExpressionSyntaxError as exc:
        raise NotReadable(exc.message, exc.offset) from None
    parser = _Parser(found)
    node = parser.expression()
    if parser.pos < len(parser.toks):
        raise NotReadable("unexpected text", parser.toks[parser.pos].offset)
    return node


def _too_deep(offset: int) -> ExpressionSyntaxError:
    return ExpressionSyntaxError(
        f"expression nests too deep: more than {MAX_DEPTH} levels (operators in one chain, "
        "brackets, calls and macros each count)",
        offset,
        _HINT,
    )


class _Parser:
    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.pos = 0
        self.nodes = 0
        self.level = 0

    def peek(self) -> str:
        return self.toks[self.pos].text if self.pos < len(self.toks) else ""

    def take(self, text: str | None = None) -> Token:
        if self.pos >= len(self.toks):
            raise NotReadable("unexpected end of expression", self._end())
        tok = self.toks[self.pos]
        if text is not None and tok.text != text:
            raise NotReadable(f"expected {text!r}", tok.offset)
        self.pos += 1
        return tok

    def _end(self) -> int:
        return self.toks[-1].offset + len(self.toks[-1].text) if self.toks else 0

    def node(self, kind: str, tok: Token, kids: tuple[Node, ...] = (), var: str = "") -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionSyntaxError(
                f"expression has too many parts: more than {MAX_NODES:,} (literals, names, "
                "operators, calls)",
                tok.offset,
                _HINT,
            )
        levels = _MACRO_LEVELS if kind == "macro" else 1
        depth = levels + max((k.depth for k in kids), default=0)
        if depth > MAX_DEPTH:
            raise _too_deep(tok.offset)
        return Node(kind, tok.text, tok.offset, kids, depth, var)

    def expression(self) -> Node:
        self.level += 1  # parentheses nest without a node: they count here
        if self.level > MAX_DEPTH + 1:
            raise _too_deep(self.toks[self.pos - 1].offset if self.pos else 0)
        try:
            test = self.binary(1)
            if self.peek() != "?":
                return test
            tok = self.take("?")
            yes = self.binary(1)
            self.take(":")
            return self.node("cond", tok, (test, yes, self.expression()))
        finally:
            self.level -= 1

    def binary(self, least: int) -> Node:
        left = self.unary()
        while (prec := _BINARY.get(self.peek(), 0)) >= least:
            tok = self.take()
            if prec > 2:
                left = self.node("binary", tok, (left, self.binary(prec + 1)))
                continue
            terms = [left, self.binary(prec + 1)]  # && and ||: CEL balances a chain
            while self.peek() == tok.text:
                self.take()
                terms.append(self.binary(prec + 1))
            left = self.balanced(tok, terms)
        return left

    def balanced(self, tok: Token, terms: list[Node]) -> Node:
        if len(terms) == 1:
            return terms[0]
        half = len(terms) // 2
        return self.node(
            "binary", tok, (self.balanced(tok, terms[:half]), self.balanced(tok, terms[half:]))
        )

    def unary(self) -> Node:
        ops = []
        while self.peek() in ("!", "-"):
            ops.append(self.take())
        node = self.postfix(self.primary())
        for tok in reversed(ops):
            node = self.node("unary", tok, (node,))
        return node

    def postfix(self, node: Node) -> Node:
        while self.peek() in (".", "["):
            tok = self.take()
            if tok.text == "[":
                node = self.node("index", tok, (node, self.expression()))
                self.take("]")
                continue
            name = self.take()
            if name.kind != "ident":
                raise NotReadable("expected a field or method name", name.offset)
            if self.peek() != "(":
                node = self.node("select", name, (node,))
                continue
            args = self.arguments(")")
            if name.text in MACROS and args and args[0].kind == "ident" and len(args) >= 2:
                node = self.node("macro", name, (node, *args[1:]), var=args[0].text)
            else:
                node = self.node("method", name, (node, *args))
        return node

    def arguments(self, close: str) -> tuple[Node, ...]:
        self.take()  # the opening bracket
        items: list[Node] = []
        while self.peek() != close:
            items.append(self.expression())
            if self.peek() != ",":
                break
            self.take(",")
        self.take(close)
        return tuple(items)

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("number", "string") or tok.text in ("true", "false", "null"):
            return self.node("lit", tok)
        if tok.text == "(":
            node = self.expression()
            self.take(")")
            return node
        if tok.text == "[":
            self.pos -= 1
            return self.node("list", tok, self.arguments("]"))
        if tok.text == "{":
            return self.node("map", tok, self.entries())
        if tok.text == "." and self.pos < len(self.toks):
            tok = self.take()  # a leading dot: the root namespace
        if tok.kind != "ident":
            raise NotReadable(f"unexpected {tok.text!r}", tok.offset)
        if self.peek() == "(":
            return self.node("call", tok, self.arguments(")"))
        return self.node("ident", tok)

    def entries(self) -> tuple[Node, ...]:
        items: list[Node] = []
        while self.peek() != "}":
            items.append(self.expression())
            self.take(":")
            items.append(self.expression())
            if self.peek() != ",":
                break
            self.take(",")
        self.take("}")
        return tuple(items)
