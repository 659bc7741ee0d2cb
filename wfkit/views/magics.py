"""IPython magics: ``%%wfkit`` defines a workflow in a cell, ``%wfkit`` runs and lists.

Load them with ``%load_ext wfkit.views.magics`` (or ``%load_ext wfkit``)::

    %%wfkit
    wfkit: 1
    name: hello
    inputs: {who: {type: string}}
    steps:
      greet: {call: "json:dumps", with: {obj: "${{ inputs.who }}"}}

    %wfkit run hello who=ana        # starts it, shows its live panel, returns at once
    job = %wfkit run hello who=bo   # the same, and keeps the Instance in ``job``
    %wfkit list                     # the session's workflows and its latest instances
    %wfkit use rt                   # use the Runtime held by the variable ``rt``
    %wfkit use definitions=flows store=sqlite:///runs.db workers=2

**The session runtime.** The magics work on one :class:`~wfkit.runtime.api.Runtime` per
kernel: the one set with :func:`set_session_runtime` or ``%wfkit use``, else one opened
by ``wfkit.open()`` on first use (definitions from ``WFKIT_DEFINITIONS`` or
``./definitions``, the store from ``WFKIT_STORE`` or ``.wfkit/wfkit.db``). A runtime the
magics opened themselves is closed when another one replaces it; one you passed in is
left open.

``%%wfkit`` validates the cell with ``wfkit.parse_definition(text, path="<cell>")``. On
problems the cell fails with a ``UsageError`` that lists them, one per line as
``<cell>:LINE:COLUMN: message`` with the cell's own line numbers (the ``%%wfkit`` line
is line 1), and no traceback; nothing is registered, and "Run all" stops there rather
than go on with an older definition of the same name. A valid definition replaces any
of the same name in the session runtime (:meth:`Runtime.add`) and its graph is shown.

``%wfkit run`` reads each ``key=value`` as JSON (``n=3``, ``tags=["a","b"]``), falling
back to the text itself; inputs declared ``type: string`` always take the text
(``version=1.10`` stays ``"1.10"``). It returns at once: the live panel shows the run,
and the magic's value is the :class:`~wfkit.runtime.api.Instance`, so that
``job = %wfkit run NAME ...`` keeps it (``job.wait()``, ``job.raise_event(...)``). In
the cell that ran the magic, the instance is not drawn a second time below its panel;
anywhere else it displays as any instance does.

Mistakes in a command fail the cell with a ``UsageError`` and no traceback: one line, or
one line per problem (an input that does not match the definition's ``inputs``, say).
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from wfkit.definition.model import Definition
from wfkit.errors import DefinitionError, InvalidJsonText, Problem, WfkitError
from wfkit.graph import parse_definition
from wfkit.runtime.api import Instance, Runtime, open_runtime
from wfkit.runtime.textjson import input_value

__all__ = [
    "CELL_PATH",
    "ShownInstance",
    "cell_problems",
    "define",
    "load_ipython_extension",
    "parse_inputs",
    "session_runtime",
    "set_session_runtime",
    "unload_ipython_extension",
]

#: The path that problems in a ``%%wfkit`` cell name.
CELL_PATH = "<cell>"

USAGE = """\
%%wfkit                      (a cell of YAML) define a workflow and show its graph
%wfkit run NAME key=value …  start a workflow, show its live panel, return the Instance
                             (job = %wfkit run NAME key=value … keeps it)
