"""``reference/api.md``: every name in ``wfkit.__all__``, from signatures and docstrings.

For each public name: what it is, where it is defined, its signature, and the first
paragraph of its docstring; for classes also their public methods and properties
(defined by wfkit, not inherited from the standard library), and the members of enums.
"""

from __future__ import annotations

import abc
import ast
import dataclasses
import enum
import inspect
import re
import textwrap
from importlib import import_module
from typing import Any

from docs._gen._common import banner, code

OUTPUT = "reference/api.md"

#: Sections of the page, by the module a name comes from (``wfkit._EXPORTS``), in order.
#: A module not listed here gets a section named after it, so a new export still appears.
SECTIONS: dict[str, tuple[str, str]] = {
    "wfkit.runtime.api": (
        "Running workflows",
        "Open definitions and a store, start an engine in this process, start and watch "
        "instances. Most programs and notebooks need only this section.",
    ),
    "wfkit.steps.output": (
        "Inside a step",
        "For code that runs as a `shell` or `notebook` step.",
    ),
    "wfkit.runtime.executor": (
        "Dapr's workflow component",
        "The same engine behind Dapr's contract; see [wfkit and Dapr](dapr.md).",
    ),
    "wfkit.engine.wire.contract": (
        "Contract records",
        "Dapr's request and response records. `to_json()` and `from_json()` use Dapr's "
        "JSON names; see [wfkit and Dapr](dapr.md).",
    ),
    "wfkit.engine.core.status": (
        "Statuses",
        "See [Statuses](../concepts/statuses.md).",
    ),
    "wfkit.graph": (
        "Loading definitions and graphs",
        "Load and validate definitions, build their step graphs.",
    ),
    "wfkit.definition": (
        "The definition model",
        "The validated, frozen objects a definition loads into, and the language's schema.",
    ),
    "wfkit.errors": (
        "Errors",
        "Every exception wfkit raises on purpose derives from `WfkitError`.",
    ),
}

#: The page's opening example (run against ``definitions/`` before it was written here).
EXAMPLE = """\
import wfkit

engine = wfkit.open("definitions")           # state in .wfkit/wfkit.db (SQLite)
engine.definition("sales-pipeline")          # in a notebook: the step graph as SVG
run = engine.run("sales-pipeline", regions=["north", "south"])
run.status, run.output["best_region"]        # (<RuntimeStatus.COMPLETED: 'COMPLETED'>, 'south')
run.steps["extract"].output                  # one result per region
engine.close()"""

_SKIP_MEMBERS = {"__init__", "__new__", "__post_init__", "__enter__", "__exit__"}


def _exports() -> dict[str, str]:
    import wfkit

    exports: dict[str, str] = dict(wfkit._EXPORTS)
    missing = sorted(set(wfkit.__all__) - set(exports))
    if missing:  # __all__ and the lazy table must agree
        raise ValueError(f"wfkit.__all__ names without a source module: {missing}")
    return {name: exports[name] for name in wfkit.__all__}


def first_paragraph(obj: Any) -> str:
    """The first paragraph of ``obj``'s own docstring, as one line of Markdown."""
    doc = obj.__doc__ if isinstance(obj, type | property) else inspect.getdoc(obj)
    if not doc:
        return ""
    doc = inspect.cleandoc(doc)
    paragraph = doc.split("\n\n", 1)[0]
    return _rst_to_md(" ".join(paragraph.split()))


