"""``wfkit validate``, ``wfkit graph`` and ``wfkit schema``: commands about definitions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfkit.errors import Problem

if TYPE_CHECKING:
    from wfkit.definition.model import Definition
    from wfkit.views.instance import InstanceView

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "UsageError", "register"]

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line asks for something that cannot be (exit code 2)."""


def _definitions_default() -> str:
    return os.environ.get("WFKIT_DEFINITIONS", "definitions")


def register(sub: Any) -> None:
    """Add the definition commands to the subcommand parsers."""
    _register_validate(sub)
    _register_graph(sub)
    _register_schema(sub)


def _register_validate(sub: Any) -> None:
    validate = sub.add_parser(
        "validate",
        help="check definitions and report every problem",
        description="Check YAML definitions (files, or folders of *.yaml/*.yml) and report "
        "every problem with file:line:column and a hint. Exit 0 when all are valid, 1 when "
        "any has problems, 2 on wrong usage.",
    )
    validate.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders (default: the definitions folder)",
    )
    validate.add_argument(
        "--definitions",
        default=None,
        help="the definitions folder (default: $WFKIT_DEFINITIONS or ./definitions)",
    )
    validate.add_argument(
        "--imports",
        action="store_true",
        help="also import each call step's module (running its top-level code) and check "
        "that the function exists and takes the step's `with` keys, and check that the "
        "extras other step kinds need are installed (notebook steps: wfkit[jupyter])",
    )
    validate.add_argument("--json", action="store_true", help="print a JSON report")
    validate.set_defaults(func=cmd_validate)


def _register_graph(sub: Any) -> None:
    graph = sub.add_parser(
        "graph",
        help="draw a workflow's step graph, or an instance's coloured by step status",
        description="Draw a workflow's step graph. NAME is a workflow in the definitions "
        "folder, PATH a YAML file, ID an instance in the store (when no workflow has that "
        "name): its graph is drawn with each step coloured by its status now. Without -o, "
        "DOT text is printed; with --json, the graph as JSON instead of a drawing.",
    )
    graph.add_argument("target", metavar="NAME|PATH|ID")
    graph.add_argument("-o", "--output", help="write to this file: .svg, .png or .dot")
    graph.add_argument("--definitions", default=None, help="the definitions folder")
    graph.add_argument(
        "--store",
        help="the store of the instance ID ($WFKIT_STORE; default sqlite:///.wfkit/wfkit.db)",
    )
    graph.add_argument(
        "--json",
        action="store_true",
        help="print the graph as JSON instead of drawing it: its name, its steps (id, "
        "kind, needs) in the file's order, and its edges [from, to]: from must finish "
        "before to, which names it in needs or reads it in an expression",
    )
    graph.set_defaults(func=cmd_graph)


def _register_schema(sub: Any) -> None:
    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of the definition language",
        description="Print the JSON Schema of the definition language (for editors: "
        "save it and point yaml-language-server at it).",
    )
    schema.add_argument(
        "--json",
        action="store_true",
        help="accepted for symmetry with the other commands: the schema is JSON anyway",
    )
    schema.set_defaults(func=cmd_schema)


def print_problems(problems: list[Problem], stream: Any = None) -> None:
    stream = stream or sys.stderr
    for problem in problems:
        print(problem, file=stream)


def cmd_validate(args: argparse.Namespace) -> int:
    """``wfkit validate``."""
    from wfkit.graph.catalog import check_paths

    paths = args.paths or [args.definitions or _definitions_default()]
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    check = check_paths(paths)
    if not check.files:
        raise UsageError(f"no *.yaml or *.yml files in {', '.join(paths)}")
    if args.imports:
        check.problems = sorted([*check.problems, *_import_problems(check.definitions)])
    if args.json:
        report = {
            "ok": check.ok,
            "files": [str(f) for f in check.files],
            "definitions": [
                {
                    "name": d.name,
                    "path": d.path,
                    "steps": len(d.steps),
                    "finally": len(d.finally_steps),
                    "hash": d.content_hash,
                }
                for d in check.definitions
            ],
            "problems": [p.to_dict() for p in check.problems],
        }
        print(json.dumps(report, indent=2))
        return EXIT_OK if check.ok else EXIT_PROBLEMS
    print_problems(check.problems, sys.stdout)
    bad = {p.path for p in check.problems}
    good = [d for d in check.definitions if d.path not in bad]
    for definition in good:
        steps = len(definition.steps) + len(definition.finally_steps)
        print(f"ok  {definition.path}: {definition.name} ({steps} steps)")
    count = len(check.problems)
    if count:
        noun = "problem" if count == 1 else "problems"
        print(f"\n{count} {noun} in {len(bad)} of {len(check.files)} files")
        return EXIT_PROBLEMS
    print(f"\nall {len(check.files)} files are valid")
    return EXIT_OK


