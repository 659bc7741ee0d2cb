"""The documentation site: generated pages match the code, references are complete, and
``mkdocs build --strict`` succeeds.

The generated pages (``docs/reference/*.md``, ``docs/concepts/statuses.md``,
``docs/tutorials.md`` and ``docs/tutorials/``, a page per tutorial notebook with its saved
outputs) are committed. When one of these tests fails after a change to the schema, the
CLI, the public API, the statuses, the contract or the notebooks (executing one changes
its outputs), run ``python -m docs._gen`` from the repository root and commit the result.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
TUTORIALS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
REGENERATE = "run `python -m docs._gen` from the repository root and commit the pages"
INSTALL_DOCS = (
    "mkdocs is not installed, so the documentation cannot be built: install the docs "
    "extra (pip install -e '.[docs]', which the dev extra includes)"
)


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every generated page, made afresh by the documented command into a temp folder."""
    out = tmp_path_factory.mktemp("regenerated")
    result = _run("-m", "docs._gen", "--out", str(out))
    assert result.returncode == 0, f"`python -m docs._gen` failed:\n{result.stderr}"
    return out


def _page(relative: str) -> str:
    return (DOCS / relative).read_text(encoding="utf-8")


# ---------------------------------------------------------------- generated pages


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_the_generator_makes_the_expected_pages(regenerated: Path) -> None:
    assert _files(regenerated) == [
        "concepts/statuses.md",
        "reference/api.md",
        "reference/cli.md",
        "reference/dapr.md",
        "reference/language.md",
        "tutorials.md",
        "tutorials/01-quickstart.md",
        "tutorials/02-pause-resume-step.md",
        "tutorials/03-human-in-the-loop.md",
        "tutorials/04-failures-and-retries.md",
        "tutorials/05-fan-out-and-children.md",
        "tutorials/06-durability.md",
        "tutorials/07-notebook-steps.md",
        "tutorials/08-dask.md",
        "tutorials/notebook.css",
    ]


def test_generated_pages_are_up_to_date(regenerated: Path) -> None:
    stale = []
    for relative in _files(regenerated):
        fresh = regenerated / relative
        committed = DOCS / relative
        if not committed.is_file():
            stale.append(f"docs/{relative} is missing")
        elif committed.read_bytes() != fresh.read_bytes():  # bytes: a stray \r counts
            old = committed.read_bytes().decode("utf-8").split("\n")
            new = fresh.read_bytes().decode("utf-8").split("\n")
            first = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                min(len(old), len(new)),
            )
            stale.append(
                f"docs/{relative} differs from the code, first at line {first + 1}:\n"
                f"  committed: {old[first] if first < len(old) else '<end>'}\n"
                f"  generated: {new[first] if first < len(new) else '<end>'}"
            )
    assert not stale, "\n".join(stale) + f"\n{REGENERATE}"


def test_the_generated_folder_holds_only_generated_files(regenerated: Path) -> None:
    committed = _files(DOCS / "tutorials")
    fresh = _files(regenerated / "tutorials")
    assert committed == fresh, f"docs/tutorials/ differs from what is generated; {REGENERATE}"


def test_check_mode_agrees() -> None:
    result = _run("-m", "docs._gen", "--check")
    assert result.returncode == 0, result.stderr + REGENERATE


