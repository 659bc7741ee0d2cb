"""wfkit.common.jsontext: orjson where it gives what the standard library gives."""

from __future__ import annotations

import datetime
import json
import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfkit.common import jsontext

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


@given(JSON)
def test_checked_copy_gives_what_the_strict_encoder_and_a_read_give(value: object) -> None:
    text, copy = jsontext.checked_copy(value)
    assert json.loads(text) == json.loads(jsontext.check(value))
    assert copy == json.loads(jsontext.check(value))


def test_checked_copy_is_a_fresh_copy_in_json_types() -> None:
    inner = {"rows": [1, 2]}
    value = {"a": inner, "t": (1, 2), 3: "k", "big": 2**70}
    text, copy = jsontext.checked_copy(value)
    assert copy == {"a": {"rows": [1, 2]}, "t": [1, 2], "3": "k", "big": 2**70}
    assert json.loads(text) == copy
    inner["rows"].append(3)  # the step changes what it returned: the copy does not move
    assert copy["a"] == {"rows": [1, 2]}
    deep: list[object] = []
    for _ in range(300):  # deeper than orjson goes
        deep = [deep]
    assert jsontext.checked_copy(deep)[1] == json.loads(json.dumps(deep))


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        {"x": [1.0, float("inf")]},
        {"x": {1, 2}},
        {"when": datetime.date(2024, 1, 1)},  # orjson writes dates
        uuid.UUID(int=1),  # and UUIDs; the standard library does not
    ],
)
def test_checked_copy_refuses_what_check_refuses(value: object) -> None:
    with pytest.raises((TypeError, ValueError)) as strict:
        jsontext.check(value)
    with pytest.raises(strict.type):
        jsontext.checked_copy(value)


def test_checked_copy_of_a_circular_value_raises_like_check() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="ircular"):
        jsontext.checked_copy(loop)
