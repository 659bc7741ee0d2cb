"""Install the system packages the tests need, when they are missing, and say what it does.

The README's test command runs this before pytest, so that a fresh Debian or Ubuntu
machine passes the whole suite with that one command. Python packages come from
``pyproject.toml``; what pip cannot install is listed in :data:`NEEDS`, each with the test
folder that needs it. Packages already present are left alone, so a second run does
nothing and says so.

    python tests/system_packages.py           # install what is missing (apt-get)
    python tests/system_packages.py --check   # only say what is missing; exit 1 if any

Installing needs root or password-less ``sudo``; otherwise the script prints the
``apt-get`` command to run and exits 1. Only the standard library is used, so it runs
before (or without) the project's virtual environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """A Debian package that some tests need, and how to tell that it is there."""

    package: str
    present: Callable[[], bool]
    why: str


def _executable(path: str) -> Callable[[], bool]:
    return lambda: os.access(path, os.X_OK)


def _on_path(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


NEEDS: tuple[Need, ...] = (
    Need(
        "chromium",
        _executable("/usr/bin/chromium"),
        "tests/browser drives Debian's headless chromium (Playwright, no browser download)",
    ),
    Need(
        "npm",
        _on_path("npm"),
        "tests/browser fetches the widget JavaScript (@jupyter-widgets/html-manager) once; "
        "tests/server installs the Dapr JavaScript SDK (@dapr/dapr) and runs it under Node.js "
        "(Debian's npm brings nodejs)",
    ),
)


def missing(needs: Sequence[Need] = NEEDS) -> list[Need]:
    """The needs whose package is not installed."""
    return [need for need in needs if not need.present()]


def install_command(packages: Sequence[str]) -> list[list[str]] | None:
    """The apt-get commands that install ``packages``, with ``sudo -n`` when not root;
    None when this machine cannot install them without help."""
    if shutil.which("apt-get") is None:
        return None
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None or subprocess.run([sudo, "-n", "true"], capture_output=True).returncode:
            return None
        prefix = [sudo, "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    return [
        [*prefix, "apt-get", "update", "-qq"],
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report what is missing")
    args = parser.parse_args(argv)
    lacking = missing()
    if not lacking:
        names = ", ".join(need.package for need in NEEDS)
        print(f"system packages for the tests: all present ({names})")
        return 0
    for need in lacking:
        print(f"system package {need.package!r} is missing: {need.why}")
    packages = [need.package for need in lacking]
    if args.check:
        return 1
    commands = install_command(packages)
    if commands is None:
        print(
            "cannot install them here (needs Debian's apt-get, as root or with sudo); run:\n"
            f"    sudo apt-get install -y {' '.join(packages)}",
            file=sys.stderr,
        )
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in commands:
        print("$ " + " ".join(command), flush=True)
        if subprocess.run(command, env=env).returncode:
            print(f"failed: {' '.join(command)}", file=sys.stderr)
            return 1
    still = missing()
    if still:
        names = ", ".join(n.package for n in still)
        print(f"installed, but still not found: {names}", file=sys.stderr)
        return 1
    print("system packages for the tests: installed " + ", ".join(packages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
