"""The README's two set-up commands: present, and the test one is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, re.S)


def test_the_readme_has_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "wfkit run" in main_job and "pip install" in main_job
    assert "pytest" in tests and "'.[dev]'" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _setup_commands()[1] in ci.splitlines()


def test_the_main_job_names_an_existing_example() -> None:
    main_job = _setup_commands()[0]
    name = re.search(r"wfkit run ([\w-]+)", main_job)
    assert name is not None
    assert (ROOT / "definitions" / f"{name.group(1)}.yaml").is_file()
