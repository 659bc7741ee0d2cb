"""Reading the definition corpus: the files and the expectations written in their headers.

A bad file starts with comment lines::

    # expect: 7:5 unknown step 'chek' in needs     (LINE:COL, then a message substring)
    # hint: did you mean                            (optional: a hint substring)
    # schema: accept                                (or reject: the JSON Schema alone)

Several ``# expect:`` lines mean several problems, all of which must be reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import wfkit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BAD_DIR = HERE / "bad"
GOOD_DIR = HERE / "good"
CATALOG_DIR = HERE / "catalogs"

BAD_FILES = sorted(BAD_DIR.glob("*.yaml"))
GOOD_FILES = sorted(GOOD_DIR.glob("*.yaml"))
REPO_DEFINITIONS = sorted((REPO / "definitions").glob("*.yaml"))
CATALOG_CASES = sorted(p for p in CATALOG_DIR.iterdir() if p.is_dir())

_EXPECT = re.compile(r"^#\s*expect:\s*(\d+):(\d+)\s+(.+?)\s*$")
_HINT = re.compile(r"^#\s*hint:\s*(.+?)\s*$")
_SCHEMA = re.compile(r"^#\s*schema:\s*(accept|reject)\s*$")


@dataclass(frozen=True)
class Expect:
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.message!r}"


@dataclass
class Header:
    expects: list[Expect] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    schema: str | None = None


def read_header(path: Path) -> Header:
    """The expectations in the leading comment lines of ``path``."""
    text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    header = Header()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break
        if m := _EXPECT.match(line):
            header.expects.append(Expect(int(m[1]), int(m[2]), m[3]))
        elif m := _HINT.match(line):
            header.hints.append(m[1])
        elif m := _SCHEMA.match(line):
            header.schema = m[1]
    return header


def describe(problems: list[wfkit.Problem]) -> str:
    """Problems one per line, for assertion messages."""
    return (
        "\n".join(f"  {p.line}:{p.column} {p.message!r} (hint {p.hint!r})" for p in problems)
        or "  (none)"
    )


def matching(problems: list[wfkit.Problem], expect: Expect) -> list[wfkit.Problem]:
    """Problems at exactly the expected place whose message contains the expected text."""
    return [
        p
        for p in problems
        if p.line == expect.line and p.column == expect.column and expect.message in p.message
    ]


def check_problems(path: Path, header: Header, problems: list[wfkit.Problem]) -> None:
    """Assert that every expectation of ``header`` is met by ``problems``."""
    missing = [e for e in header.expects if not matching(problems, e)]
    assert not missing, (
        f"{path.name}: expected problems not reported:\n"
        + "\n".join(f"  {e}" for e in missing)
        + f"\nreported:\n{describe(problems)}"
    )
    matched = [p for e in header.expects for p in matching(problems, e)]
    for hint in header.hints:
        assert any(hint in p.hint for p in matched), (
            f"{path.name}: no expected problem has a hint containing {hint!r}:\n{describe(matched)}"
        )
