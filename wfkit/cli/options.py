"""What the instance commands share: settings and input flags, and the runtime they
open from them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfkit.cli.definitions import UsageError
from wfkit.runtime.textjson import input_value

if TYPE_CHECKING:
    from wfkit.definition.model import Definition
    from wfkit.engine.protocols import Hook
    from wfkit.runtime.api import Runtime

__all__ = [
    "EXIT_STILL_RUNNING",
    "EXIT_STORE_FAILING",
    "EXIT_SUSPENDED",
    "as_usage",
    "at_least_one",
    "input_flags",
    "inputs",
    "more_than_zero",
    "not_negative",
    "open_runtime",
    "run_file",
    "settings_flags",
    "workflow_definition",
    "yaml_path",
]

EXIT_SUSPENDED = 3
"""Exit status of ``wfkit run`` when Ctrl-C left the instance paused."""

EXIT_STILL_RUNNING = 4
"""Exit status of ``wfkit run`` when the instance has not ended after ``--timeout``
seconds (it stays in the store as it is)."""

EXIT_STORE_FAILING = 5
"""Exit status of ``wfkit run`` when the store kept failing (a full disk...) for the
``store_outage_timeout`` setting's seconds; nothing recorded is lost."""


def at_least_one(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1 (a count, a page size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def not_negative(text: str) -> float:
    """An argparse ``type``: a number of seconds, 0 or more."""
    return _seconds(text, zero_allowed=True)


def more_than_zero(text: str) -> float:
    """An argparse ``type``: a number of seconds greater than 0."""
    return _seconds(text, zero_allowed=False)


def _seconds(text: str, *, zero_allowed: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not (value >= 0 if zero_allowed else value > 0):  # also refuses nan
        least = "0 seconds or more" if zero_allowed else "more than 0 seconds"
        raise argparse.ArgumentTypeError(f"must be {least}, not {text}")
    return value


def settings_flags(
    parser: argparse.ArgumentParser, workers: bool = False, json_help: str = "print JSON"
) -> None:
    """``--definitions``, ``--store``, ``--json`` (and, for commands that run an engine,
    ``--workers`` and ``--runner``): the settings flags, with their ``$WFKIT_*``
    variables."""
    parser.add_argument("--definitions", help="definitions folder ($WFKIT_DEFINITIONS)")
    parser.add_argument(
        "--store", help="store URL ($WFKIT_STORE; default sqlite:///.wfkit/wfkit.db)"
    )
    if workers:
        parser.add_argument(
            "--workers",
            type=at_least_one,
            help="steps run at once here, at least 1 ($WFKIT_WORKERS)",
        )
        parser.add_argument(
            "--runner", help="the step runner: local or dask ($WFKIT_RUNNER; default local)"
        )
        parser.add_argument(
            "--dask-scheduler",
            help="the Dask scheduler's address for steps on Dask ($WFKIT_DASK_SCHEDULER; "
            "default: a local cluster started on first use)",
        )
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
        help="one input; VALUE is JSON, except for an input declared `type: string`, "
        'whose VALUE is always text (-i version=2024.06 stays "2024.06"); for an input '
        "without a declared type, text that is not JSON and does not start with {, [ or "
        '" stays text (-i who=ana); JSON that is wrong is an error with its line and '
        "column; repeatable",
    )
    parser.add_argument(
        "--id", dest="instance_id", default="", help="the instance id (default: a new uuid)"
    )


def inputs(args: argparse.Namespace, runtime: Runtime) -> dict[str, Any]:
    """The start input from --input and -i; an -i value is JSON unless its input is
    declared as a string (so -i version=2024.06 stays text)."""
    declared = workflow_definition(args.name, runtime).inputs
    values: dict[str, Any] = {}
    if args.input:
        try:
            values = json.loads(args.input)
        except ValueError as exc:
            raise UsageError(f"--input is not JSON: {exc}") from None
        except RecursionError:
            raise UsageError(
                "--input nests too deep: more than Python reads (wfkit accepts 100 levels)"
            ) from None
        if not isinstance(values, dict):
            raise UsageError("--input must be a JSON object of named inputs")
    for item in args.inputs:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"-i takes KEY=VALUE, not {item!r}")
        spec = declared.get(key)
        values[key] = as_usage(input_value, key, text, None if spec is None else spec.type)
    return values


def as_usage(parse: Callable[..., Any], *args: Any) -> Any:
    """``parse(*args)``, its :class:`InvalidJsonText` said as a usage error (exit 2)."""
    from wfkit.errors import InvalidJsonText

    try:
        return parse(*args)
    except InvalidJsonText as exc:
        raise UsageError(str(exc)) from None


def yaml_path(name: str) -> Path | None:
    """``name`` as the path of a YAML file when it names one (or ends in .yaml/.yml)."""
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") or path.is_file() else None


def run_file(args: argparse.Namespace) -> None:
    """``wfkit run PATH``: run the workflow that file defines, with the file's folder as
    the definitions folder (for its child workflows and its steps' imports), as if
    ``--definitions FOLDER`` and its name were given; changes ``args`` so."""
    from wfkit.graph.catalog import load_definition

    path = yaml_path(args.name)
    if path is None:
        return
    if not path.is_file():
        raise UsageError(f"no such file: {args.name}")
    folder = path.parent
    if args.definitions and Path(args.definitions).resolve() != folder.resolve():
        raise UsageError(
            f"{args.name} runs with its own folder {str(folder)!r} as the definitions folder, "
            f"not {args.definitions!r}: drop --definitions, or give a workflow name"
        )
    args.definitions = str(folder)
    args.name = load_definition(path).name  # its problems, if any, are the error


def workflow_definition(name: str, runtime: Runtime) -> Definition:
    """The definition of workflow ``name``; when there is none because the definitions
    folder does not exist, a :class:`UsageError` that says so and how to set it."""
    from wfkit.errors import UnknownWorkflow, short

    try:
        return runtime.definition(name)
    except UnknownWorkflow as exc:
        folder = Path(runtime.folder.folder)
        if folder.is_dir():
            raise
        where = "" if folder.is_absolute() else f" (looked for {folder.resolve()})"
        raise UsageError(
            f"no workflow named {short(name)!r}: the definitions folder {str(folder)!r} does not "
            f"exist{where}; point --definitions or $WFKIT_DEFINITIONS at the folder of "
            "your YAML files"
        ) from exc


def open_runtime(
    args: argparse.Namespace,
    *,
    engine: bool,
    claim_free: bool = True,
    hooks: Sequence[Hook] = (),
    create_store: bool = True,
) -> Runtime:
    """The runtime the settings flags (or ``$WFKIT_*``) ask for; with its engine running
    (told of every commit through ``hooks``) when ``engine``. ``create_store=False`` for
    commands that only read or change existing instances: a mistyped ``--store`` is then
    an error, not a new, empty store."""
    from wfkit.runtime.api import Runtime
    from wfkit.runtime.settings import Settings

    settings = Settings.from_environment(
        definitions=args.definitions,
        store=args.store,
        workers=_flag_text(getattr(args, "workers", None)),
        runner=getattr(args, "runner", None),
        dask_scheduler=getattr(args, "dask_scheduler", None),
    )
    if engine and settings.workers == 0:
        raise UsageError(
            "WFKIT_WORKERS=0 makes a client that runs no steps, but this command runs "
            "them: unset WFKIT_WORKERS (or give --workers N), or follow a run elsewhere "
            "with `wfkit run --attach ID`"
        )
    return Runtime(
        settings, hooks, run_engine=engine, claim_free=claim_free, create_store=create_store
    )


def _flag_text(value: int | None) -> str | None:
    """A numeric flag as a settings override: None when the flag was not given (0 is
    given, and refused by the settings as any other bad value)."""
    return None if value is None else str(value)