def test_check_mode_and_regeneration_catch_a_page_no_longer_generated(
    regenerated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "docs"
    shutil.copytree(regenerated, out)
    (out / "tutorials" / "99-gone.md").write_text("# A tutorial since removed\n")
    result = _run("-m", "docs._gen", "--check", "--out", str(out))
    assert result.returncode == 1
    assert "no longer generated: docs/tutorials/99-gone.md" in result.stderr
    result = _run("-m", "docs._gen", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert not (out / "tutorials" / "99-gone.md").exists()
    assert _files(out) == _files(regenerated)


def test_generated_pages_say_they_are_generated() -> None:
    for relative in (
        "reference/language.md",
        "reference/cli.md",
        "reference/api.md",
        "reference/dapr.md",
        "concepts/statuses.md",
        "tutorials.md",
        *(f"tutorials/{path.stem}.md" for path in TUTORIALS),
    ):
        assert _page(relative).startswith("<!-- Generated by `python -m docs._gen`"), relative


# ---------------------------------------------------------------- completeness


#: Schema keywords whose values are data, not schemas: an example may well be a mapping
#: with keys named ``properties`` or ``enum``. The walks below do not enter them.
_DATA_KEYWORDS = {"examples", "default", "const", "enum"}
#: Keywords whose values map names (of keys, of definitions) to schemas.
_NAMED_SCHEMAS = {"properties", "$defs"}


def _subschemas(node: Any) -> list[dict[str, Any]]:
    """Every schema inside a JSON Schema, itself included (not the data of examples)."""
    found = []
    if isinstance(node, dict):
        found.append(node)
        for key, value in node.items():
            if key in _NAMED_SCHEMAS and isinstance(value, dict):
                found += [s for sub in value.values() for s in _subschemas(sub)]
            elif key not in _DATA_KEYWORDS:
                found += _subschemas(value)
    elif isinstance(node, list):
        found += [s for value in node for s in _subschemas(value)]
    return found


def _schema_keys(node: Any) -> set[str]:
    """Every key of a ``properties`` mapping anywhere in a JSON Schema."""
    return {key for schema in _subschemas(node) for key in schema.get("properties", {})}


def test_every_schema_key_is_in_the_language_reference() -> None:
    schema = json.loads((ROOT / "wfkit" / "definition" / "schema.json").read_text("utf-8"))
    page = _page("reference/language.md")
    keys = _schema_keys(schema)
    assert len(keys) > 30  # the walk found the keys at every level
    missing = sorted(k for k in keys if f"| `{k}` |" not in page)
    assert not missing, f"schema keys missing from the language reference: {missing}"
    anchors = sorted(d for d in schema["$defs"] if f"{{#{d.lower()}}}" not in page)
    assert not anchors, f"schema definitions without a section: {anchors}"
    for values in _enums(schema):
        for value in values:
            assert f"`{json.dumps(value)}`" in page, f"allowed value {value!r} not listed"


def test_the_language_page_takes_descriptions_from_the_schema_alone() -> None:
    """A key without a description in schema.json stops the generator (there is no other
    source of descriptions to fall back on); tests/definitions/test_schema_descriptions.py
    says which key."""
    source = (DOCS / "_gen" / "language.py").read_text(encoding="utf-8")
    assert "NOTES" not in source
    probe = (
        "from docs._gen import language\n"
        "language._rows({'properties': {'x': {'type': 'string'}}}, '')\n"
    )
    result = _run("-c", probe)
    assert result.returncode == 1
    assert "ValueError: schema.json: /properties/x has no description" in result.stderr


def _enums(node: Any) -> list[list[Any]]:
    return [s["enum"] for s in _subschemas(node) if isinstance(s.get("enum"), list)]


def test_every_cli_subcommand_and_option_is_in_the_cli_reference() -> None:
    import argparse

    from wfkit.cli.main import build_parser

    page = _page("reference/cli.md")
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(subparsers.choices) >= 14
    for name, sub in subparsers.choices.items():
        assert f"## `wfkit {name}`" in page, f"`wfkit {name}` is not in the CLI reference"
        section = page.split(f"## `wfkit {name}`", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in section, f"`wfkit {name} {flag}` is not documented"


def test_every_public_name_is_in_the_api_reference() -> None:
    import wfkit

    page = _page("reference/api.md")
    missing = [name for name in wfkit.__all__ if f"### `{name}`" not in page]
    assert not missing, f"names of wfkit.__all__ missing from the API reference: {missing}"


def test_the_api_reference_lists_the_attributes_an_init_sets() -> None:
    page = _page("reference/api.md")
    runtime = page.split("### `Runtime`", 1)[1].split("\n### ", 1)[0]
    for name in ("engine", "folder", "runner", "settings", "store", "workflows"):
        assert f"- `{name}`: " in runtime, f"Runtime.{name} is not described"
    instance = page.split("### `Instance`", 1)[1].split("\n### ", 1)[0]
    assert "- `id`: The instance id." in instance
    failed = page.split("### `InstanceFailed`", 1)[1].split("\n### ", 1)[0]
    assert "`stack_trace`" in failed and "`error_type`" in failed


def test_the_transition_table_covers_every_status_and_operation() -> None:
    from wfkit.engine.core.status import Operation, RuntimeStatus

    page = _page("concepts/statuses.md")
    table = page.split("## Lifecycle operations by status", 1)[1]
    for status in RuntimeStatus:
        assert re.search(rf"^\| `{status.value}` \|", table, re.M), status
    header = next(line for line in table.splitlines() if line.startswith("| status |"))
    for operation in Operation:
        assert f"`{operation.value}`" in header, operation


def test_getting_started_has_the_readme_setup_commands_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", section, re.S)
    assert len(commands) == 2
    page = _page("getting-started.md")
    for command in commands:
        assert f"```sh\n{command}\n```" in page, f"getting-started.md lacks: {command}"


def _nav_pages(nav: Any) -> list[str]:
    """Every page of an mkdocs nav (or part of it), in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _nav() -> list[Any]:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav: list[Any] = config["nav"]
    return nav


def test_every_page_is_in_the_navigation() -> None:
    """Every Markdown page under docs/ (the generators in docs/_gen/ excluded, as
    mkdocs.yml excludes them) is in the nav once, and the nav names no other file."""
    listed = _nav_pages(_nav())
    present = sorted(
        p.relative_to(DOCS).as_posix()
        for p in DOCS.rglob("*.md")
        if p.relative_to(DOCS).parts[0] != "_gen"
    )
    assert present, "no pages found"
    missing = [page for page in present if page not in listed]
    assert not missing, f"pages under docs/ missing from mkdocs.yml's nav: {missing}"
    unknown = [page for page in listed if page not in present]
    assert not unknown, f"mkdocs.yml's nav lists pages that do not exist: {unknown}"
    twice = sorted({page for page in listed if listed.count(page) > 1})
    assert not twice, f"pages listed twice in the nav: {twice}"


def test_the_tutorials_section_lists_each_tutorial_in_order() -> None:
    (section,) = [
        item["Tutorials"] for item in _nav() if isinstance(item, dict) and "Tutorials" in item
    ]
    assert _nav_pages(section) == ["tutorials.md", *(f"tutorials/{p.stem}.md" for p in TUTORIALS)]


# ---------------------------------------------------------------- tutorial pages


def _notebook(path: Path) -> dict[str, Any]:
    notebook: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def _joined(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _steps(tag: Any) -> list[tuple[str, str]]:
    """The (step id, status class) of each step node of the wfkit graphs under ``tag``."""
    steps = []
    for node in tag.select("g.wfkit-step"):
        (status,) = [c for c in node.get("class", []) if c.startswith("status-")]
        steps.append((node["id"], status))
    return steps


def _saved_graphs(notebook: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Each graph the notebook's outputs show, in order, as its steps and their statuses:
    from the HTML (or else the SVG) of an output, or for a widget from the HTML models
    of its saved state."""
    from bs4 import BeautifulSoup

    state = notebook["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})

    def widget_html(model_id: str) -> str:
        model = state[model_id]
        value = model["state"].get("value") if model["model_name"] == "HTMLModel" else None
        children = model["state"].get("children", [])
        return (value or "") + "".join(widget_html(c.removeprefix("IPY_MODEL_")) for c in children)

    graphs = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                text = widget_html(data[WIDGET_VIEW]["model_id"])
            else:
                text = _joined(data.get("text/html", data.get("image/svg+xml", "")))
            for svg in BeautifulSoup(text, "html.parser").select("svg"):
                graphs.append(_steps(svg))
    return graphs


def _page_graphs(html: str) -> list[list[tuple[str, str]]]:
    from bs4 import BeautifulSoup

    return [_steps(svg) for svg in BeautifulSoup(html, "html.parser").select("svg")]


def test_every_tutorial_has_a_page_linked_from_the_index() -> None:
    assert len(TUTORIALS) >= 7, TUTORIALS
    index = _page("tutorials.md")
    for path in TUTORIALS:
        assert (DOCS / "tutorials" / f"{path.stem}.md").is_file(), path.name
        assert f"](tutorials/{path.stem}.md)" in index, f"tutorials.md does not link {path.stem}"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_a_tutorial_page_has_every_code_cell_of_its_notebook(path: Path) -> None:
    page = _page(f"tutorials/{path.stem}.md")
    cells = [c for c in _notebook(path)["cells"] if c["cell_type"] == "code"]
    sources = [_joined(c["source"]).rstrip("\n") for c in cells if _joined(c["source"]).strip()]
    assert len(sources) >= 8
    for source in sources:
        fenced = re.compile(r"^(`{3,})python\n" + re.escape(source) + r"\n\1$", re.M)
        assert fenced.search(page), f"{path.stem}.md lacks the code cell:\n{source}"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_a_tutorial_page_shows_the_saved_outputs(path: Path) -> None:
    """Printed text, results, errors and graphs as the notebook saved them; a widget by its
    saved state, whose model ids (new at every execution) are not on the page."""
    notebook = _notebook(path)
    page = _page(f"tutorials/{path.stem}.md")
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                lines = _joined(output["text"]).replace("\r\n", "\n").split("\n")
                text = "\n".join(line.rsplit("\r", 1)[-1] for line in lines).rstrip("\n")
                assert text in page, f"{path.stem}.md lacks the printed text:\n{text}"
            elif output["output_type"] == "error":
                line = f"{output['ename']}: {output['evalue']}"
                assert line in page, f"{path.stem}.md lacks the error {line}"
            elif set(output.get("data", {})) == {"text/plain"}:
                text = _joined(output["data"]["text/plain"])
                assert text in page, f"{path.stem}.md lacks the result {text}"
    saved = _saved_graphs(notebook)
    assert _page_graphs(page) == saved
    if path.stem in ("01-quickstart", "04-failures-and-retries", "05-fan-out-and-children"):
        assert saved and all(saved), "the notebook's graphs were not found"
    state = notebook["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    leaked = [model_id for model_id in state if model_id in page]
    assert not leaked, f"widget model ids on {path.stem}.md: {leaked[:3]}"
    assert "\r" not in page and "\x1b" not in page


def test_a_saved_widget_is_shown_by_its_final_state() -> None:
    """The first panel of the quickstart was saved while its run was starting (text/plain
    says RUNNING); its saved state, and so the page, say COMPLETED."""
    notebook = _notebook(NOTEBOOKS / "01-quickstart.ipynb")
    (cell,) = [c for c in notebook["cells"] if "%wfkit run hello" in _joined(c["source"])]
    (output,) = cell["outputs"]
    assert "RUNNING" in _joined(output["data"]["text/plain"])
    page = _page("tutorials/01-quickstart.md")
    section = page.split("= %wfkit run hello who=ana\n", 1)[1].split("```python", 1)[0]
    assert "hello · COMPLETED · 2/2 steps" in section
    assert '<progress value="2" max="2"></progress> 2/2' in section
    assert "VBox(children=" not in page


# ---------------------------------------------------------------- the build


def test_mkdocs_build_strict_succeeds(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail(INSTALL_DOCS)
    site = tmp_path / "site"
    result = _run(
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(ROOT / "mkdocs.yml"),
        "--site-dir",
        str(site),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, output
    for page in (
        "index.html",
        "getting-started/index.html",
        "reference/language/index.html",
        "reference/cli/index.html",
        "reference/api/index.html",
        "reference/dapr/index.html",
        "concepts/statuses/index.html",
        "tutorials/index.html",
        *(f"tutorials/{path.stem}/index.html" for path in TUTORIALS),
    ):
        assert (site / page).is_file(), page
    assert not (site / "_gen").exists(), "the generators must not be published"
    assert (site / "tutorials" / "notebook.css").is_file()
    for path in TUTORIALS:  # the raw HTML of the outputs went through Markdown intact
        built = (site / "tutorials" / path.stem / "index.html").read_text(encoding="utf-8")
        assert "../notebook.css" in built, f"{path.stem}: the stylesheet is not linked"
        assert _page_graphs(built) == _saved_graphs(_notebook(path)), path.stem