def _import_problems(definitions: list[Definition]) -> list[Problem]:
    """``--imports``: a problem for each call step whose function cannot be called as
    the step would call it (the definition's folder and the working directory are on the
    import path, as when it runs), and for each step whose kind needs an extra that is
    not installed (notebook steps: the ``jupyter`` extra)."""
    from wfkit.definition.model import StepKind
    from wfkit.steps.call import target_problem

    problems = []
    for definition in definitions:
        folder = str(Path(definition.path).parent)
        for step in definition.all_steps().values():
            found = None
            if step.kind is StepKind.CALL:
                keys = list(step.with_.raw) if step.with_ is not None else []  # a mapping
                found = target_problem(
                    step.target, keys, step=step.id, definitions_dir=folder, workdir=os.getcwd()
                )
            elif step.kind.value in _EXTRAS:
                found = _missing_extra(step.id, step.kind.value)
            if found is not None:
                line, column = step.target_at
                problems.append(Problem(definition.path, line, column, found, "", step.id))
    return problems


_EXTRAS = {"notebook": ("jupyter", ("nbformat", "nbclient", "ipykernel"))}
"""Step kind -> the extra it needs and the modules of that extra it uses when it runs
(the other kinds need nothing beyond wfkit's own dependencies)."""


def _missing_extra(step: str, kind: str) -> str | None:
    """What is missing for a step of ``kind`` to run here, or None."""
    import importlib.util

    extra, modules = _EXTRAS[kind]
    missing = []
    for module in modules:
        try:
            installed = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or hidden module
            installed = False
        if not installed:
            missing.append(module)
    if not missing:
        return None
    return (
        f"step {step!r} is a {kind} step, which needs {', '.join(missing)} (not installed "
        f"here); install them with: pip install 'wfkit[{extra}]'"
    )


def _resolve(args: argparse.Namespace) -> tuple[Definition, InstanceView | None]:
    """The definition ``wfkit graph`` draws, and the instance whose statuses colour it
    (None for a workflow's plain graph): a YAML path, a workflow name, or an instance id
    when no workflow has that name."""
    from wfkit.errors import UnknownWorkflow
    from wfkit.graph.catalog import load_catalog, load_definition

    target, definitions = args.target, args.definitions
    path = Path(target)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise UsageError(f"no such file: {target}")
        return load_definition(path), None
    folder = definitions or _definitions_default()
    try:
        if not Path(folder).is_dir():
            raise UsageError(
                f"no definitions folder {folder!r} and no instance {target!r} in the store; "
                "pass --definitions, a YAML path, or --store"
            )
        return load_catalog(folder).get(target), None
    except (UnknownWorkflow, UsageError) as exc:
        found = _instance(args)
        if found is None:
            raise exc from None
        return found


def _instance(args: argparse.Namespace) -> tuple[Definition, InstanceView] | None:
    """The definition and a snapshot of instance ``args.target``; None when the store
    does not exist or has no such instance (the store is never created here)."""
    from wfkit.cli.options import open_runtime
    from wfkit.errors import InstanceNotFound, StoreError
    from wfkit.views.instance import load_instance

    try:
        runtime = open_runtime(args, engine=False, create_store=False)
    except StoreError:
        return None
    try:
        view = load_instance(runtime.instance(args.target))
    except InstanceNotFound:
        return None
    finally:
        runtime.close()
    if view.definition is None:  # a snapshot read from the store always has it
        return None
    return view.definition, view


def graph_json(definition: Definition) -> dict[str, Any]:
    """What ``wfkit graph --json`` prints: the steps in the file's order (finally steps
    last) with their kind and declared ``needs``, and an edge ``[from, to]`` for each
    step that must finish before another (named in its needs, or read by one of its
    expressions), ordered as the drawing orders them. Built from the definition alone:
    no networkx, no drawing."""
    steps = definition.all_steps()
    order = {sid: i for i, sid in enumerate(steps)}
    edges = sorted(
        ((source, sid) for sid, step in steps.items() for source in step.depends_on),
        key=lambda edge: (order.get(edge[1], -1), order.get(edge[0], -1)),
    )
    return {
        "name": definition.name,
        "steps": [
            {"id": sid, "kind": step.kind.value, "needs": list(step.needs)}
            for sid, step in steps.items()
        ],
        "edges": [[source, target] for source, target in edges if source in steps],
    }


def cmd_graph(args: argparse.Namespace) -> int:
    """``wfkit graph``: DOT text, a drawing in a file, or (``--json``) the graph as JSON;
    of an instance, with its steps coloured (and listed, in JSON) by status."""
    from wfkit.graph import build_view
    from wfkit.views.dot import to_dot
    from wfkit.views.render import render_file

    definition, instance = _resolve(args)
    if args.json:
        drawn = graph_json(definition)
        if instance is not None:
            drawn["instanceID"], drawn["runtimeStatus"] = instance.instance_id, instance.status
            drawn["statuses"] = instance.statuses
        print(json.dumps(drawn, indent=2))
        return EXIT_OK
    if instance is None:
        dot = to_dot(build_view(definition))
    else:
        dot = to_dot(instance.graph(), statuses=instance.statuses)
    if not args.output:
        sys.stdout.write(dot if dot.endswith("\n") else dot + "\n")
        return EXIT_OK
    render_file(dot, Path(args.output))
    print(f"wrote {args.output}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """``wfkit schema``."""
    from wfkit.definition.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK
