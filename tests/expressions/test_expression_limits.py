"""Expression size limits: what passes validation can never crash the CEL interpreter.

The interpreter is Rust and recurses on its tree: a chain of about 12,500 operators
overflows its stack (SIGSEGV) when evaluated, 21,900 when compiled. Each shape is tried
at its limit (it must compile and evaluate, in a worker thread as the engine does) and
just past it (it must be refused with a positioned error), in a subprocess, so that a
crash shows as a failed test rather than a dead pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from wfkit.definition.cel_tree import MAX_DEPTH, MAX_LENGTH, MAX_NODES

_PROBE = textwrap.dedent(
    """
    import json, sys, threading
    from wfkit.definition.expressions import ExpressionSyntaxError, compile_expression
    source = sys.stdin.read()
    out = {}
    def run():
        try:
            out["value"] = compile_expression(source).evaluate({"inputs": {"a": [1]}})
        except ExpressionSyntaxError as exc:
            out["error"], out["offset"] = exc.message, exc.offset
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    print(json.dumps(out, default=str)[:300])
    """
)


def probe(source: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], input=source, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"the interpreter died ({done.returncode}): {done.stderr[-500:]}"
    return dict(json.loads(done.stdout))


def chain(n: int) -> str:
    return " + ".join(["1"] * n)


def parens(n: int) -> str:
    return "(" * n + "1" + ")" * n


def nested_lists(n: int) -> str:
    return "size(" + "[" * n + "]" * n + ")"


def nested_macros(n: int) -> str:
    return "size(" + "inputs.a.map(x, " * n + "1" + ")" * n + ")"


def macro_chain(n: int) -> str:
    return "size(inputs.a" + ".map(x, x)" * n + ")"


def unary(n: int) -> str:
    return "-" * n + "1"


def list_literal(n: int) -> str:
    return "size([" + ",".join(["1"] * n) + "])"


def map_literal(n: int) -> str:
    return "size({" + ",".join(f"{i}: 1" for i in range(n)) + "})"


def string_literal(n: int) -> str:
    return "size('" + "a" * (n - 8) + "')"  # the expression is n characters long


# (shape, the largest size that passes, what the refusal says)
LIMITS = [
    (chain, MAX_DEPTH, "nests too deep"),
    (parens, MAX_DEPTH, "nests too deep"),
    (nested_lists, MAX_DEPTH - 1, "nests too deep"),
    (nested_macros, (MAX_DEPTH - 2) // 3, "nests too deep"),
    (macro_chain, (MAX_DEPTH - 2) // 3, "nests too deep"),
    (unary, MAX_DEPTH - 1, "nests too deep"),
    (list_literal, MAX_NODES - 2, "too many parts"),
    (map_literal, (MAX_NODES - 2) // 2, "too many parts"),
    (string_literal, MAX_LENGTH, "too long"),
]


@pytest.mark.parametrize(
    ("shape", "limit", "refusal"), LIMITS, ids=[s.__name__ for s, *_ in LIMITS]
)
def test_an_expression_at_a_limit_evaluates_and_one_past_it_is_refused(
    shape: object, limit: int, refusal: str
) -> None:
    make = shape  # type: ignore[assignment]
    at = probe(make(limit))  # type: ignore[operator]
    assert "error" not in at, at
    past = probe(make(limit + 1))  # type: ignore[operator]
    assert refusal in str(past.get("error")), past


@pytest.mark.parametrize("terms", [20_000, 50_000])
def test_a_long_operator_chain_is_a_positioned_definition_error_not_a_crash(
    tmp_path: Path, terms: int
) -> None:
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "long.yaml").write_text(
        f'wfkit: 1\nname: long\nsteps:\n  a: {{sleep: 0}}\noutput: "${{{{ {chain(terms)} }}}}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "wfkit", "validate", "--definitions", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    said = done.stdout + done.stderr
    assert "long.yaml:5:" in said
    assert "expression is too long" in said
    assert "Traceback" not in said


def test_a_memo_keeps_what_reads_no_item_and_hands_out_copies() -> None:
    """``Template.render(memo=...)``: an expression that reads neither ``item`` nor
    ``index`` is evaluated once for all the renders given the same memo; each render
    gets its own copy, so a step that changes its input changes no other's."""
    from wfkit.definition.templates import compile_template

    template, problems = compile_template(
        {"all": "${{ inputs.rows.map(r, r * 2) }}", "x": "${{ item + 1 }}"}
    )
    assert not problems
    memo: dict[Any, Any] = {}
    first = template.render({"inputs": {"rows": [1, 2]}, "item": 1}, memo=memo)
    first["all"].append(99)
    # the data changed, the memo was kept: the value kept is given (the caller's promise)
    second = template.render({"inputs": {"rows": [5]}, "item": 2}, memo=memo)
    assert first == {"all": [2, 4, 99], "x": 2}
    assert second == {"all": [2, 4], "x": 3}
    assert template.render({"inputs": {"rows": [5]}, "item": 2}) == {"all": [10], "x": 3}
