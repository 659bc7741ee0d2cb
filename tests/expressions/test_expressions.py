"""CEL expressions and templates: typing, interpolation, references, errors."""

from __future__ import annotations

import pytest

from wfkit.definition.expressions import ExpressionSyntaxError, compile_expression, scan_references
from wfkit.definition.templates import compile_template


def test_numbers_compare_as_people_expect() -> None:
    expr = compile_expression("steps.a.output.score >= inputs.threshold")
    context = {"steps": {"a": {"output": {"score": 1}}}, "inputs": {"threshold": 0.5}}
    assert expr.evaluate(context) is True
    assert compile_expression("1 > 0.5").evaluate({}) is True
    assert compile_expression("2 == 2.0").evaluate({}) is True


def test_whole_expression_keeps_its_type_and_embedded_ones_become_text() -> None:
    context = {"inputs": {"months": ["2026-01", "2026-02"], "n": 3}}
    whole, errors = compile_template("${{ inputs.months }}")
    assert not errors and whole.is_expression
    assert whole.render(context) == ["2026-01", "2026-02"]
    mixed, errors = compile_template({"msg": "n=${{ inputs.n }} of ${{ inputs.months }}"})
    assert not errors and not mixed.is_expression
    assert mixed.render(context) == {"msg": 'n=3 of ["2026-01","2026-02"]'}
    cities, errors = compile_template("to ${{ inputs.cities }}")  # text stays text, not \\u
    assert cities.render({"inputs": {"cities": ["Zürich", "Kraków"]}}) == 'to ["Zürich","Kraków"]'


def test_template_walks_lists_and_mappings_and_collects_step_ids() -> None:
    template, errors = compile_template(
        {"a": ["${{ steps.x.output }}", {"b": "${{ steps.y.status == 'completed' }}"}], "c": 1}
    )
    assert not errors
    assert template.steps == {"x", "y"}
    rendered = template.render({"steps": {"x": {"output": 5}, "y": {"status": "completed"}}})
    assert rendered == {"a": [5, {"b": True}], "c": 1}


@pytest.mark.parametrize(
    ("source", "roots", "steps"),
    [
        ("steps.train.output.score", {"steps"}, {"train"}),
        ("steps['train'].status == 'ok'", {"steps"}, {"train"}),
        ("size(inputs.months) > 2 && workflow.id != ''", {"inputs", "workflow"}, set()),
        ("inputs.xs.map(x, x * 2)", {"inputs"}, set()),
        ("inputs.xs.exists(m, m == item)", {"inputs", "item"}, set()),
        ("'steps.fake.output' + inputs.a", {"inputs"}, set()),
        ("has(steps.a.output.uri) ? steps.b.output : null", {"steps"}, {"a", "b"}),
        ("inputs.a // a comment mentioning steps.zzz.output\n + 1", {"inputs"}, set()),
    ],
)
def test_references_are_found_outside_strings_and_comments(
    source: str, roots: set[str], steps: set[str]
) -> None:
    expr = compile_expression(source)
    assert expr.roots == roots
    assert expr.steps == steps


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("steps", "steps must be followed by a step id"),
        ("steps[inputs.name].output", "steps must be followed by a step id"),
        ("steps.a", "steps.a must be followed by .output or .status"),
        ("steps.a.result", "steps.a must be followed by .output or .status"),
        ("1 +", "CEL syntax error"),
        ("a.b(", "CEL syntax error"),
        ("", "empty expression"),
        ("inputs.a # b", "token recognition error at: '#'"),
    ],
)
def test_bad_expressions_raise_with_an_offset(source: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression(source)
    assert message in info.value.message
    assert 0 <= info.value.offset <= len(source)


def test_syntax_error_offset_points_into_the_expression() -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression("inputs.a + + 1")
    assert info.value.offset == len("inputs.a + ")  # CEL has no unary plus


def test_unclosed_expression_in_a_template_is_reported_with_its_path() -> None:
    _, errors = compile_template({"x": ["ok", "value ${{ inputs.a "]})
    assert len(errors) == 1
    assert errors[0].path == ("x", 1)
    assert "not closed" in errors[0].message
    assert errors[0].string_offset == len("value ")


def test_closing_braces_inside_a_string_literal_do_not_end_the_expression() -> None:
    template, errors = compile_template("${{ inputs.a + '}}' }}")
    assert not errors
    assert template.render({"inputs": {"a": "x"}}) == "x}}"


def test_scan_references_keeps_offsets() -> None:
    refs = scan_references("inputs.a + steps.b.output")
    assert [(r.root, r.step, r.offset) for r in refs] == [
        ("inputs", None, 0),
        ("steps", "b", 11),
    ]


def test_bare_paths_skip_cel_but_behave_like_it() -> None:
    context = {"steps": {"a": {"output": {"rows": [1, 2], "n": 3}}}, "inputs": {"x": None}}
    rows = compile_expression("steps.a.output.rows")
    assert type(rows.program).__name__ == "_PathProgram"
    got = rows.evaluate(context)
    assert got == [1, 2]
    got.append(99)  # a copy, as CEL gives: the recorded output is not changed
    assert context["steps"]["a"]["output"]["rows"] == [1, 2]
    assert compile_expression(" inputs.x ").evaluate(context) is None
    with pytest.raises(KeyError):
        compile_expression("steps.a.output.missing").evaluate(context)
    with pytest.raises(KeyError):
        compile_expression("steps.a.output.n.deeper").evaluate(context)
    # anything else still goes through CEL, with the same results for paths
    cel_made = compile_expression("steps.a.output.rows + []")
    assert type(cel_made.program).__name__ != "_PathProgram"
    assert cel_made.evaluate(context) == [1, 2]
