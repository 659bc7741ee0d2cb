"""Loading definitions: one file or text, and a whole folder as a catalog.

Every entry point gathers all problems (YAML, schema, expressions, references, cycles,
and across files: duplicate names, unknown or cyclic child workflows) and raises them
together in one :class:`~wfkit.errors.DefinitionError`.

A catalog for running (``load_catalog(..., strict=False)``, what the runtime and the
CLI's instance commands use) keeps the workflows that are usable and sets the others
aside with their problems: one half-edited file must not stop anyone from running the
other workflows, or from listing, pausing or terminating instances, or from a worker
resuming them. Asking for a workflow that was set aside raises its problems.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from wfkit.common.suggest import did_you_mean
from wfkit.definition.model import Definition, Step, StepKind
from wfkit.definition.parse import ParseResult, parse_bytes, parse_text, paused_gc
from wfkit.definition.source import MAX_BYTES
from wfkit.errors import DefinitionError, Problem, UnknownWorkflow
from wfkit.graph.build import cycle_problems
from wfkit.graph.order import topological_order

__all__ = [
    "Catalog",
    "Check",
    "check_paths",
    "definition_files",
    "load_catalog",
    "load_definition",
    "parse_definition",
]

SUFFIXES = (".yaml", ".yml")
_SHOWN_PROBLEMS = 5  # in the message about a workflow that is not there


def _checked(parse: Callable[[], ParseResult]) -> tuple[Definition | None, list[Problem]]:
    """The definition (partial, maybe, when there are problems) and its problems."""
    with paused_gc():
        result = parse()
        problems = list(result.problems)
        definition = result.definition
        if definition is not None:
            problems += cycle_problems(definition)
    return definition, problems


def parse_definition(text: str, path: str = "<string>") -> Definition:
    """A definition from YAML text; raises :class:`DefinitionError` with every problem."""
    definition, problems = _checked(lambda: parse_text(text, path))
    if problems or definition is None:
        raise DefinitionError(problems)
    return definition


def _read(path: Path) -> tuple[Definition | None, list[Problem]]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            message = f"the file is too large ({size:,} bytes; the limit is {MAX_BYTES:,})"
            return None, [Problem(name, 1, 1, message, "split the workflow into child workflows")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, 0, 0, f"cannot read the file: {exc.strerror or exc}")]
    return _checked(lambda: parse_bytes(raw, name))


def load_definition(path: str | os.PathLike[str]) -> Definition:
    """A definition from a YAML file; raises :class:`DefinitionError` with every problem."""
    definition, problems = _read(Path(path))
    if problems or definition is None:
        raise DefinitionError(problems)
    return definition


def definition_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The YAML files named, and those directly inside the folders named, sorted per folder."""
    out: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        else:
            out.append(path)
    return out


