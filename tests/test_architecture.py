"""The shape of the package: layers point down, the public surface is deliberate."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import wfkit

PACKAGE = Path(wfkit.__file__).parent
LAYERS = [
    {"errors"},
    {"common"},
    {"definition"},
    {"graph"},
    {"engine"},
    {"store", "steps"},
    {"runtime"},
    {"views"},
    {"server"},
    {"cli"},
]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "wfkit" or len(parts) < 2:
        return None
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    return None


_IMPORT_FUNCTIONS = {"import_module", "__import__"}


def _imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, how) for each import of ``path``: ``import``/``from`` statements, and
    ``importlib.import_module("...")`` / ``__import__("...")`` calls with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, "imports"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, "imports") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in _IMPORT_FUNCTIONS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                found.append((node.lineno, first.value, f"loads by {name}()"))
    return found


def upward_imports(package: Path) -> list[str]:
    """Every import (static, or dynamic with a literal module name) in the package at
    ``package`` that points to a higher layer or a sibling of the same layer.

    The package's own ``__init__.py`` is the facade above every layer (the public
    surface, not a layer): its lazy table of names and the module it asks to load for
    notebook display are not layer imports, and it is not checked."""
    root = package.name
    wrong = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join((root, *path.relative_to(package).with_suffix("").parts))
        own = _layer(module)
        if own is None:
            continue
        for line, imported, how in _imports(path):
            other = _layer(imported)
            same_group = other is not None and LAYERS[other] == LAYERS[own]
            where = f"{path.relative_to(package)}:{line}"
            if other is not None and other > own:
                wrong.append(f"{where} {how} {imported}")
            elif same_group and imported.split(".")[1] != module.split(".")[1]:
                wrong.append(f"{where} {how} sibling {imported}")
    return wrong


def test_no_module_imports_a_higher_layer() -> None:
    wrong = upward_imports(PACKAGE)
    assert not wrong, "imports must point down only:\n" + "\n".join(wrong)


def test_the_layer_check_sees_static_and_dynamic_imports(tmp_path: Path) -> None:
    """The checker itself, on a small made-up tree, so that it cannot pass by seeing nothing."""
    package = tmp_path / "wfkit"
    files = {
        "__init__.py": 'import importlib\nimportlib.import_module("wfkit.views")\n',
        "engine/__init__.py": "",
        "engine/up.py": "from wfkit.runtime import api\n",
        "engine/down.py": "from wfkit.errors import WfkitError\n",
        "runtime/__init__.py": "",
        "runtime/api.py": 'import importlib\nw = importlib.import_module("wfkit.views.widget")\n',
        "runtime/bare.py": 'from importlib import import_module\nimport_module("wfkit.cli")\n',
        "runtime/dunder.py": '__import__("wfkit.server.app")\n',
        "runtime/variable.py": "import importlib\nname = 'x'\nimportlib.import_module(name)\n",
        "runtime/fine.py": 'import importlib\nimportlib.import_module("wfkit.steps.call")\n',
        "store/side.py": 'import importlib\nimportlib.import_module("wfkit.steps.call")\n',
        "views/widget.py": "import wfkit.runtime.api\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    assert upward_imports(package) == [
        "engine/up.py:1 imports wfkit.runtime",
        "runtime/api.py:2 loads by import_module() wfkit.views.widget",
        "runtime/bare.py:2 loads by import_module() wfkit.cli",
        "runtime/dunder.py:1 loads by __import__() wfkit.server.app",
        "store/side.py:2 loads by import_module() sibling wfkit.steps.call",
    ]


def test_import_linter_contract_is_kept() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_public_surface_is_sorted_and_importable() -> None:
    assert wfkit.__all__ == sorted(wfkit.__all__)
    for name in wfkit.__all__:
        assert hasattr(wfkit, name), name
    assert {"load_definition", "load_catalog", "Definition", "DefinitionError"} <= set(
        wfkit.__all__
    )


def test_every_error_of_the_tree_is_public() -> None:
    """What wfkit.errors draws in its tree, a user can catch as ``wfkit.<Name>``."""
    import wfkit.errors

    missing = sorted(set(wfkit.errors.__all__) - set(wfkit.__all__))
    assert not missing, f"add to wfkit/__init__.py (_EXPORTS and TYPE_CHECKING): {missing}"
    for name in wfkit.errors.__all__:
        assert getattr(wfkit, name) is getattr(wfkit.errors, name)
        if name != "Problem":
            assert name in wfkit.errors.__doc__, f"{name} is not drawn in the tree"


def test_every_public_module_has_a_docstring() -> None:
    missing = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.stat().st_size and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert not missing, missing


PUBLIC_NAMES = [
    "Catalog", "ContractError", "Definition", "DefinitionError", "Duration", "EdgeView",
    "ErrNotImplemented", "ErrorCategory", "EventBufferFull", "Expression",
    "ExpressionBudgetExceeded", "ForeachTooWide", "GetRequest", "GraphView", "HistoryDecodeError",
    "IllegalTransition", "InputSpec", "Instance", "InstanceAlreadyExists", "InstanceBusy",
    "InstanceError", "InstanceFailed", "InstanceNotFound", "InvalidEventData", "InvalidEventName",
    "InvalidInput", "InvalidInstanceId", "InvalidJsonText", "InvalidPurgeFilter", "Metadata",
    "NotInitialized", "OnError", "OutputError", "OutputTooLarge", "PauseRequest",
    "PinnedDefinitionMissing", "Problem", "PurgeRequest", "RaiseEventRequest", "RenderError",
    "ResumeRequest", "RetryPolicy", "RunnerClosed", "RunnerUnavailable", "Runtime", "RuntimeStatus", "SettingsError",
    "StartRequest", "StartResponse", "StateResponse", "Step", "StepExecutor", "StepInfo",
    "StepKind", "StepStatus", "StepView", "StoreError", "Template", "TerminateRequest",
    "UnknownCondition", "UnknownEventWarning", "UnknownRunner", "UnknownStatus", "UnknownStep",
    "UnknownWorkflow",
    "VersionConflict", "WaitSpec", "WfkitError", "Workflow", "WorkflowState", "build_graph",
    "build_view", "load_catalog", "load_definition", "load_schema", "open", "output",
    "parse_definition", "schema_text",
]  # fmt: skip


def test_the_public_surface_is_exactly_this() -> None:
    """A name added to (or dropped from) ``wfkit`` is a decision: write it here too."""
    assert wfkit.__all__ == PUBLIC_NAMES


def test_the_facade_lazy_table_and_its_type_checking_imports_agree() -> None:
    """``wfkit/__init__.py`` names each public name twice (``_EXPORTS`` for the lazy
    loader, ``TYPE_CHECKING`` imports for type checkers and editors): the same names from
    the same places."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    typed = {
        alias.asname or alias.name: f"{node.module}:{alias.name}"
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    lazy = {
        name: where if ":" in where else f"{where}:{name}" for name, where in wfkit._EXPORTS.items()
    }
    assert typed == lazy