def _rst_to_md(text: str) -> str:
    text = re.sub(r":(?:class|func|meth|attr|data|mod|exc):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _clean(text: str) -> str:
    """Signature text without memory addresses (so the page is the same on every run)."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


class _Raw:
    """An annotation shown as written (they are strings under ``from __future__``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _unquoted(signature: inspect.Signature) -> inspect.Signature:
    def plain(annotation: Any) -> Any:
        return _Raw(annotation) if isinstance(annotation, str) else annotation

    parameters = [p.replace(annotation=plain(p.annotation)) for p in signature.parameters.values()]
    return signature.replace(
        parameters=parameters, return_annotation=plain(signature.return_annotation)
    )


def _signature(obj: Any, name: str, *, drop_first: bool = False) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    if isinstance(obj, type):
        signature = signature.replace(return_annotation=inspect.Signature.empty)
    if drop_first:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return _clean(f"{name}{_unquoted(signature)}")


def _kind(obj: Any) -> str:
    if isinstance(obj, type):
        if issubclass(obj, BaseException):
            return "exception"
        if issubclass(obj, enum.Enum):
            return "enum"
        if dataclasses.is_dataclass(obj):
            return "dataclass"
        if abc.ABC in obj.__bases__:
            return "abstract base class"
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj) or hasattr(obj, "__wrapped__"):
        return "function"
    return type(obj).__name__


def _bases(cls: type) -> str:
    names = [
        b.__name__ for b in cls.__bases__ if b is not object and b.__name__ not in ("ABC", "Record")
    ]
    return ", ".join(code(n) for n in names)


def _own_classes(cls: type) -> list[type]:
    """``cls`` and those of its bases that are public wfkit names (their members are
    documented with ``cls``); other wfkit bases are only named."""
    import wfkit

    public = set(wfkit.__all__)
    return [
        k
        for k in reversed(cls.__mro__)
        if k.__module__.startswith("wfkit") and (k is cls or k.__name__ in public)
    ]


def _public(klass: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in vars(klass).items():
        if key.startswith("_") or key in _SKIP_MEMBERS:
            continue
        if (
            isinstance(value, staticmethod | classmethod)
            or inspect.isfunction(value)
            or isinstance(value, property)
        ):
            found[key] = value
    return found


def _members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties that ``cls`` or its public wfkit bases define."""
    seen: dict[str, Any] = {}
    for klass in _own_classes(cls):
        seen.update(_public(klass))
    return sorted(seen.items())


def _inherited(cls: type) -> str:
    """A line naming the members that come from internal wfkit bases, if any."""
    own = {k for klass in _own_classes(cls) for k in _public(klass)}
    parts = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("wfkit") or klass in _own_classes(cls):
            continue
        names = sorted(k for k in _public(klass) if k not in own)
        if names:
            listed = ", ".join(code(f"{n}()") for n in names)
            parts.append(f"{listed} from `{klass.__name__}`")
    return ("Also " + "; ".join(parts) + ".\n") if parts else ""


def _attributes(cls: type) -> list[tuple[str, str]]:
    """Public attributes that the ``__init__`` of ``cls`` (or of its public wfkit bases)
    sets, as ``self.name = ...``, each with the ``#:`` comment above it, if any. Methods,
    properties and dataclass fields are documented elsewhere (the signature lists fields)."""
    found: dict[str, str] = {}
    members = {k for klass in _own_classes(cls) for k in _public(klass)}
    for klass in _own_classes(cls):
        init = vars(klass).get("__init__")
        if not inspect.isfunction(init) or dataclasses.is_dataclass(klass):
            continue
        try:
            lines, _ = inspect.getsourcelines(init)
        except (OSError, TypeError):
            continue
        tree = ast.parse(textwrap.dedent("".join(lines)))
        for node in ast.walk(tree):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if not (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    continue
                name = target.attr
                if name.startswith("_") or name in members or name in found:
                    continue
                found[name] = _rst_to_md(_comment_above(lines, node.lineno - 1))
    return sorted(found.items())


def _comment_above(lines: list[str], index: int) -> str:
    """The ``#:`` comment lines just above line ``index`` of ``lines``, joined."""
    said: list[str] = []
    while index > 0 and lines[index - 1].strip().startswith("#:"):
        index -= 1
        said.insert(0, lines[index].strip()[2:].strip())
    return " ".join(said)


def _attribute_text(attributes: list[tuple[str, str]]) -> str:
    described = [f"- `{name}`: {text}" for name, text in attributes if text]
    plain = [code(name) for name, text in attributes if not text]
    out = "Attributes:\n\n" + "\n".join(described) if described else ""
    if plain:
        lead = "\n\nAlso the attributes " if described else "Attributes: "
        out += lead + ", ".join(plain) + "."
    return out + "\n"


def _member_text(cls: type, key: str, value: Any) -> str:
    if isinstance(value, property):
        head = f"`{key}` (property)"
    else:
        raw = inspect.getattr_static(cls, key)
        if isinstance(raw, classmethod):
            signature = _signature(getattr(cls, key), key)
        elif isinstance(raw, staticmethod):
            signature = _signature(raw.__func__, key)
        else:
            signature = _signature(raw, key, drop_first=True)
        head = code(signature or key)
    summary = first_paragraph(getattr(cls, key) if not isinstance(value, property) else value)
    return f"- {head}" + (f": {summary}" if summary else "")


def _enum_members(cls: type[enum.Enum]) -> str:
    values = ", ".join(code(str(m.value)) for m in cls)
    return f"Members: {values}.\n"


def _entry(name: str, obj: Any, module: str) -> str:
    kind = _kind(obj)
    lines = [f"### `{name}` {{#{name.lower()}}}\n"]
    where = getattr(obj, "__module__", None) or module
    origin = getattr(obj, "__qualname__", name)
    lines.append(f"*{kind}* — `wfkit.{name}` (defined as `{where}.{origin}`)\n")
    if kind != "enum":
        signature = _signature(obj, name)
        if signature:
            lines.append("```python\n" + signature + "\n```\n")
    summary = first_paragraph(obj)
    if summary:
        lines.append(summary + "\n")
    if isinstance(obj, type):
        bases = _bases(obj)
        if bases:
            lines.append(f"Bases: {bases}.\n")
        if issubclass(obj, enum.Enum):
            lines.append(_enum_members(obj))
        attributes = _attributes(obj)
        if attributes:
            lines.append(_attribute_text(attributes))
        members = _members(obj)
        if members:
            lines.append("\n".join(_member_text(obj, k, v) for k, v in members) + "\n")
        inherited = _inherited(obj)
        if inherited:
            lines.append(inherited)
        if hasattr(obj, "__enter__") and not issubclass(obj, BaseException):
            lines.append("A context manager: `with` closes it on the way out.\n")
    return "\n".join(lines)


def render() -> str:
    """The page."""
    import wfkit

    exports = _exports()
    by_module: dict[str, list[str]] = {}
    for name, where in exports.items():
        by_module.setdefault(where.split(":", 1)[0], []).append(name)
    order = [m for m in SECTIONS if m in by_module] + sorted(
        m for m in by_module if m not in SECTIONS
    )
    index_rows = []
    sections = []
    for module in order:
        title, intro = SECTIONS.get(module, (module, ""))
        names = sorted(by_module[module], key=str.lower)
        index_rows.append(
            f"| {title} | " + ", ".join(f"[`{n}`](#{n.lower()})" for n in names) + " |"
        )
        body = [f"## {title}\n"]
        if intro:
            body.append(intro + "\n")
        tree = _example(getattr(import_module(module), "__doc__", None) or "")
        if module == "wfkit.errors" and tree:
            body.append("```text\n" + tree + "\n```\n")
        if module == "wfkit.errors":
            body.append(_categories_table() + "\n")
        body += [_entry(name, getattr(wfkit, name), module) for name in names]
        sections.append("\n".join(body))
    top = [
        banner("the docstrings of `wfkit.__all__` (see `docs/_gen/api.py`)"),
        "# Python API\n",
        first_paragraph(wfkit) + "\n",
        "```python\n" + EXAMPLE + "\n```\n",
        f"Everything below is importable from `wfkit` itself (`wfkit.__all__`, "
        f"{len(exports)} names); the modules they are defined in are internal and may "
        "move.\n",
        "| section | names |\n|---|---|\n" + "\n".join(index_rows) + "\n",
    ]
    return "\n".join(top) + "\n" + "\n".join(sections)


def _categories_table() -> str:
    """Each error of the tree with its ``category``, the kind of failure that a wire
    protocol (the HTTP server) maps to a status code."""
    import wfkit.errors

    rows = [
        f"| [`{name}`](#{name.lower()}) | `{cls.category}` |"
        for name in wfkit.errors.__all__
        if isinstance(cls := getattr(wfkit.errors, name), type)
        and issubclass(cls, wfkit.errors.WfkitError)
    ]
    return (
        "Each error's `category` ([`ErrorCategory`](#errorcategory)) says what kind of "
        "failure it is; the HTTP server maps each category to one status code.\n\n"
        "| error | category |\n|---|---|\n" + "\n".join(rows) + "\n"
    )


def _example(doc: str) -> str:
    """The indented literal block that follows ``::`` in a docstring."""
    text = inspect.cleandoc(doc)
    if "::\n" not in text:
        return ""
    block = text.split("::\n", 1)[1].split("\n\n", 1)
    lines = block[0].strip("\n").splitlines() if block[0].strip() else []
    if not lines and len(block) > 1:
        lines = block[1].split("\n\n", 1)[0].splitlines()
    return "\n".join(line[4:] if line.startswith("    ") else line for line in lines)
