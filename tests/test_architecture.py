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
    {"cli", "server"},
]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "wfkit" or len(parts) < 2:
        return None
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("wfkit", *path.relative_to(PACKAGE).with_suffix("").parts))
        own = _layer(module)
        if own is None:
            continue
        for line, imported in _imports(path):
            other = _layer(imported)
            same_group = other is not None and LAYERS[other] == LAYERS[own]
            if other is not None and other > own:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {imported}")
            elif same_group and imported.split(".")[1] != module.split(".")[1]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports sibling {imported}")
    assert not wrong, "imports must point down only:\n" + "\n".join(wrong)


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
