"""The README: its two set-up commands (and that CI runs them verbatim), the system
packages its test command installs, and the examples it shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import system_packages  # noqa: E402


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _setup_commands() -> list[str]:
    section = _readme().split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, re.S)


def test_the_readme_has_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "wfkit run" in main_job and "pip install" in main_job
    assert "pytest" in tests and "'.[dev]'" in tests
    assert "tests/system_packages.py" in tests


@pytest.mark.parametrize("which", [0, 1], ids=["main job", "tests"])
def test_ci_runs_each_readme_command_verbatim(which: int) -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _setup_commands()[which] in [line.strip() for line in ci.splitlines()]


def test_ci_starts_from_no_virtual_environment() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    before_tests = ci.split(_setup_commands()[1], 1)[0]
    assert "rm -rf .venv" in before_tests
    assert "git clone" in before_tests  # the main job runs in a clean clone


def test_the_main_job_names_an_existing_example() -> None:
    main_job = _setup_commands()[0]
    name = re.search(r"wfkit run ([\w-]+)", main_job)
    assert name is not None
    assert (ROOT / "definitions" / f"{name.group(1)}.yaml").is_file()


def test_the_validate_example_is_what_wfkit_prints() -> None:
    shown = re.search(r"```text\n\$ (wfkit validate \S+)\n(.+?)```", _readme(), re.S)
    assert shown is not None
    command, expected = shown.groups()
    done = subprocess.run(
        [sys.executable, "-m", "wfkit", *command.split()[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    assert done.stdout + done.stderr == expected


def test_the_lab_extra_brings_jupyterlab_and_the_readme_says_how_to_open_the_tutorials() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lab = extras["optional-dependencies"]["lab"]
    assert "wfkit[jupyter]" in lab
    assert any(req.startswith("jupyterlab") for req in lab)
    assert "pip install -q -e '.[lab]' && .venv/bin/jupyter lab notebooks/" in _readme()


def test_system_packages_names_what_is_missing_and_how_apt_installs_it() -> None:
    present = system_packages.Need("here", lambda: True, "always")
    absent = system_packages.Need("nowhere-pkg", lambda: False, "never")
    assert system_packages.missing([present, absent]) == [absent]
    commands = system_packages.install_command(["nowhere-pkg"])
    if os.geteuid() == 0 and shutil.which("apt-get"):
        assert commands is not None
        assert commands[0][:2] == ["apt-get", "update"]
        assert commands[-1][:3] == ["apt-get", "install", "-y"]
        assert commands[-1][-1] == "nowhere-pkg"
    elif shutil.which("apt-get") is None:
        assert commands is None


def test_this_machine_has_every_system_package_the_tests_need() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "system_packages.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all present" in done.stdout
