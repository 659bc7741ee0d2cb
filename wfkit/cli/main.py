"""The ``wfkit`` command: argument parsing and dispatch, wired to plain functions.

Human-readable output by default, ``--json`` for scripts. Exit codes: 0 success,
1 the input has problems or the operation failed, 2 wrong usage, 130 interrupted.
Modules are imported lazily so that the command starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from wfkit.cli import definitions, instances, running
from wfkit.cli.definitions import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, UsageError, print_problems
from wfkit.errors import DefinitionError, WfkitError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="wfkit",
        description="Declarative, durable, Jupyter-friendly workflows.",
        epilog="Settings come from flags or WFKIT_* environment variables: WFKIT_DEFINITIONS "
        "(folder), WFKIT_STORE (URL, default sqlite:///.wfkit/wfkit.db), WFKIT_WORKERS, "
        "WFKIT_DOT (graph renderer).",
    )
    parser.add_argument("--version", action="version", version=f"wfkit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    definitions.register(sub)
    running.register_run(sub)
    instances.register(sub)
    running.register_worker(sub)
    return parser


def _version() -> str:
    from wfkit import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except UsageError as exc:
        print(f"wfkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DefinitionError as exc:
        print_problems(exc.problems)
        return EXIT_PROBLEMS
    except WfkitError as exc:
        print(f"wfkit {args.command}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
