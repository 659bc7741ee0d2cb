"""``${{ ... }}`` expressions: CEL, compiled once at load time, evaluated in a sandbox.

CEL is non-Turing-complete and side-effect free; it is run by the Rust-backed
``common-expression-language`` package (compile about 7 µs, evaluate about 15 µs here,
and ``1 > 0.5`` is true as people expect). The package reports only root names, so step
references (``steps.<id>.output``, ``steps.<id>.status``) are found with a small scanner
over CEL's lexical grammar (:mod:`wfkit.definition.scanner`), which also gives each
reference its column for errors.

A value that is wholly one expression keeps the expression's type; expressions embedded in
a longer string are interpolated as text (non-strings as JSON).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from wfkit.definition import _cel
from wfkit.definition.cel_cost import DEFAULT_BUDGET, Budget, CostCheck, cost_check
from wfkit.definition.cel_tree import MAX_LENGTH, MAX_NODES, Node, NotReadable, parse_tree
from wfkit.definition.scanner import (
    KEYWORDS,
    ExpressionSyntaxError,
    Reference,
    scan_references,
    split_template,
)

__all__ = [
    "KEYWORDS",
    "ROOTS",
    "Expression",
    "ExpressionSyntaxError",
    "Reference",
    "compile_expression",
    "execute",
    "scan_references",
    "split_template",
]

#: Every name an expression may start with, and what it means.
ROOTS = {
    "inputs": "the workflow's inputs",
    "steps": "steps.<id>.output and steps.<id>.status of earlier steps",
    "item": "the current item inside a foreach step",
    "index": "the current item's 0-based index inside a foreach step",
    "workflow": "workflow.id, workflow.name and workflow.status",
}

_CEL_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")


def _offset_of(source: str, line: int, column: int) -> int:
    lines = source.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


@dataclass(frozen=True, eq=False)
class Expression:
    """One compiled CEL expression; ``source`` is the text between ``${{`` and ``}}``."""

    source: str
    references: tuple[Reference, ...]
    program: Any = field(repr=False)
    cost: CostCheck | None = field(default=None, repr=False)
    """The check that evaluating it stays within a budget; None when it always does."""
    steps: frozenset[str] = field(init=False, repr=False)
    """The ids of the steps this expression reads."""
    names: tuple[str, ...] | None = field(init=False, repr=False)
    """The roots CEL is given (it converts its whole context at each evaluation, so a
    big value beside them would be converted for nothing); None: a plain path, which
    reads the context without converting it."""
    per_item: bool = field(init=False, repr=False)
    """Whether it reads ``item``, ``index`` or ``workflow`` (otherwise its value is the
    same for every item of a foreach: see :meth:`Template.render`'s ``memo``)."""

    def __post_init__(self) -> None:
        found = frozenset(r.step for r in self.references if r.step is not None)
        object.__setattr__(self, "steps", found)
        roots = frozenset(r.root for r in self.references)
        names = None if isinstance(self.program, _PathProgram) else tuple(sorted(roots))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "per_item", bool(roots & _PER_ITEM))

    @property
    def roots(self) -> frozenset[str]:
        return frozenset(r.root for r in self.references)

    def evaluate(self, context: Mapping[str, Any], budget: Budget = DEFAULT_BUDGET) -> Any:
        """The expression's value with ``context`` bound (``inputs``, ``steps``, ...).

        Raises :class:`~wfkit.errors.ExpressionBudgetExceeded`, without evaluating, when
        that would cost more than ``budget`` allows."""
        return execute(self, context if type(context) is dict else dict(context), budget)

    def __str__(self) -> str:
        return f"${{{{ {self.source.strip()} }}}}"


_PER_ITEM = frozenset({"item", "index", "workflow"})

_PATH = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*")