class Catalog:
    """Definitions by name, checked as a whole (unique names, child workflows resolve).

    Build one with :func:`load_catalog`; a catalog is read-only once built. The
    constructor raises :class:`DefinitionError` on any problem; :meth:`usable` sets the
    definitions with problems aside instead, listing them in :attr:`problems`.
    """

    def __init__(
        self,
        definitions: Iterable[Definition] = (),
        *,
        set_aside: Mapping[str, list[Problem]] | None = None,
    ) -> None:
        self._by_name: dict[str, Definition] = {}
        # workflows known to have problems, by name: asking for one raises them
        self._set_aside = {name: list(found) for name, found in (set_aside or {}).items()}
        #: What kept definitions out of this catalog (empty for a strict one), sorted.
        self.problems: list[Problem] = []
        problems: list[Problem] = []
        for definition in definitions:
            problems += self._add(definition)
        problems += self.reference_problems()
        if problems:
            raise DefinitionError(problems)

    @classmethod
    def usable(
        cls,
        definitions: Iterable[Definition],
        problems: Iterable[Problem] = (),
        set_aside: Mapping[str, list[Problem]] | None = None,
    ) -> Catalog:
        """A catalog of the definitions that can run, never raising.

        ``problems`` are those already found in files (``set_aside`` maps the names of
        the workflows those files define, where known, to their problems). A name that
        several files declare is ambiguous: none of them runs, and asking for it raises
        a problem at each file's ``name:``; a workflow that starts an unknown,
        set-aside, ambiguous or cyclic child workflow is set aside too, and so on up its
        parents."""
        catalog = cls(set_aside=set_aside)
        catalog.problems = list(problems)
        by_name: dict[str, list[Definition]] = {}
        for definition in definitions:
            by_name.setdefault(definition.name, []).append(definition)
        for name, same in by_name.items():
            if len(same) == 1:
                catalog._add(same[0])
                continue
            clashes = _ambiguous(same)
            catalog.problems += clashes
            catalog._set_aside.setdefault(name, []).extend(clashes)
        while True:
            found = catalog.reference_problems()
            if not found:
                break
            catalog.problems += found
            paths = {problem.path for problem in found}
            for name, definition in list(catalog._by_name.items()):
                if definition.path in paths:
                    del catalog._by_name[name]
                    catalog._set_aside[name] = [p for p in found if p.path == definition.path]
        catalog.problems.sort()
        return catalog

    def _add(self, definition: Definition) -> list[Problem]:
        other = self._by_name.get(definition.name)
        if other is not None:
            line, column = definition.name_at
            return [
                Problem(
                    definition.path,
                    line,
                    column,
                    f"workflow name {definition.name!r} is already used by {_place(other)}",
                    _UNIQUE,
                )
            ]
        self._by_name[definition.name] = definition
        return []

    def reference_problems(self) -> list[Problem]:
        """Unknown child workflows and cycles between workflows."""
        problems = []
        calls: list[tuple[str, str, Step, str]] = []
        for definition in self._by_name.values():
            for step in definition.all_steps().values():
                if step.kind is not StepKind.WORKFLOW:
                    continue
                if step.target in self._by_name:
                    calls.append((definition.name, step.target, step, definition.path))
                    continue
                line, column = step.target_at
                if step.target in self._set_aside:
                    first = self._set_aside[step.target][0]
                    message = (
                        f"step {step.id!r} starts workflow {step.target!r}, whose definition "
                        "has problems"
                    )
                    hint = f"fix it first: {first}"
                else:
                    message = f"step {step.id!r} starts unknown workflow {step.target!r}"
                    hint = did_you_mean(step.target, self._by_name) or (
                        f"known workflows: {', '.join(sorted(self._by_name))}"
                    )
                problems.append(Problem(definition.path, line, column, message, hint, step.id))
        edges = [(child, parent) for parent, child, _, _ in calls]
        if calls and topological_order(list(self._by_name), edges) is None:
            problems += _workflow_cycles(list(self._by_name), calls)
        return problems

    def adding(self, definition: Definition) -> Catalog:
        """A new catalog: this one with ``definition`` added (replacing one of the same
        name). Raises :class:`DefinitionError` when its child workflows do not resolve or
        form a cycle; workflows set aside here stay set aside."""
        added = Catalog(
            [*(d for d in self if d.name != definition.name), definition],
            set_aside={k: v for k, v in self._set_aside.items() if k != definition.name},
        )
        added.problems = list(self.problems)
        return added

    def get(self, name: str) -> Definition:
        """The definition named ``name``. Raises :class:`DefinitionError` with its problems
        when it was set aside, :class:`UnknownWorkflow` when there is none."""
        found = self._by_name.get(name)
        if found is not None:
            return found
        if name in self._set_aside:
            raise DefinitionError(self._set_aside[name])
        hint = did_you_mean(name, self._by_name)
        if not hint and self.problems:
            shown = self.problems[:_SHOWN_PROBLEMS]
            more = len(self.problems) - len(shown)
            hint = "it may be in a definition file that has problems:\n" + "\n".join(
                str(problem) for problem in shown
            )
            if more:
                hint += f"\n({more} more: wfkit validate lists them all)"
        raise UnknownWorkflow(name, list(self._by_name), hint)

    @property
    def set_aside(self) -> dict[str, list[Problem]]:
        """The workflows kept out of this catalog by problems: name -> its problems (a
        copy; files whose name could not be read are only in :attr:`problems`)."""
        return {name: list(found) for name, found in self._set_aside.items()}

    @property
    def names(self) -> list[str]:
        """Workflow names, sorted."""
        return sorted(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Definition]:
        return iter(self._by_name[n] for n in self.names)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} workflows: {', '.join(self.names)}>"


