"""A refused start input reads as a line per problem, each naming its input: in Python
(a notebook's traceback shows the message as it is) and on the command line."""

from __future__ import annotations

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
