"""wfkit.engine.jsontext: orjson where it gives what the standard library gives."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfkit.engine import jsontext

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)  # fmt: skip


@given(JSON)
def test_dumps_and_loads_agree_with_the_standard_library(value: object) -> None:
    text = jsontext.dumps(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert jsontext.loads(text) == json.loads(text)


def test_what_orjson_refuses_falls_back_with_the_same_output() -> None:
    assert jsontext.dumps(2**100) == str(2**100)
    assert jsontext.loads(str(2**100)) == 2**100  # not a float
    assert jsontext.dumps({1: "a"}) == '{"1":"a"}'
    assert jsontext.dumps({"x": object()}, default=lambda o: "obj") == '{"x":"obj"}'
    assert jsontext.loads("1e400") == math.inf  # as json.loads reads it


def test_check_is_strict_and_dumps_is_not() -> None:
    with pytest.raises(ValueError):
        jsontext.check(float("nan"))
    with pytest.raises(TypeError):
        jsontext.check({"x": {1, 2}})
    assert jsontext.dumps([float("nan")]) == "[null]"  # documented: check values coming in