def _wfkit_error_classes() -> list[type]:
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(wfkit.__path__, "wfkit."):
        if not info.name.startswith("wfkit.__main__"):
            importlib.import_module(info.name)
    found, todo = [], [wfkit.WfkitError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_every_error_lives_in_the_tree_with_a_category() -> None:
    """Each error wfkit raises on purpose is defined in ``wfkit.errors``, drawn in its tree
    and carries its own ``category`` (what the HTTP server maps to a status code)."""
    import wfkit.errors

    classes = _wfkit_error_classes()
    elsewhere = sorted(
        f"{c.__module__}.{c.__qualname__}" for c in classes if c.__module__ != "wfkit.errors"
    )
    assert not elsewhere, f"define these in wfkit/errors.py (re-export them): {elsewhere}"
    for cls in classes:
        assert cls.__name__ in wfkit.errors.__all__, cls
        assert isinstance(vars(cls).get("category"), wfkit.errors.ErrorCategory), (
            f"{cls.__name__} has no category of its own"
        )


def test_no_module_raises_the_bare_base_error() -> None:
    """``raise WfkitError(...)`` has no category a caller can act on: name the error."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and ast.unparse(node.exc.func) in {"WfkitError", "errors.WfkitError"}
            ):
                bare.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not bare, bare
