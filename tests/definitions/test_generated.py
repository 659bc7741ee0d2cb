"""Generated inputs that are too big, too deep or too odd to keep as files.

Billion laughs, files over the size limit, nesting over the depth limit (and a legal
document just under it), empty and whitespace-only files, and small inputs that once
made the YAML reader or the duration parser raise something other than DefinitionError.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import wfkit
from wfkit.definition.source import MAX_BYTES, MAX_DEPTH, MAX_EXPANSION

HEAD = "wfkit: 1\nname: demo\nsteps:\n"


def _timed_error(call, *args) -> tuple[wfkit.DefinitionError, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    with pytest.raises(wfkit.DefinitionError) as info:
        call(*args)
    return info.value, time.perf_counter() - start


def _messages(error: wfkit.DefinitionError) -> str:
    return "\n".join(p.message for p in error.problems)


# -- aliases ---------------------------------------------------------------------------


def laughs(levels: int, width: int = 10) -> str:
    """A step whose with holds ``levels`` anchors, each aliasing the one before ``width``
    times: width**levels values once expanded."""
    lines = [HEAD, "  a:\n    call: pkg.mod:f\n    with:\n"]
    lines.append("      l0: &l0 [" + ", ".join(["lol"] * width) + "]\n")
    for i in range(1, levels):
        lines.append(f"      l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]\n")
    return "".join(lines)


def test_billion_laughs_stops_fast() -> None:
    error, elapsed = _timed_error(wfkit.parse_definition, laughs(9), "lol.yaml")
    assert elapsed < 1.0
    assert "alias" in _messages(error)
    (problem,) = error.problems
    assert problem.line >= 5 and problem.column > 1
    assert "billion laughs" in problem.hint


def test_billion_laughs_in_flow_style_stops_fast() -> None:
    text = "{wfkit: 1, name: demo, steps: {a: {call: 'pkg.mod:f', with: {"
    text += "l0: &l0 [x, x, x, x, x, x, x, x, x, x], "
    text += ", ".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 12))
    text += "}}}}"
    error, elapsed = _timed_error(wfkit.parse_definition, text)
    assert elapsed < 1.0
    assert "alias" in _messages(error)


def test_one_big_anchor_aliased_many_times_is_refused() -> None:
    """Quadratic blow-up: one anchor of many values, aliased over and over."""
    big = "[" + ", ".join(["x"] * 5000) + "]"
    aliases = ", ".join(["*big"] * (MAX_EXPANSION // 5000 + 2))
    text = (
        HEAD
        + f"  a:\n    call: pkg.mod:f\n    with:\n      big: &big {big}\n      many: [{aliases}]\n"
    )
    error, elapsed = _timed_error(wfkit.parse_definition, text)
    assert elapsed < 1.0
    assert "alias" in _messages(error)


def test_modest_aliases_still_load() -> None:
    definition = wfkit.parse_definition(laughs(3))  # 1,000 values: fine
    with_ = definition.steps["a"].with_
    assert with_ is not None
    assert len(with_.raw["l2"]) == 10 and with_.raw["l2"][9][9] == ["lol"] * 10


# -- size ------------------------------------------------------------------------------


def test_file_over_max_bytes_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    filler = "# " + "x" * 1021 + "\n"  # 1 KiB comment lines: valid YAML if it were read
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD + "  a: {call: pkg.mod:f}\n")
        out.write(filler * (MAX_BYTES // len(filler) + 1))
    assert path.stat().st_size > MAX_BYTES
    error, elapsed = _timed_error(wfkit.load_definition, path)
    assert elapsed < 1.0
    (problem,) = error.problems
    assert problem.path == str(path)
    assert "too large" in problem.message
    # and through a catalog too
    error, elapsed = _timed_error(wfkit.load_catalog, tmp_path)
    assert elapsed < 1.0 and "too large" in _messages(error)


def test_text_over_max_bytes_is_refused_fast() -> None:
    text = HEAD + "  a: {call: pkg.mod:f}\n" + "#" * MAX_BYTES
    error, elapsed = _timed_error(wfkit.parse_definition, text)
    assert elapsed < 1.0
    assert "too large" in _messages(error)


# -- depth -----------------------------------------------------------------------------


def _flow_nested(depth: int) -> str:
    """A document whose deepest value is ``depth`` levels below the root mapping."""
    # root(0) -> steps(1) -> a(2) -> with(3) -> x(4) -> lists...
    inner = depth - 4
    return (
        HEAD + "  a:\n    call: pkg.mod:f\n    with:\n      x: " + "[" * inner + "]" * inner + "\n"
    )


def _block_nested(depth: int) -> str:
    lines = [HEAD, "  a:\n    call: pkg.mod:f\n    with:\n"]
    indent = 6
    for level in range(4, depth):
        lines.append(" " * indent + f"k{level}:\n")
        indent += 2
    lines.append(" " * indent + "k: leaf\n")
    return "".join(lines)


@pytest.mark.parametrize("build", [_flow_nested, _block_nested], ids=["flow", "block"])
def test_nesting_over_max_depth_is_refused(build) -> None:  # type: ignore[no-untyped-def]
    error, elapsed = _timed_error(wfkit.parse_definition, build(MAX_DEPTH + 5))
    assert elapsed < 1.0
    assert f"more than {MAX_DEPTH} levels" in _messages(error)


@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_absurd_nesting_is_refused_without_recursion_error(opening: str) -> None:
    error, elapsed = _timed_error(wfkit.parse_definition, opening * 50_000 + "x")
    assert elapsed < 1.0
    assert error.problems


def test_sixty_levels_deep_is_legal() -> None:
    assert MAX_DEPTH >= 60
    definition = wfkit.parse_definition(_block_nested(60))
    with_ = definition.steps["a"].with_
    assert with_ is not None
    node = with_.raw
    for level in range(4, 60):
        node = node[f"k{level}"]
    assert node == {"k": "leaf"}
    flow = wfkit.parse_definition(_flow_nested(60)).steps["a"].with_
    assert flow is not None


# -- empty files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n", b"   \n  \n", b"\xef\xbb\xbf", b"# only a comment\n"],
    ids=["empty", "newlines", "spaces", "bom-only", "comment"],
)
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(content)
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.load_definition(path)
    (problem,) = info.value.problems
    assert (problem.path, problem.line, problem.column) == (str(path), 1, 1)
    assert "empty" in problem.message and "wfkit: 1" in problem.hint


def test_utf16_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_bytes((HEAD + "  a: {call: pkg.mod:f}\n").encode("utf-16"))
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.load_definition(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (1, 1) and "UTF-8" in problem.message


def test_missing_file_is_a_problem_not_an_oserror(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.load_definition(path)
    (problem,) = info.value.problems
    assert problem.path == str(path) and "cannot read" in problem.message


# -- positions -------------------------------------------------------------------------

ONE_LINE = "{wfkit: 1, name: demo, steps: {a: {call: 'pkg.mod:f', with: {x: '${{ nope }}'}}}}\n"


def test_byte_order_mark_does_not_shift_columns_on_line_one() -> None:
    """Columns count characters after the BOM, as editors show them, on every line."""
    with pytest.raises(wfkit.DefinitionError) as plain:
        wfkit.parse_definition(ONE_LINE)
    with pytest.raises(wfkit.DefinitionError) as marked:
        wfkit.parse_definition("\ufeff" + ONE_LINE)
    ((line, column),) = [(p.line, p.column) for p in plain.value.problems]
    assert (line, column) == (1, ONE_LINE.index("nope") + 1)
    assert [(p.line, p.column) for p in marked.value.problems] == [(line, column)]


def test_null_key_is_not_a_step_named_none() -> None:
    """`~:` is a null key; it must not silently become a step called 'None'."""
    text = HEAD + "  ~: {call: pkg.mod:f}\n  b: {call: pkg.mod:g, needs: [None]}\n"
    with pytest.raises(wfkit.DefinitionError) as info:
        wfkit.parse_definition(text)
    assert any((p.line, p.column) == (4, 3) for p in info.value.problems), info.value


# -- inputs that must give a DefinitionError, never another exception -----------------

ODD_SCALARS = {
    "hex-without-digits": "0x_",
    "octal-without-digits": "-0o_",
    "dot-underscore": "._",
    "sign-dot": "-.",
    "sign-dot-exponent": "+.e5",
    "int-too-big-for-float": "9" * 400,
    "int-over-4300-digits": "9" * 5000,
    "tagged-int-over-4300-digits": "!!int " + "9" * 5000,
    "float-overflow": "1e99999",
}


@pytest.mark.parametrize("key", ["timeout", "sleep-step", "retry-interval", "description"])
@pytest.mark.parametrize("scalar", list(ODD_SCALARS.values()), ids=list(ODD_SCALARS))
def test_odd_scalar_never_crashes(scalar: str, key: str) -> None:
    """Returns a definition or raises DefinitionError (pointing at the scalar's line 6)."""
    texts = {
        "timeout": HEAD + f"  a:\n    call: pkg.mod:f\n    timeout: {scalar}\n",
        "sleep-step": HEAD + f"  a:\n    description: nap\n    sleep: {scalar}\n",
        "retry-interval": HEAD
        + f"  a:\n    call: pkg.mod:f\n    retry: {{initial_interval: {scalar}}}\n",
        "description": HEAD + f"  a:\n    call: pkg.mod:f\n    description: {scalar}\n",
    }
    try:
        wfkit.parse_definition(texts[key])
    except wfkit.DefinitionError as exc:
        assert all(p.line == 6 for p in exc.problems), exc


def test_non_finite_numbers_are_reported_as_written() -> None:
    """JSON has no infinity: the problem must show the value written, not 'null'."""
    for written in (".inf", "-.inf", ".nan", "1e99999"):
        text = HEAD + f"  a:\n    call: pkg.mod:f\n    timeout: {written}\n"
        with pytest.raises(wfkit.DefinitionError) as info:
            wfkit.parse_definition(text)
        messages = _messages(info.value)
        assert "null" not in messages and "empty" not in messages, messages