_UNIQUE = (
    "names must be unique in a definitions folder; rename one of the two (its name: "
    "and the workflow: steps that start it), or move one out of the folder"
)


def _place(definition: Definition) -> str:
    """Where ``definition`` declares its name: ``path:line:column``."""
    line, column = definition.name_at
    return f"{definition.path}:{line}:{column}"


def _ambiguous(definitions: list[Definition]) -> list[Problem]:
    """A problem at the ``name:`` of each of several definitions of one name."""
    name = definitions[0].name
    problems = []
    for definition in definitions:
        others = ", ".join(_place(d) for d in definitions if d is not definition)
        line, column = definition.name_at
        message = (
            f"workflow name {name!r} is also declared in {others}: which one to run is "
            "ambiguous, so none of them runs"
        )
        problems.append(Problem(definition.path, line, column, message, _UNIQUE))
    return problems


def _workflow_cycles(names: list[str], calls: list[tuple[str, str, Step, str]]) -> list[Problem]:
    import networkx as nx  # only on this error path: networkx costs 0.2 s to import

    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for parent, child, step, path in calls:
        graph.add_edge(parent, child, step=step, path=path)
    problems = []
    for component in nx.strongly_connected_components(graph):
        members = sorted(component)
        if len(members) == 1 and not graph.has_edge(members[0], members[0]):
            continue
        cycle = [edge for edge in nx.find_cycle(graph.subgraph(component))]
        names = [a for a, _ in cycle]
        start = names.index(min(names))
        names = names[start:] + names[:start]
        first_edge = graph.edges[names[0], names[1 % len(names)]]
        step = first_edge["step"]
        line, column = step.target_at
        problems.append(
            Problem(
                first_edge["path"],
                line,
                column,
                "workflows start each other in a cycle: " + " -> ".join([*names, names[0]]),
                "a child workflow cannot (directly or indirectly) start its parent",
                step.id,
            )
        )
    return problems


def load_catalog(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, strict: bool = True
) -> Catalog:
    """Every definition in the given folders and files, checked together.

    Raises :class:`DefinitionError` listing the problems of every file at once; with
    ``strict=False``, sets the workflows with problems aside instead (see
    :meth:`Catalog.usable`) and never raises for a definition's problems.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = definition_files(paths)
    definitions, problems = [], []
    set_aside: dict[str, list[Problem]] = {}
    for file in files:
        definition, found = _read(file)
        problems += found
        if definition is not None and not found:
            definitions.append(definition)
        elif definition is not None and definition.name:
            set_aside.setdefault(definition.name, []).extend(found)
    if not strict:
        return Catalog.usable(definitions, problems, set_aside)
    try:
        catalog = Catalog(definitions)
    except DefinitionError as exc:
        problems += exc.problems
    if problems:
        raise DefinitionError(problems)
    return catalog


class Check:
    """What :func:`check_paths` found: the valid definitions and every problem."""

    def __init__(self, files: list[Path], definitions: list[Definition], problems: list[Problem]):
        self.files = files
        self.definitions = definitions
        self.problems = sorted(problems)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_paths(paths: Iterable[str | os.PathLike[str]]) -> Check:
    """Validate files and folders without raising, for tools such as ``wfkit validate``.

    Child workflows named by ``workflow:`` steps are resolved against the definitions
    checked together and, quietly, against the other files in the same folders (so that
    one file can be checked alone); only the problems of the files named are reported.
    """
    files = definition_files(paths)
    named = {str(f) for f in files}
    definitions, problems = [], []
    for file in files:
        definition, found = _read(file)
        problems += found
        if definition is not None and not found:
            definitions.append(definition)
    siblings = []
    for folder in sorted({f.parent for f in files}):
        for file in definition_files([folder]):
            if str(file) not in named:
                sibling, found = _read(file)
                if sibling is not None and not found:
                    siblings.append(sibling)
    taken = {d.name for d in definitions}
    context = [s for s in siblings if s.name not in taken]
    try:
        Catalog([*definitions, *context])
    except DefinitionError as exc:
        problems += [p for p in exc.problems if p.path in named]
    return Check(files, definitions, problems)
