"""The curl examples of docs/guides/serve.md, run as written against a real server over
the definitions they show, with the answers they show."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from tests.server.conftest import Served

PAGE = Path(__file__).parents[2] / "docs" / "guides" / "serve.md"
DOC_SERVER = "http://127.0.0.1:3500"


def _examples() -> list[tuple[str, str]]:
    """Each ``$ command`` of the page's console blocks, with the output shown under it."""
    blocks = re.findall(r"```console\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    examples: list[tuple[str, str]] = []
    for block in blocks:
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = part.partition("\n")
            examples.append((command, output))
    return examples


def _pattern(output: str) -> re.Pattern[str]:
    """The shown output as a pattern: ``…`` on a line of its own stands for any lines,
    inside a line for any text."""
    parts = []
    for line in output.splitlines():
        if line.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(map(re.escape, line.split("…"))) + r"\n")
    return re.compile("".join(parts))


def test_the_page_has_an_example_of_every_route() -> None:
    commands = " ".join(command for command, _ in _examples())
    for route in ("/start", "/raiseEvent/", "/pause", "/resume", "/terminate", "/purge"):
        assert route in commands, route
    assert any(" -X " not in command for command, _ in _examples())  # a GET


def test_the_curl_examples_answer_as_shown(served: Served) -> None:
    examples = _examples()
    assert len(examples) >= 15
    for command, output in examples:
        real = command.replace(DOC_SERVER, served.url)
        expected = _pattern(output)
        retried = " -X POST " not in command  # a GET: the instance may not be there yet
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(
                ["bash", "-c", real], capture_output=True, text=True, timeout=60, check=False
            )
            # a body without a final newline is shown as if the prompt came after it
            shown = done.stdout if done.stdout.endswith("\n") else done.stdout + "\n"
            if expected.fullmatch(shown) or not retried or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert done.returncode == 0, (command, done.stderr)
        assert expected.fullmatch(shown), f"$ {command}\n{done.stdout}"
