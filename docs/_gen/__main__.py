"""``python -m docs._gen``: regenerate the generated documentation pages.

Run it from the repository root after changing the schema, the CLI, the public API,
the statuses, the contract or the notebooks::

    python -m docs._gen            # rewrite the pages under docs/
    python -m docs._gen --check    # exit 1 and list the pages that are out of date
    python -m docs._gen --out DIR  # write them under DIR instead (the tests do this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docs._gen import folders, render_all
from docs._gen._common import COMMAND, DOCS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="folder to write (default docs/)")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a page is out of date"
    )
    args = parser.parse_args(argv)
    pages = render_all()
    extra = _extra(args.out, pages)
    if args.check:
        stale = [
            path
            for path, text in pages.items()
            if not (args.out / path).is_file() or _read(args.out / path) != text
        ]
        for path in stale:
            print(f"out of date: docs/{path}", file=sys.stderr)
        for path in extra:
            print(f"no longer generated: docs/{path}", file=sys.stderr)
        if stale or extra:
            print(f"run `{COMMAND}` from the repository root", file=sys.stderr)
        return 1 if stale or extra else 0
    for path in extra:
        (args.out / path).unlink()
        print(f"removed docs/{path}" if args.out == DOCS else f"removed {args.out / path}")
    for path, text in pages.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or _read(target) != text:
            target.write_bytes(text.encode("utf-8"))
            print(f"wrote docs/{path}" if args.out == DOCS else f"wrote {target}")
    return 0


def _read(path: Path) -> str:
    """A file's text exactly: no newline translation, which would hide a ``\\r``."""
    return path.read_bytes().decode("utf-8")


def _extra(out: Path, pages: dict[str, str]) -> list[str]:
    """Files in the generated folders under ``out`` that no generator makes."""
    found = []
    for folder in folders():
        if (out / folder).is_dir():
            found += [
                path.relative_to(out).as_posix()
                for path in sorted((out / folder).rglob("*"))
                if path.is_file() and path.relative_to(out).as_posix() not in pages
            ]
    return found


if __name__ == "__main__":
    sys.exit(main())
