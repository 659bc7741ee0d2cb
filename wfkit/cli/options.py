"""What the instance commands share: settings and input flags, and the runtime they
open from them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wfkit.cli.definitions import UsageError

if TYPE_CHECKING:
    from wfkit.engine.protocols import Hook
    from wfkit.runtime.api import Runtime

__all__ = [
    "EXIT_SUSPENDED",
    "input_flags",
    "inputs",
    "json_or_text",
    "open_runtime",
    "settings_flags",
]

EXIT_SUSPENDED = 3
"""Exit status of ``wfkit run`` when the instance is left paused (or still running)."""


def settings_flags(
    parser: argparse.ArgumentParser, workers: bool = False, json_help: str = "print JSON"
) -> None:
    """``--definitions``, ``--store``, ``--json`` (and ``--workers``): the settings
    flags, with their ``$WFKIT_*`` variables."""
    parser.add_argument("--definitions", help="definitions folder ($WFKIT_DEFINITIONS)")
    parser.add_argument(
        "--store", help="store URL ($WFKIT_STORE; default sqlite:///.wfkit/wfkit.db)"
    )
    if workers:
        parser.add_argument("--workers", type=int, help="steps run at once here ($WFKIT_WORKERS)")
    parser.add_argument("--json", action="store_true", help=json_help)


def input_flags(parser: argparse.ArgumentParser) -> None:
    """``--input``, ``-i KEY=VALUE`` and ``--id``: what a start takes."""
    parser.add_argument("--input", help="the input as a JSON object")
    parser.add_argument(
        "-i",
        dest="inputs",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one input (VALUE is JSON, or text); repeatable",
    )
    parser.add_argument(
        "--id", dest="instance_id", default="", help="the instance id (default: a new uuid)"
    )


def inputs(args: argparse.Namespace, runtime: Runtime) -> dict[str, Any]:
    """The start input from --input and -i; an -i value is JSON unless its input is
    declared as a string (so -i version=2024.06 stays text)."""
    declared = runtime.definition(args.name).inputs
    values: dict[str, Any] = {}
    if args.input:
        try:
            values = json.loads(args.input)
        except ValueError as exc:
            raise UsageError(f"--input is not JSON: {exc}") from None
        if not isinstance(values, dict):
            raise UsageError("--input must be a JSON object of named inputs")
    for item in args.inputs:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"-i takes KEY=VALUE, not {item!r}")
        spec = declared.get(key)
        values[key] = text if spec is not None and spec.type == "string" else json_or_text(text)
    return values


def json_or_text(text: str) -> Any:
    """``text`` read as JSON, or ``text`` itself when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def open_runtime(
    args: argparse.Namespace, *, engine: bool, claim_free: bool = True, hooks: Sequence[Hook] = ()
) -> Runtime:
    """The runtime the settings flags (or ``$WFKIT_*``) ask for; with its engine running
    (told of every commit through ``hooks``) when ``engine``."""
    from wfkit.runtime.api import Runtime
    from wfkit.runtime.settings import Settings

    settings = Settings.from_environment(
        definitions=args.definitions,
        store=args.store,
        workers=str(args.workers) if getattr(args, "workers", None) else None,
    )
    return Runtime(settings, hooks, run_engine=engine, claim_free=claim_free)
