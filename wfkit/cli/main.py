"""The ``wfkit`` command: argument parsing and dispatch, wired to plain functions.

Human-readable output by default, ``--json`` for scripts (an error then also prints
``{"error": {"type": ..., "message": ...}}`` on stdout). Exit codes: 0 success, 1 the
input has problems or the operation failed, 2 wrong usage, 130 interrupted by Ctrl-C;
``wfkit run`` also exits 3 when Ctrl-C left its instance paused, 4 when the instance has
not ended after ``--timeout`` seconds (it stays in the store as it is, for a worker to
carry on), 5 when the store kept failing (a full disk...) for ``store_outage_timeout``
seconds (60 by default; nothing recorded is lost) and 143 after SIGTERM; Ctrl-C or
SIGTERM stop ``wfkit worker`` with 0 (a worker keeps trying a failing store).
Modules are imported lazily so that the command starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from wfkit.cli import definitions, instances, running, serving, store_cmds
from wfkit.cli.definitions import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, UsageError, print_problems
from wfkit.errors import DefinitionError, InstanceAlreadyExists, WfkitError

__all__ = ["build_parser", "main"]

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), except where a command says otherwise."""


class _BadArguments(Exception):
    """argparse found the command line wrong; ``main`` reports it (exit code 2)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises its errors for :func:`main` to report, instead
    of printing them and exiting: with ``--json`` they go to stdout as JSON too. Its
    subcommand parsers are of this class as well."""

    def error(self, message: str) -> NoReturn:
        raise _BadArguments(self, message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
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
    store_cmds.register(sub)
    running.register_worker(sub)
    serving.register(sub)
    return parser


def _version() -> str:
    from wfkit import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(words)
    except _BadArguments as exc:
        exc.parser.print_usage(sys.stderr)
        print(f"{exc.parser.prog}: error: {exc.message}", file=sys.stderr)
        if _asks_for_json(words):
            _print_json_error("UsageError", exc.message)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
        return code
    except UsageError as exc:
        return _report(args, exc, EXIT_USAGE)
    except DefinitionError as exc:
        print_problems(exc.problems)
        if args.json:
            _print_json_error(type(exc).__name__, str(exc))
        return EXIT_PROBLEMS
    except WfkitError as exc:
        return _report(args, exc, EXIT_PROBLEMS)
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _asks_for_json(words: Sequence[str]) -> bool:
    """Whether the command line has ``--json`` among its options (before any ``--``)."""
    options = words[: words.index("--")] if "--" in words else words
    return "--json" in options


def _report(args: argparse.Namespace, exc: Exception, code: int) -> int:
    """Say why the command failed: on stderr for people, and with ``--json`` on stdout
    too, as JSON; returns the exit code ``code``."""
    message = error_message(exc)
    print(f"wfkit {args.command}: {message}", file=sys.stderr)
    if args.json:
        _print_json_error(type(exc).__name__, message)
    return code


def error_message(exc: Exception) -> str:
    """The message of an error as the command line says it: the error's own, with a
    hint about what to do where the command line knows one."""
    if isinstance(exc, InstanceAlreadyExists):
        return f"{exc}; terminate it first, or choose another --id"
    return str(exc)


def _print_json_error(kind: str, message: str) -> None:
    """``{"error": {"type": kind, "message": message}}`` on a line of stdout."""
    print(json.dumps({"error": {"type": kind, "message": message}}))
