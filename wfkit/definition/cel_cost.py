"""What an expression would cost to evaluate, judged before CEL runs it.

The CEL interpreter is Rust, holds the GIL for a whole evaluation and can be neither
interrupted nor given a cost limit. Its comprehension macros copy their accumulator on
every iteration, so ``list.map(x, body)`` costs about ``len(list)² × size(body)``, and
nested macros multiply: with 110 input items, ``inputs.big.map(x, inputs.big.map(y,
inputs.big))`` held the GIL for 14 s, long enough for every lease of the process to lapse.

So an expression with macros, ``+`` or method calls is first walked here with the data it
will see: the lists it ranges over are looked up in the context (``inputs.big``, a
macro's variable bound to that list's items), what is computed gets an upper bound, and
the estimate is compared to a budget (one unit is about one element copied, 25 to 50 ns
here). The result's size (its JSON characters) is bounded the same way, so that a string
or list built by repetition is refused before it is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from wfkit.definition.cel_tree import Node
from wfkit.errors import ExpressionBudgetExceeded

__all__ = ["DEFAULT_BUDGET", "Budget", "CostCheck", "cost_check", "estimate"]

#: Calls whose result is one scalar, whatever their arguments.
_SCALAR_CALLS = frozenset(
    {
        "size", "has", "int", "uint", "double", "bool", "type", "contains", "startsWith",
        "endsWith", "matches", "exists", "all", "exists_one", "duration", "timestamp",
        "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek",
        "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Budget:
    """How much one evaluation may cost (``cost``, in units of about one element copied)
    and how big its result may be (``result_chars``, characters of its JSON text)."""

    cost: int = 5_000_000
    result_chars: int = 10_000_000


DEFAULT_BUDGET = Budget()


@dataclass(frozen=True)
class CostCheck:
    """The cost check of one expression: its tree, how many nodes it has and whether it
    has a comprehension macro (the only way its cost can grow faster than its data)."""

    tree: Node
    nodes: int
    macros: bool

    def check(self, context: Mapping[str, Any], budget: Budget, source: str) -> None:
        """Raise :class:`ExpressionBudgetExceeded` when evaluating the expression with
        ``context`` would cost more than ``budget`` allows, or give a bigger result."""
        if not self.macros:
            # without macros each node makes at most a copy of the data it reads: when
            # that bound is within the budget, the exact walk is not needed
            bound = self.nodes * (_chars(dict(context)) + 8)
            if bound <= budget.cost and bound <= budget.result_chars:
                return
        cost, chars = estimate(self.tree, context)
        if cost > budget.cost:
            raise ExpressionBudgetExceeded(source, "cost", cost, budget.cost)
        if chars > budget.result_chars:
            raise ExpressionBudgetExceeded(source, "result", chars, budget.result_chars)


def cost_check(tree: Node) -> CostCheck | None:
    """The cost check ``tree`` needs, or None when its cost is bounded by its data's size
    anyway: it has no macro, ``+`` or call (comparisons, logic, arithmetic on numbers and
    field reads only)."""
    stack = [tree]
    nodes = 0
    costly = macros = False
    while stack:
        node = stack.pop()
        nodes += 1
        macros = macros or node.kind == "macro"
        if (
            node.kind in ("macro", "method")
            or (node.kind == "binary" and node.text == "+")
            or (node.kind == "call" and node.text not in _SCALAR_CALLS)
        ):
            costly = True
        stack.extend(node.kids)
    return CostCheck(tree, nodes, macros) if costly else None


def estimate(tree: Node, context: Mapping[str, Any]) -> tuple[int, int]:
    """Upper bounds on the cost of evaluating ``tree`` with ``context`` and on the size
    of its result (characters of JSON)."""
    est = _Estimator(context).walk(tree, {})
    return est.cost + est.nodes, est.chars  # the result is converted to Python too


@dataclass(frozen=True)
class _Est:
    """Bounds on a value: ``values`` the values it may be when known (data read from the
    context), else None; ``count`` its items, ``nodes`` its JSON nodes, ``chars`` its
    JSON characters (each the most of any of the values); ``cost`` the work to make it;
    ``item`` bounds on one of its items, when better known than "at most the whole"."""

    values: tuple[Any, ...] | None
    count: int
    nodes: int
    chars: int
    cost: int
    item: _Est | None = None


_SCALAR = _Est(None, 0, 1, 8, 1)


def _known(values: Iterable[Any], cost: int = 1) -> _Est:
    found = tuple(values)
    count = nodes = chars = 0
    for value in found:
        size = _chars(value)
        chars = max(chars, size)
        if isinstance(value, list | dict):
            count = max(count, len(value))
            nodes = max(nodes, size // 2 + 1)  # every JSON node takes two characters or more
        else:
            nodes = max(nodes, 1)
    return _Est(found, count, nodes, chars, cost)


def _item_of(est: _Est, keys: bool = False) -> _Est:
    """Bounds on one item of ``est`` (a map's keys when ``keys``, else its values)."""
    if est.values is not None:
        found: list[Any] = []
        for value in est.values:
            if isinstance(value, list):
                found.extend(value)
            elif isinstance(value, dict):
                found.extend(value if keys else value.values())
        return _known(found)
    if est.item is not None:
        return est.item
    return _Est(None, est.nodes, est.nodes, est.chars, 1)


def _chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value) + 2
    if not isinstance(value, list | dict):
        return 8
    try:
        return len(orjson.dumps(value))
    except TypeError:  # integers beyond 64 bits, very deep data: a plain walk
        return sum(_chars(v) + 1 for v in (value.values() if isinstance(value, dict) else value))


