"""A refused start input reads as a line per problem, each naming its input: in Python
(a notebook's traceback shows the message as it is) and on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wfkit
from wfkit import InstanceNotFound, InvalidInput

ORDERS = """\
wfkit: 1
name: orders
inputs:
  region: {type: string, enum: [eu, us], default: eu}
  tax_rate: {type: number, minimum: 0, maximum: 1, default: 0.2}
  months: {type: array, items: {type: string}, description: months to total}
steps:
  total: {call: "json:dumps", with: {obj: "${{ inputs.months }}"}}
"""

EXPECTED = """\
invalid input for workflow 'orders':
  unknown input 'taxrate' (did you mean 'tax_rate'?)
  input 'region': "asia" is not one of "eu" or "us"
  input 'tax_rate': 2 is greater than the maximum of 1
  input 'months' is required (array: months to total)"""


@pytest.fixture
def defs(tmp_path: Path) -> Path:
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "orders.yaml").write_text(ORDERS)
    return folder


def test_each_problem_on_its_own_line(defs: Path, tmp_path: Path) -> None:
    with wfkit.open(defs, f"sqlite:///{tmp_path / 'in.db'}") as rt:
        with pytest.raises(InvalidInput) as caught:
            rt.start("orders", instance_id="o-1", region="asia", tax_rate=2, taxrate=0.1)
        assert str(caught.value) == EXPECTED
        assert caught.value.problems == [line.strip() for line in EXPECTED.splitlines()[1:]]
        with pytest.raises(InstanceNotFound):
            rt.instance("o-1")  # nothing was stored
        with pytest.raises(InvalidInput) as one:
            rt.start("orders", months=["jan"], tax_rate=-1)
        assert str(one.value) == (
            "invalid input for workflow 'orders':\n  input 'tax_rate': -1 is less than the minimum of 0"
        )


def test_the_command_line_shows_the_same_lines(defs: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "WFKIT_DEFINITIONS": str(defs),
        "WFKIT_STORE": f"sqlite:///{tmp_path / 'c.db'}",
    }
    args = ["-i", "region=asia", "-i", "tax_rate=2", "-i", "taxrate=0.1"]
    done = subprocess.run(
        [sys.executable, "-m", "wfkit", "start", "orders", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == f"wfkit start: {EXPECTED}\n"


COUNTS = """\
wfkit: 1
name: counts
inputs:
  n: {type: integer}
  sizes: {type: array, items: {type: integer}, default: [1.0, 2]}
  grid: {type: array, items: {type: array, items: {type: integer}}, default: [[1.0], [2]]}
  ratio: {type: number, default: 2.0}
steps:
  echo: {call: "json:dumps", with: {obj: "${{ inputs }}"}}
output: ${{ steps.echo.output }}
"""


def test_whole_numbers_given_for_integer_inputs_arrive_as_int(tmp_path: Path) -> None:
    """JSON Schema counts 5.0 as an integer; a step given it for range(n) must get 5."""
    from wfkit.engine.core.inputs import prepare_input
    from wfkit.graph import parse_definition

    definition = parse_definition(COUNTS, "counts.yaml")
    values = prepare_input(definition, {"n": 5.0})
    assert values == {"n": 5, "sizes": [1, 2], "grid": [[1], [2]], "ratio": 2.0}
    assert type(values["n"]) is int and type(values["sizes"][0]) is int
    assert type(values["grid"][0][0]) is int and type(values["ratio"]) is float
    with pytest.raises(InvalidInput, match="input 'n'"):
        prepare_input(definition, {"n": 5.5})
    # from the command line, -i n=5.0 reaches the step as 5
    (tmp_path / "counts.yaml").write_text(COUNTS)
    ran = subprocess.run(
        [sys.executable, "-m", "wfkit", "run", "counts", "-i", "n=5.0", "--json"],
        cwd=tmp_path,
        env={**os.environ, "WFKIT_DEFINITIONS": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    seen_by_the_step = json.loads(json.loads(ran.stdout)["output"])  # json.dumps(inputs)
    assert seen_by_the_step["n"] == 5 and type(seen_by_the_step["n"]) is int
