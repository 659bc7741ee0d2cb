"""Evaluation is bounded: input data alone cannot make an expression hold the GIL for long.

The CEL interpreter cannot be interrupted, so an evaluation whose estimated cost or
result size is over the budget is refused before it runs: that step (or the workflow's
output) fails with an ExpressionError naming the setting, and the process goes on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from wfkit.definition.cel_cost import Budget, estimate
from wfkit.definition.expressions import compile_expression
from wfkit.engine.core.status import RuntimeStatus
from wfkit.errors import ExpressionBudgetExceeded
from wfkit.runtime.api import Runtime
from wfkit.runtime.settings import Settings, SettingsError

NESTED = "size(inputs.big.map(x, inputs.big.map(y, inputs.big)))"

BIG = f"""
inputs:
  big: {{type: array}}
steps:
  heavy:
    call: "STEPS:echo"
    with: {{n: "${{{{ {NESTED} }}}}"}}
    on_error: continue
  after: {{call: "STEPS:echo", with: {{status: "${{{{ steps.heavy.status }}}}"}}}}
output: "${{{{ steps.after.output.status }}}}"
"""


def test_a_nested_comprehension_over_input_data_fails_its_step_not_the_process(env: Any) -> None:
    env.define("big", BIG)
    run = env.runtime().run("big", big=list(range(110)), timeout=30)
    heavy = run.steps["heavy"]
    assert heavy.status == "failed"
    assert heavy.error is not None
    assert heavy.error.type == "ExpressionError"
    assert "expression_budget" in heavy.error.message
    assert "it was not evaluated" in heavy.error.message
    assert run.status is RuntimeStatus.COMPLETED  # on_error: continue, and the rest ran
    assert run.output == "failed"


def test_the_same_expression_over_little_data_runs(env: Any) -> None:
    env.define("big", BIG)
    run = env.runtime().run("big", big=list(range(5)), timeout=30)
    assert run.steps["heavy"].output == {"n": 5}


def test_a_result_built_by_repetition_is_refused_before_it_is_built(env: Any) -> None:
    repeated = " + ".join(["inputs.s"] * 50)
    env.define(
        "grow",
        f"""
        inputs:
          s: {{type: string}}
        steps:
          a: {{sleep: 0}}
        output: "${{{{ {repeated} }}}}"
        """,
    )
    run = env.runtime().run("grow", s="x" * 250_000, timeout=30)
    assert run.status is RuntimeStatus.FAILED
    failure = run.failure
    assert failure is not None
    assert failure.type == "ExpressionError"
    assert "expression_max_result" in failure.message
    assert "12,50" in failure.message  # about 12.5 million characters


def test_the_budget_is_a_setting(env: Any) -> None:
    env.define("big", BIG)
    settings = Settings.from_properties(
        {"definitions": str(env.definitions), "store": env.store, "expression_budget": "50"}
    )
    runtime = Runtime(settings)
    env.runtimes.append(runtime)
    run = runtime.run("big", big=list(range(5)), timeout=30)
    assert run.steps["heavy"].status == "failed"
    error = run.steps["heavy"].error
    assert error is not None
    assert "over the budget of 50 " in error.message


def test_budget_settings_are_checked() -> None:
    assert Settings.from_properties({}).budget == Budget()
    assert Settings.from_environment({"WFKIT_EXPRESSION_MAX_RESULT": "1_000"}).budget == Budget(
        result_chars=1000
    )
    with pytest.raises(SettingsError, match="expression_budget must be a whole number"):
        Settings.from_properties({"expression_budget": "lots"})
    with pytest.raises(SettingsError, match="at least 1"):
        Settings.from_properties({"expression_max_result": "0"})


@pytest.mark.parametrize(
    "source",
    [
        "inputs.rows.filter(r, r.ok).map(r, r.id)",
        "inputs.rows.map(r, r.cols.map(c, c * 2))",
        "[inputs.rows, inputs.rows].map(l, l.map(x, [x, x]))",
        "inputs.rows.map(r, {'a': r, 'b': r})",
        "inputs.rows.exists(r, r.cols.exists(c, c < 0))",
        "inputs.rows[0].cols.map(c, 'n' + string(c))",
    ],
)
def test_the_estimate_bounds_the_real_work(source: str) -> None:
    """Counted while evaluating: the elements of every list CEL builds are at most the
    estimate (the accumulator of map and filter is copied each round, so a list of n
    items costs n²/2 element copies)."""
    rows = [{"ok": i % 2 == 0, "id": i, "cols": list(range(7))} for i in range(40)]
    context = {"inputs": {"rows": rows}}
    expression = compile_expression(source)
    assert expression.cost is not None
    cost, chars = estimate(expression.cost.tree, context)
    value = expression.evaluate(context)
    assert len(json.dumps(value, separators=(",", ":"))) <= chars
    assert _copies(value) <= cost


def _copies(value: Any) -> int:
    """Element copies to build ``value`` one item at a time, copying as CEL's map does."""
    if isinstance(value, list):
        n = len(value)
        return n * (n + 1) // 2 * max((_size(v) for v in value), default=1) + sum(
            _copies(v) for v in value
        )
    return 1


def _size(value: Any) -> int:
    if isinstance(value, list):
        return 1 + sum(_size(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(_size(v) for v in value.values())
    return 1


def test_an_expression_refused_names_itself_shortened() -> None:
    expression = compile_expression(NESTED)
    context = {"inputs": {"big": list(range(110))}}
    with pytest.raises(ExpressionBudgetExceeded) as info:
        expression.evaluate(context)
    assert info.value.measure == "cost"
    assert info.value.estimate > info.value.limit == Budget().cost
    assert str(info.value).startswith("${{ size(inputs.big.map(")
