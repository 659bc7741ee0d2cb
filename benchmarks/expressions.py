"""The worst evaluation the expression budget accepts: how long it holds the GIL.

For each costly shape, the input grows until the cost estimate is just under the default
budget; the table shows that input's size, the estimate and the evaluation's time (best
of three), and the same shape one step over the budget, which is refused at once.
Run: ``python benchmarks/expressions.py``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from _common import table

from wfkit.definition.cel_cost import DEFAULT_BUDGET, estimate
from wfkit.definition.expressions import compile_expression
from wfkit.errors import ExpressionBudgetExceeded

SHAPES = [
    "size(inputs.big.map(x, x))",
    "size(inputs.big.map(x, inputs.big.map(y, inputs.big)))",
    "size(inputs.rows.map(r, r))",
    "size(inputs.rows.map(r, {'a': r, 'b': r}))",
    "inputs.rows.map(r, r.cols.map(c, c * 2))",
    "inputs.big.exists(x, size(inputs.big.map(y, y)) < 0)",
    "size(inputs.rows.filter(r, r.ok))",
    "inputs.big.all(x, inputs.big.all(y, y >= 0))",
]


def context(n: int) -> dict[str, Any]:
    rows = [{"ok": i % 2 == 0, "id": i, "cols": list(range(10))} for i in range(n)]
    return {"inputs": {"big": list(range(n)), "rows": rows}}


def largest(source: str) -> int:
    """The largest input size whose estimate is within the default budget."""
    tree = compile_expression(source).cost
    assert tree is not None
    low, high = 1, 2
    while estimate(tree.tree, context(high))[0] <= DEFAULT_BUDGET.cost:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if estimate(tree.tree, context(mid))[0] <= DEFAULT_BUDGET.cost:
            low = mid
        else:
            high = mid
    return low


def seconds(source: str, n: int) -> float:
    expression = compile_expression(source)
    data = context(n)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with contextlib.suppress(ExpressionBudgetExceeded):
            expression.evaluate(data)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    rows = []
    for source in SHAPES:
        n = largest(source)
        expression = compile_expression(source)
        assert expression.cost is not None
        cost = estimate(expression.cost.tree, context(n))[0]
        rows.append(
            [
                source,
                n,
                f"{cost:,}",
                f"{seconds(source, n) * 1e3:.1f}",
                f"{seconds(source, n + 1) * 1e3:.2f}",
            ]
        )
    print(f"default budget: {DEFAULT_BUDGET.cost:,} units")
    print(table(["expression", "items", "estimate", "accepted ms", "refused ms"], rows))


if __name__ == "__main__":
    main()