def _merge(ests: list[_Est], cost: int = 1) -> _Est | None:
    """Bounds on a value that is any one of ``ests`` (None when there are none)."""
    if not ests:
        return None
    values = None
    if all(e.values is not None for e in ests):
        values = tuple(v for e in ests for v in e.values or ())
    return _Est(
        values,
        max(e.count for e in ests),
        max(e.nodes for e in ests),
        max(e.chars for e in ests),
        cost,
    )


def _unknown(count: int, nodes: int, chars: int, cost: int, item: _Est | None = None) -> _Est:
    return _Est(None, count, nodes, chars, cost, item)


class _Estimator:
    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context

    def walk(self, node: Node, bound: dict[str, _Est]) -> _Est:
        kids = [] if node.kind == "macro" else [self.walk(k, bound) for k in node.kids]
        return getattr(self, f"_{node.kind}")(node, kids, bound)  # type: ignore[no-any-return]

    def _lit(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        chars = len(node.text) if node.text[-1:] in ("'", '"') else 8
        return _Est(None, 0, 1, chars, 1)

    def _ident(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        if node.text in bound:
            return bound[node.text]
        if node.text in self.context:
            return _known((self.context[node.text],))
        return _SCALAR

    def _select(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        (of,) = kids
        if of.values is None:
            return _unknown(of.count, of.nodes, of.chars, of.cost)
        field = node.text
        return _known((v[field] for v in of.values if isinstance(v, dict) and field in v), of.cost)

    def _index(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        of, key = kids
        return _with_cost(_item_of(of), of.cost + key.cost)  # any item the index may pick

    def _list(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        return _sum(kids, len(kids), _merge(kids))

    def _map(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        return _sum(kids, len(kids) // 2, _merge(kids[1::2]))

    def _unary(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        return _with_cost(_SCALAR, kids[0].cost + 1)

    def _binary(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        if node.text == "+":
            return _sum(kids, sum(k.count for k in kids), _merge([_item_of(k) for k in kids]))
        return _with_cost(_SCALAR, sum(k.cost + k.nodes for k in kids))

    def _cond(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        test, yes, no = kids
        return _unknown(
            max(yes.count, no.count),
            max(yes.nodes, no.nodes),
            max(yes.chars, no.chars),
            test.cost + yes.cost + no.cost,
        )

    def _call(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        cost = sum(k.cost + k.nodes for k in kids) + 1
        if node.text in _SCALAR_CALLS:
            return _with_cost(_SCALAR, cost)
        if node.text == "dyn" and len(kids) == 1:
            return kids[0]
        chars = sum(k.chars for k in kids)  # string(x), or a function wfkit does not know
        return _unknown(chars, chars, chars, cost)

    def _method(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        if node.text == "replace" and len(kids) >= 3:
            chars = kids[0].chars * max(1, kids[2].chars)  # every character may be replaced
            return _unknown(0, 1, chars, kids[0].cost + kids[0].chars + chars)
        return self._call(node, kids, bound)

    def _macro(self, node: Node, kids: list[_Est], bound: dict[str, _Est]) -> _Est:
        target = self.walk(node.kids[0], bound)
        item = _item_of(target, keys=True)
        rounds = max(target.count, 1)
        inner = {**bound, node.var: item}
        bodies = [self.walk(k, inner) for k in node.kids[1:]]
        body = bodies[-1]
        each = sum(b.cost for b in bodies)
        cost = target.cost + rounds * each
        if node.text == "map":
            # each round copies the accumulator: rounds² × the size of one result
            cost += rounds * rounds * body.nodes
            nodes = rounds * body.nodes + 1
            return _unknown(rounds, nodes, rounds * (body.chars + 1) + 2, cost, body)
        if node.text == "filter":
            cost += rounds * rounds * item.nodes
            return _unknown(rounds, target.nodes, target.chars, cost, item)
        return _with_cost(_SCALAR, cost + rounds)


def _with_cost(est: _Est, cost: int) -> _Est:
    return _Est(est.values, est.count, est.nodes, est.chars, cost)


def _sum(kids: list[_Est], count: int, item: _Est | None) -> _Est:
    nodes = sum(k.nodes for k in kids) + 1
    chars = sum(k.chars + 1 for k in kids) + 2
    return _unknown(count, nodes, chars, sum(k.cost for k in kids) + nodes, item)