%wfkit list                  workflows and latest instances of the session runtime
%wfkit use VARIABLE          use the Runtime held by a variable
%wfkit use definitions=DIR store=URL workers=N   open and use a new runtime"""

_lock = threading.Lock()
_session: Runtime | None = None
_session_is_ours = False


def session_runtime() -> Runtime:
    """The runtime the magics use; opened with ``wfkit.open()`` on first use."""
    global _session, _session_is_ours
    with _lock:
        if _session is None:
            _session, _session_is_ours = open_runtime(), True
        return _session


def set_session_runtime(runtime: Runtime | None) -> None:
    """Make the magics use ``runtime`` (None: open a default one on next use).

    A runtime the magics opened themselves is closed; one you passed in is left open.
    """
    global _session, _session_is_ours
    with _lock:
        old, ours = _session, _session_is_ours
        _session, _session_is_ours = runtime, False
    if ours and old is not None and old is not runtime:
        old.close()


def cell_problems(problems: Sequence[Problem], *, line_offset: int = 1) -> list[Problem]:
    """Problems located in a cell, moved down by ``line_offset`` lines (the ``%%wfkit``
    line), so that they name the lines people see in the cell."""
    return [
        replace(p, line=p.line + line_offset) if p.path == CELL_PATH and p.line else p
        for p in problems
    ]


def define(text: str, runtime: Runtime | None = None) -> Definition:
    """Validate the YAML ``text`` of a ``%%wfkit`` cell and add it to ``runtime`` (the
    session's by default); returns the definition.

    Raises :class:`~wfkit.errors.DefinitionError` whose problems carry the cell's line
    numbers; nothing is added then.
    """
    try:
        definition = parse_definition(text, path=CELL_PATH)
        (runtime or session_runtime()).add(definition)
    except DefinitionError as exc:
        raise DefinitionError(cell_problems(exc.problems)) from None
    return definition


def parse_inputs(pairs: Sequence[str], definition: Definition) -> dict[str, Any]:
    """``key=value`` words as inputs, read as ``wfkit run -i`` reads them: see
    :func:`wfkit.runtime.textjson.input_value`."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"expected key=value, got {pair!r}")
        spec = definition.inputs.get(key)
        try:
            values[key] = input_value(key, text, None if spec is None else spec.type)
        except InvalidJsonText as exc:
            raise UsageError(str(exc)) from None
    return values


def _show(obj: object) -> None:
    display(obj)  # type: ignore[no-untyped-call]


def _show_nothing() -> None:
    """Display nothing: the object was shown already."""


class ShownInstance(Instance):
    """The :class:`~wfkit.runtime.api.Instance` that ``%wfkit run`` returns.

    The magic has shown its live panel in the cell that ran it. When that cell ends with
    the magic (``%wfkit run NAME``), IPython displays its value too, which would draw the
    instance a second time below the panel, frozen at its start; so in the cell that ran
    the magic it displays as nothing. In any other cell it displays as any instance.
    """

    def __init__(self, instance: Instance, shell: Any) -> None:
        super().__init__(instance.runtime, instance.id)
        self._shell = shell
        self._shown_in: int | None = getattr(shell, "execution_count", None)

    @property
    def _ipython_display_(self) -> Callable[[], None] | None:
        """IPython's hook: a display that shows nothing in the cell that ran the magic,
        and None (display as usual, through ``_repr_mimebundle_``) elsewhere."""
        now = getattr(self._shell, "execution_count", None)
        return _show_nothing if now is not None and now == self._shown_in else None


class _Magic:
    """``%wfkit`` and ``%%wfkit``, bound to one IPython shell (for ``%wfkit use``)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.commands: Mapping[str, Callable[[list[str]], Instance | None]] = {
            "run": self.run_command,
            "list": self.list_command,
            "use": self.use_command,
            "help": self.help_command,
        }

    def __call__(self, line: str, cell: str | None = None) -> Instance | None:
        if cell is not None:
            try:
                _show(define(cell))
            except DefinitionError as exc:  # the problems, as text, without a traceback
                raise UsageError(str(exc)) from None
            return None
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot read the arguments: {exc}") from None
        command = self.commands.get(words[0] if words else "help")
        if command is None:
            raise UsageError(f"unknown %wfkit command {words[0]!r}\n{USAGE}")
        try:
            return command(words[1:])
        except WfkitError as exc:  # a person's mistake: its message, no traceback
            raise UsageError(str(exc)) from None

    def run_command(self, words: list[str]) -> Instance:
        """``%wfkit run NAME key=value ...``: start, show the live panel, return the
        Instance at once."""
        if not words:
            raise UsageError("usage: %wfkit run NAME [key=value ...]")
        from wfkit.views.widget import InstanceWidget  # needs ipywidgets

        runtime = session_runtime()
        definition = runtime.definition(words[0])
        instance = runtime.start(words[0], parse_inputs(words[1:], definition))
        _show(InstanceWidget(instance))
        return ShownInstance(instance, self.shell)

    def list_command(self, words: list[str]) -> None:
        """``%wfkit list``: the session's workflows, then its 10 latest instances."""
        runtime = session_runtime()
        lines = [f"workflows ({runtime.settings.definitions}):"]
        definitions = sorted(runtime.catalog, key=lambda d: d.name)
        width = max((len(d.name) for d in definitions), default=0)
        for d in definitions:
            steps = f"{len(d.steps) + len(d.finally_steps)} steps"
            lines.append(f"  {d.name.ljust(width)}  {steps:>8}  {d.description}".rstrip())
        if not definitions:
            lines.append("  (none: define one with %%wfkit)")
        rows = runtime.workflows.list(limit=10)
        lines.append("latest instances:" if rows else "no instances yet")
        lines += [f"  {r.instance_id}  {r.workflow_name}  {r.status}" for r in rows]
        print("\n".join(lines))

    def use_command(self, words: list[str]) -> None:
        """``%wfkit use VARIABLE`` or ``%wfkit use definitions=DIR store=URL workers=N``."""
        if len(words) == 1 and "=" not in words[0]:
            runtime = self.shell.user_ns.get(words[0])
            if not isinstance(runtime, Runtime):
                raise UsageError(f"{words[0]!r} is not a wfkit Runtime (make one: wfkit.open())")
            set_session_runtime(runtime)
        else:
            options = dict(word.partition("=")[::2] for word in words)
            unknown = sorted(set(options) - {"definitions", "store", "workers"})
            if unknown or not words:
                raise UsageError(
                    f"usage: %wfkit use VARIABLE | definitions=DIR store=URL "
                    f"workers=N (not {', '.join(unknown) or 'nothing'})"
                )
            try:
                workers = int(options["workers"]) if options.get("workers") else None
                runtime = open_runtime(options.get("definitions"), options.get("store"), workers)
            except ValueError as exc:
                raise UsageError(f"cannot open a runtime: {exc}") from None
            set_session_runtime(runtime)
            global _session_is_ours
            with _lock:
                _session_is_ours = _session is runtime
        print(repr(runtime))

    def help_command(self, words: list[str]) -> None:
        """``%wfkit`` or ``%wfkit help``: the usage."""
        print(USAGE)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%wfkit`` and ``%%wfkit`` (``%load_ext wfkit.views.magics``)."""
    ipython.register_magic_function(_Magic(ipython), magic_kind="line_cell", magic_name="wfkit")


def unload_ipython_extension(ipython: Any) -> None:
    """Forget ``%wfkit`` and ``%%wfkit`` (the session runtime stays open)."""
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("wfkit", None)
