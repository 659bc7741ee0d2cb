"""``reference/cli.md``: every ``wfkit`` subcommand, from the command's own argparse parser.

Usage lines come from argparse itself (at a fixed width of :data:`WIDTH` columns, so the
page does not depend on the terminal); descriptions, arguments and help texts are read
from the parser's actions. Nothing here is typed by hand, so a new flag or command
appears after ``python -m docs._gen``.
"""

from __future__ import annotations

import argparse
import functools
import inspect

from docs._gen._common import banner, code, table

OUTPUT = "reference/cli.md"
WIDTH = 88


def _parser() -> argparse.ArgumentParser:
    from wfkit.cli.main import build_parser

    return build_parser()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's name and parser, in the order the command lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._get_subactions()}
    return {}


def _usage(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=WIDTH)
    return parser.format_usage().strip()


def _expand(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" not in text:
        return text
    values = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    return text % dict(values, prog=prog)


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        name = action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    elif action.option_strings:
        name = action.dest.upper()
    else:
        name = action.dest
    if action.nargs == "?":
        return f"[{name}]"
    if action.nargs == "*":
        return f"[{name} ...]"
    if action.nargs == "+":
        return f"{name} [{name} ...]"
    return name


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        return code(_metavar(action))
    value = f" {_metavar(action)}" if _takes_value(action) else ""
    return ", ".join(code(flag + value) for flag in action.option_strings)


def _default(action: argparse.Action) -> str:
    default = action.default
    if default in (None, False, "", []) or default is argparse.SUPPRESS:
        return ""
    if isinstance(action, argparse._StoreConstAction | argparse._StoreTrueAction):
        return ""
    return code(repr(default) if isinstance(default, str) else str(default))


def _notes(action: argparse.Action) -> str:
    notes = []
    if isinstance(action, argparse._AppendAction) and "repeatable" not in (action.help or ""):
        notes.append("repeatable")
    if action.required and action.option_strings:
        notes.append("required")
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        notes.append("one of " + ", ".join(code(str(c)) for c in action.choices))
    return "; ".join(notes)


def _arguments(parser: argparse.ArgumentParser) -> str:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        help_text = _expand(action, parser.prog)
        extra = _notes(action)
        if extra:
            help_text = f"{help_text} ({extra})" if help_text else extra
        rows.append([_argument(action), help_text, _default(action)])
    if not rows:
        return "No arguments besides `-h`.\n"
    return table(("argument", "meaning", "default"), rows)


def _section(name: str, sub: argparse.ArgumentParser, summary: str) -> str:
    parts = [
        f"## `wfkit {name}` {{#{name}}}\n",
        f"{sub.description or summary}\n",
        "```text\n" + _usage(sub) + "\n```\n",
        _arguments(sub),
    ]
    if sub.epilog:
        parts.append(sub.epilog + "\n")
    return "\n".join(parts)


def _module_doc_paragraph(word: str) -> str:
    """The paragraph of :mod:`wfkit.cli.main`'s docstring that mentions ``word``."""
    import wfkit.cli.main

    doc = inspect.cleandoc(wfkit.cli.main.__doc__ or "")
    for paragraph in doc.split("\n\n"):
        if word in paragraph:
            return " ".join(paragraph.split()).replace("``", "`")
    return ""


def render() -> str:
    """The page."""
    parser = _parser()
    subs = subcommands(parser)
    helps = _helps(parser)
    index = table(
        ("command", "what it does"),
        [[f"[`wfkit {name}`](#{name})", helps.get(name, "")] for name in subs],
    )
    top = [
        banner("the parser of `wfkit.cli.main.build_parser()` (see `docs/_gen/cli.py`)"),
        "# Command line\n",
        f"{parser.description}\n",
        "```text\n" + _usage(parser) + "\n```\n",
        (parser.epilog or "") + "\n",
        _module_doc_paragraph("Exit codes") + "\n",
        "Every command takes `-h` (`--help`). `wfkit --version` prints the version.\n",
        "## Commands {#commands}\n",
        index,
    ]
    sections = [_section(name, sub, helps.get(name, "")) for name, sub in subs.items()]
    return "\n".join(top) + "\n" + "\n".join(sections)
