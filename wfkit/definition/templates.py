"""Templates: a definition value (text, list or mapping) with ``${{ ... }}`` expressions in
it, compiled once at load time and rendered with a context.

A value that is wholly one expression keeps the expression's type; expressions embedded in
a longer string are interpolated as text (non-strings as JSON). Each expression is an
:class:`~wfkit.definition.expressions.Expression`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from wfkit.definition.cel_cost import DEFAULT_BUDGET, Budget
from wfkit.definition.expressions import Expression, compile_expression, execute
from wfkit.definition.scanner import CLOSE, OPEN, ExpressionSyntaxError, split_template

__all__ = [
    "Template",
    "TemplateError",
    "compile_template",
    "contains_expression",
    "expression_sites",
]


def contains_expression(text: str) -> bool:
    """Whether ``text`` holds a ``${{`` expression opening."""
    return OPEN in text


# A compiled template is a small tree: literal values, whole expressions, interpolated
# strings, lists and mappings of those.
_Node = Any


@dataclass(frozen=True, eq=False)
class _Whole:
    expression: Expression


@dataclass(frozen=True, eq=False)
class _Interpolated:
    parts: tuple[str | Expression, ...]


@dataclass(frozen=True, eq=False)
class _List:
    items: tuple[_Node, ...]


@dataclass(frozen=True, eq=False)
class _Map:
    items: tuple[tuple[str, _Node], ...]


@dataclass(frozen=True, eq=False)
class Template:
    """A JSON-like value whose strings may hold expressions, compiled.

    ``raw`` is the value as written; :meth:`render` gives the value with every
    expression evaluated in a context.
    """

    raw: Any
    node: _Node = field(repr=False)
    _expressions: tuple[Expression, ...] = field(init=False, repr=False)
    steps: frozenset[str] = field(init=False, repr=False)
    """The ids of the steps this template reads."""

    def __post_init__(self) -> None:
        found = tuple(_walk_expressions(self.node))
        object.__setattr__(self, "_expressions", found)
        object.__setattr__(self, "steps", frozenset(s for e in found for s in e.steps))

    def expressions(self) -> Iterator[Expression]:
        """Every expression inside, in order."""
        return iter(self._expressions)

    @property
    def is_expression(self) -> bool:
        """Whether the whole value is one expression (so it keeps the expression's type)."""
        return isinstance(self.node, _Whole)

    def render(
        self,
        context: Mapping[str, Any],
        budget: Budget = DEFAULT_BUDGET,
        memo: dict[Expression, Any] | None = None,
    ) -> Any:
        """The value with each expression evaluated in ``context`` (each within
        ``budget``, see :meth:`Expression.evaluate`).

        ``memo`` keeps the values of the expressions that read neither ``item``,
        ``index`` nor ``workflow``, for the next renders: the caller gives the same
        mapping only while the data those read cannot change (the items of one foreach,
        whose input steps have all ended), so that ``size(inputs.big)`` is evaluated
        once, not once per item."""
        context = context if type(context) is dict else dict(context)
        return _render(self.node, context, budget, memo)


_Site = tuple[tuple[str | int, ...], int, Expression]


def expression_sites(template: Template) -> Iterator[_Site]:
    """Each expression of ``template`` where it is written: the path of its string inside
    the raw value, and the offset of its source in that string (for error positions)."""
    return _sites(template.node, template.raw, ())


def _sites(node: _Node, raw: Any, path: tuple[str | int, ...]) -> Iterator[_Site]:
    if isinstance(node, _Whole | _Interpolated) and isinstance(raw, str):
        cursor = 0
        for expression in _walk_expressions(node):
            found = raw.find(OPEN + expression.source, cursor)
            offset = cursor if found < 0 else found + len(OPEN)
            yield path, offset, expression
            cursor = offset + len(expression.source)
    elif isinstance(node, _List) and isinstance(raw, list):
        for i, (item, value) in enumerate(zip(node.items, raw, strict=False)):
            yield from _sites(item, value, (*path, i))
    elif isinstance(node, _Map) and isinstance(raw, dict):
        for (key, item), value in zip(node.items, raw.values(), strict=False):
            yield from _sites(item, value, (*path, key))


def _walk_expressions(node: _Node) -> Iterator[Expression]:
    if isinstance(node, _Whole):
        yield node.expression
    elif isinstance(node, _Interpolated):
        yield from (p for p in node.parts if isinstance(p, Expression))
    elif isinstance(node, _List):
        for item in node.items:
            yield from _walk_expressions(item)
    elif isinstance(node, _Map):
        for _, item in node.items:
            yield from _walk_expressions(item)


_Memo = dict[Expression, Any] | None


def _render(node: _Node, context: dict[str, Any], budget: Budget, memo: _Memo) -> Any:
    # looked up by type: a step's input is rendered at every step
    render = _RENDERERS.get(type(node))
    return node if render is None else render(node, context, budget, memo)


def _render_whole(node: _Whole, context: dict[str, Any], budget: Budget, memo: _Memo) -> Any:
    return execute(node.expression, context, budget, memo)


def _render_interpolated(
    node: _Interpolated, context: dict[str, Any], budget: Budget, memo: _Memo
) -> str:
    return "".join(
        p if isinstance(p, str) else _as_text(execute(p, context, budget, memo)) for p in node.parts
    )


def _render_list(node: _List, context: dict[str, Any], budget: Budget, memo: _Memo) -> list[Any]:
    return [_render(item, context, budget, memo) for item in node.items]


def _render_map(node: _Map, context: dict[str, Any], budget: Budget, memo: _Memo) -> dict[str, Any]:
    return {key: _render(item, context, budget, memo) for key, item in node.items}


_RENDERERS: dict[type, Any] = {
    _Whole: _render_whole,
    _Interpolated: _render_interpolated,
    _List: _render_list,
    _Map: _render_map,
}


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


class TemplateError(ExpressionSyntaxError):
    """An expression inside a template is bad; ``path`` is where in the value it sits."""

    def __init__(
        self, error: ExpressionSyntaxError, path: tuple[str | int, ...], string_offset: int
    ) -> None:
        super().__init__(error.message, error.offset, error.hint)
        self.path = path
        self.string_offset = string_offset


def compile_template(value: Any) -> tuple[Template, list[TemplateError]]:
    """Compile every expression in a JSON-like value.

    Returns the template and the errors found (all of them, not just the first); the
    template is only usable when the error list is empty.
    """
    errors: list[TemplateError] = []
    node = _compile_node(value, (), errors)
    return Template(value, node), errors


def _compile_node(value: Any, path: tuple[str | int, ...], errors: list[TemplateError]) -> _Node:
    if isinstance(value, str):
        return _compile_string(value, path, errors) if OPEN in value else value
    if isinstance(value, list):
        return _List(tuple(_compile_node(v, (*path, i), errors) for i, v in enumerate(value)))
    if isinstance(value, dict):
        return _Map(
            tuple((str(k), _compile_node(v, (*path, str(k)), errors)) for k, v in value.items())
        )
    return value


def _compile_string(text: str, path: tuple[str | int, ...], errors: list[TemplateError]) -> _Node:
    try:
        pieces = split_template(text)
    except ExpressionSyntaxError as exc:
        errors.append(TemplateError(exc, path, exc.offset))
        return text
    parts: list[str | Expression] = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        offset, source = piece
        try:
            parts.append(compile_expression(source))
        except ExpressionSyntaxError as exc:
            errors.append(TemplateError(exc, path, offset + exc.offset))
            return text
    if len(parts) == 1 and isinstance(parts[0], Expression) and _is_whole(text):
        return _Whole(parts[0])
    return _Interpolated(tuple(parts))


def _is_whole(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith(OPEN) and stripped.endswith(CLOSE)