class _PathProgram:
    """A bare dotted path (``steps.a.output``, ``inputs.region``), evaluated with mapping
    lookups as CEL would: a missing key raises :class:`KeyError`. Most expressions are such
    paths, and compiling one with CEL costs 10-20 µs.

    Lists and mappings come back as copies, as CEL's own results do, so that a step that
    changes its input cannot change a recorded output."""

    __slots__ = ("names",)

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def execute(self, context: Mapping[str, Any]) -> Any:
        value: Any = context
        for name in self.names:
            if type(value) is not dict and not isinstance(value, Mapping):
                raise KeyError(name)
            value = value[name]
        kind = type(value)
        if kind is dict or kind is list or isinstance(value, list | dict):
            return _copy(value)
        return value


_orjson_dumps = orjson.dumps
_orjson_loads = orjson.loads


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists and scalars): what ``json.loads(json.dumps(
    value))`` gives for it. orjson does it in about half the time of walking the value in
    Python (0.25 against 0.4 µs for a small mapping, 2.8 against 6.5 for a 12-row table);
    the walk is kept for what orjson refuses (integers beyond 64 bits, very deep data)."""
    try:
        return _orjson_loads(_orjson_dumps(value))
    except TypeError:  # orjson.JSONEncodeError
        return _walk_copy(value)


def _walk_copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _walk_copy(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_walk_copy(item) for item in value]
    return value


def _path_program(source: str) -> _PathProgram | None:
    match = _PATH.fullmatch(source)
    if match is None:
        return None
    names = tuple(match[1].split("."))
    if any(name in KEYWORDS for name in names):
        return None  # let CEL say what is wrong
    return _PathProgram(names)


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Compile CEL text; raises :class:`ExpressionSyntaxError` with an offset into it.

    Expressions are immutable, so the same text compiles once per process.
    """
    if not source.strip():
        raise ExpressionSyntaxError("empty expression", 0, "write a CEL expression inside ${{ }}")
    path = _path_program(source) if len(source) <= MAX_LENGTH else None
    if path is not None:
        return Expression(source, tuple(scan_references(source)), path)
    # the limits first: past them, CEL's compiler itself can crash the process
    tree: Node | None = None
    unread: NotReadable | None = None
    try:
        tree = parse_tree(source)
    except NotReadable as exc:
        if len(source) > 2 * MAX_NODES:  # too big to hand to CEL unchecked
            raise
        unread = exc
    program = _cel_program(source)
    if unread is not None:  # CEL reads it, wfkit cannot judge its size: refuse it
        raise ExpressionSyntaxError(
            f"wfkit cannot check the size of this expression ({unread.message})",
            unread.offset,
            "write it with CEL's common operators, calls and macros",
        )
    check = cost_check(tree) if tree is not None else None
    return Expression(source, tuple(scan_references(source)), program, check)


def _cel_program(source: str) -> Any:
    try:
        return _cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        text = str(exc)
        match = _CEL_POSITION.search(text)
        if match:
            line, column, message = int(match[1]), int(match[2]), match[3]
            message = re.sub(r"^Syntax error: ", "", message).split(" expecting ")[0]
            raise ExpressionSyntaxError(
                f"CEL syntax error: {message}", _offset_of(source, line, column)
            ) from None
        raise ExpressionSyntaxError(f"CEL error: {text}", 0) from None


def execute(
    expression: Expression,
    context: dict[str, Any],
    budget: Budget,
    memo: dict[Expression, Any] | None = None,
) -> Any:
    """Evaluate ``expression`` with only the roots it reads from ``context``, within
    ``budget``; with ``memo``, an expression that reads no per-item root (``item``,
    ``index``, ``workflow``) is evaluated once and each caller gets a copy."""
    if memo is not None and not expression.per_item:
        if expression in memo:
            found = memo[expression]
            return _copy(found) if isinstance(found, list | dict) else found
        value = memo[expression] = execute(expression, context, budget)
        return _copy(value) if isinstance(value, list | dict) else value  # the kept one stays
    names = expression.names
    if names is not None and len(context) > len(names):
        context = {name: context[name] for name in names if name in context}
    if expression.cost is not None:
        expression.cost.check(context, budget, expression.source)
    return expression.program.execute(context)
