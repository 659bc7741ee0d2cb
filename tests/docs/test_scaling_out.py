"""The commands of docs/concepts/scaling-out.md have the shapes the CLI accepts, and its
Python snippet calls names that exist (run for real by tests/cli/test_attach.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import wfkit
from wfkit.cli.main import build_parser

PAGE = Path(__file__).resolve().parents[2] / "docs" / "concepts" / "scaling-out.md"


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("wfkit ")]


def test_the_page_shows_every_lifecycle_command() -> None:
    shown = {argv[0] for argv in _commands()}
    wanted = {"worker", "start", "pause", "resume", "raise-event", "terminate", "retry", "purge"}
    assert wanted | {"run"} <= shown


@pytest.mark.parametrize("argv", _commands(), ids=lambda argv: " ".join(argv))
def test_each_command_of_the_page_parses(argv: list[str]) -> None:
    build_parser().parse_args([word.replace("ID", "some-id") for word in argv])


def test_the_notebook_snippet_uses_real_names() -> None:
    text = PAGE.read_text()
    assert "wfkit.open(store=" in text and "workers=0" in text
    assert callable(wfkit.open)
