"""Every executed tutorial, exported to HTML and rendered by a real browser, offline.

Each tutorial notebook (``notebooks/NN-*.ipynb``) is converted to HTML by nbconvert, with
the widget JavaScript served from local files instead of a CDN: ``embed-amd.js`` of the
npm package ``@jupyter-widgets/html-manager`` and ``require.js`` of ``requirejs``, fetched
once with ``npm pack`` into ``.cache/browser/``. Debian's headless ``chromium`` opens the
page with every host name unresolvable (so nothing comes from the network) and dumps the
DOM after the scripts ran. The test then checks, against what the notebook saved:

* the status graphs of the outputs (``text/html`` or ``image/svg+xml``: definitions and
  instances), one rendered graph per saved one, in order, each step with one
  ``status-<s>`` class, the same as in the saved output;
* the printed text of every stream output;
* for a notebook with widget state (``metadata.widgets``), that the instance panels really
  rendered: the graph SVG with the statuses of the saved state, the progress bar with its
  final value, the Pause/Resume/Step/Terminate buttons.

Everything written goes to ``artifacts/browser/``: the HTML, the dumped DOM and a screenshot
(``<notebook>.png``) of the cells that show graphs or panels (of the whole notebook when
none does), for a human to look at.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``) and ``npm`` (first run only);
without them the test fails, it never skips.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_FLAGS, INSTALL_CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / ".cache" / "browser"
ARTIFACTS = ROOT / "artifacts" / "browser"

# npm package spec -> (file inside its tarball, name served next to the HTML).
# Pinned: html-manager 1.x is the renderer of ipywidgets 8 (widget state version 2).
ASSETS = {
    "@jupyter-widgets/html-manager@1.0.15": ("package/dist/embed-amd.js", "embed-amd.js"),
    "requirejs@2.3.8": ("package/require.js", "require.js"),
}
CHROMIUM_PAGE_FLAGS = [
    *CHROMIUM_FLAGS,
    "--hide-scrollbars",
    # Offline on purpose: the page must render from local files only (MathJax and
    # Mermaid, which nbconvert links from a CDN, simply fail to load).
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=10000",
]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BUTTONS = ["Pause", "Resume", "Step", "Terminate"]


def _widget_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        cell
        for cell in notebook["cells"]
        if any(WIDGET_VIEW in out.get("data", {}) for out in cell.get("outputs", []))
    ]


def _has_widgets(notebook: dict[str, Any]) -> bool:
    return WIDGET_STATE in notebook["metadata"].get("widgets", {}) and bool(_widget_cells(notebook))


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _graph_html(output: dict[str, Any]) -> str:
    """The markup an output shows its graph in, as nbconvert's HTML picks it: the
    ``text/html`` (wfkit's summary, SVG and legend) before the bare ``image/svg+xml``."""
    data = output.get("data", {})
    if WIDGET_VIEW in data:
        return ""
    return _text(data.get("text/html", data.get("image/svg+xml", "")))


def _graph_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """Cells with an output that draws a graph: an SVG, or a widget."""
    return [
        cell
        for cell in notebook["cells"]
        if any(
            "<svg" in _graph_html(out) or WIDGET_VIEW in out.get("data", {})
            for out in cell.get("outputs", [])
        )
    ]


TUTORIALS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
WITH_WIDGETS = [p for p in TUTORIALS if _has_widgets(json.loads(p.read_text()))]


# -- tools ------------------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if found is None:
        pytest.fail(
            f"chromium is not installed; run: {INSTALL_CHROMIUM}  (Debian's package; "
            "this test renders the tutorials' widgets in it and must not be skipped)",
            pytrace=False,
        )
    return found


def _fetch(spec: str, member: str, name: str) -> Path:
    """``member`` of the npm tarball ``spec``, cached as ``.cache/browser/<version>/name``."""
    target = CACHE / spec.replace("/", "_") / name
    if target.is_file() and target.stat().st_size > 0:
        return target
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            f"npm is needed once to fetch {spec} into {CACHE}: apt-get install -y npm",
            pytrace=False,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        done = subprocess.run(
            [npm, "pack", spec, "--silent", "--pack-destination", scratch],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=scratch,
        )
        tarballs = list(Path(scratch).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            pytest.fail(f"npm pack {spec} failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
        with tarfile.open(tarballs[0]) as tar:
            source = tar.extractfile(member)
            assert source is not None, f"{member} not found in {tarballs[0].name}"
            partial = target.with_suffix(".partial")
            partial.write_bytes(source.read())
        partial.replace(target)  # atomic: a half-written file is never taken as cached
    return target


def _render(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [_chromium(), *CHROMIUM_PAGE_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Path:
    """``artifacts/browser/`` with the widget JavaScript in it."""
    _chromium()  # fail first, and clearly, when the browser is missing
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for spec, (member, name) in ASSETS.items():
        shutil.copyfile(_fetch(spec, member, name), ARTIFACTS / name)
    return ARTIFACTS


def _to_html(notebook: dict[str, Any], target: Path) -> Path:
    try:
        import nbformat
        from nbconvert import HTMLExporter
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.fail(f"{exc.name} is missing: pip install -e '.[dev]' (nbconvert)", pytrace=False)
    exporter = HTMLExporter(require_js_url="require.js", widget_renderer_url="embed-amd.js")
    body, _ = exporter.from_notebook_node(nbformat.reads(json.dumps(notebook), as_version=4))
    if _has_widgets(notebook):  # nbconvert adds the widget scripts only then
        assert "embed-amd.js" in body, "the widget JavaScript is not the local copy"
    assert "cdn.jsdelivr" not in body, "the widget JavaScript would come from a CDN"
    target.write_text(body, encoding="utf-8")
    return target


# -- reading the DOM --------------------------------------------------------------------


def _widget_graphs(state: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Each saved graph widget's steps as (id, status), from the HTML models' values."""
    from bs4 import BeautifulSoup

    graphs = []
    for model in state.values():
        value = model["state"].get("value")
        if model["model_name"] == "HTMLModel" and isinstance(value, str) and "<svg" in value:
            graphs.append(_steps(BeautifulSoup(value, "html.parser")))
    return [graph for graph in graphs if graph]


def _output_graphs(notebook: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """The graph of each output that draws one (widgets aside), in order: its steps as
    (id, status), parsed from the saved output."""
    from bs4 import BeautifulSoup

    graphs = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            for svg in BeautifulSoup(_graph_html(output), "html.parser").select("svg"):
                graphs.append(_steps(svg))
    return [graph for graph in graphs if graph]


def _steps(tag: Any) -> list[tuple[str, str]]:
    steps = []
    for node in tag.select("svg g.wfkit-step[id^=step_]"):
        status = [c for c in node.get("class", []) if c.startswith("status-")]
        assert len(status) == 1, f"{node.get('id')} has classes {node.get('class')}"
        steps.append((node["id"], status[0]))
    return sorted(steps)


def _rendered_output_graphs(dom: Any) -> list[list[tuple[str, str]]]:
    """The graphs in the rendered outputs that are not widgets, in document order."""
    graphs = []
    for output in dom.select(".jp-OutputArea-output"):
        if "jupyter-widgets" in output.get("class", []) or output.find_parent(
            class_="jupyter-widgets"
        ):
            continue
        graphs += [_steps(svg.parent) for svg in output.select("svg")]
    return [graph for graph in graphs if graph]


def _panels(dom: Any) -> list[Any]:
    """The rendered instance panels: widget boxes holding a progress bar (the widget
    manager only builds ``.jupyter-widgets`` elements when its JavaScript ran)."""
    return [
        box
        for box in dom.select(".jupyter-widgets.widget-vbox")
        if box.select(".widget-hprogress") and not box.find_parent(class_="widget-vbox")
    ]


def _words(text: str) -> str:
    return " ".join(text.split())


# -- the tests --------------------------------------------------------------------------


def test_every_tutorial_is_checked() -> None:
    numbers = [path.name[:2] for path in TUTORIALS]
    assert numbers[:7] == ["01", "02", "03", "04", "05", "06", "07"], numbers
    assert "01-quickstart.ipynb" in [path.name for path in WITH_WIDGETS]
    for path in TUTORIALS:
        if path.name[:2] in ("04", "05", "07"):  # their graphs are image/svg+xml outputs
            assert _output_graphs(json.loads(path.read_text())), f"no graph found in {path.name}"


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_renders_offline(path: Path, site: Path, tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    notebook = json.loads(path.read_text())
    page = _to_html(notebook, site / f"{path.stem}.html")
    done = _render(page.as_uri(), tmp_path / "profile", "--dump-dom")
    dumped = site / f"{path.stem}.dom.html"
    dumped.write_text(done.stdout, encoding="utf-8")
    dom = BeautifulSoup(done.stdout, "html.parser")
    assert dom.select(".jp-Cell"), f"no notebook cells in the rendered page (see {dumped})"

    saved = _output_graphs(notebook)
    rendered = _rendered_output_graphs(dom)
    assert rendered == saved, (
        f"{len(rendered)} graphs rendered for {len(saved)} saved (see {dumped}):\n"
        f"rendered {rendered}\nsaved    {saved}"
    )

    shown = _words(" ".join(out.get_text() for out in dom.select(".jp-OutputArea-output")))
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text = _words(_text(output["text"]))
                assert text in shown, f"printed text not rendered: {text[:200]}"
            elif output["output_type"] == "error":
                line = _words(f"{output['ename']}: {output['evalue']}")
                assert line in shown, f"error not rendered: {line}"

    if _has_widgets(notebook):
        _check_panels(path, notebook, dom, dumped)
    _screenshot(notebook, site / f"{path.stem}.png", tmp_path)


def _check_panels(path: Path, notebook: dict[str, Any], dom: Any, dumped: Path) -> None:
    """The saved widget panels rendered by the widget JavaScript, with the saved state."""
    state = notebook["metadata"]["widgets"][WIDGET_STATE]["state"]
    assert "Error displaying widget" not in str(dom)
    panels = _panels(dom)
    assert len(panels) == len(_widget_cells(notebook)), (
        f"{len(panels)} rendered panels for {len(_widget_cells(notebook))} widget outputs: "
        f"the widget JavaScript did not run (see {dumped})"
    )

    saved_graphs = _widget_graphs(state)
    progress = {
        model["state"]["description"]: model["state"]
        for model in state.values()
        if model["model_name"] == "IntProgressModel"
    }
    for panel in panels:
        graphs = [_steps(html) for html in panel.select(".widget-html-content") if html.svg]
        graphs = [graph for graph in graphs if graph]
        assert len(graphs) == 1, f"a panel should show one instance graph, found {graphs}"
        assert graphs[0] in saved_graphs, f"rendered {graphs[0]}, saved {saved_graphs}"

        (bar,) = panel.select(".widget-hprogress")
        label = bar.select_one(".widget-label").get_text(strip=True)
        saved = progress[label]
        width = re.search(r"(?:^|;)\s*width:\s*([\d.]+)%", bar.select_one(".progress-bar")["style"])
        assert width is not None, bar
        expected = 100 * (saved["value"] - saved["min"]) / (saved["max"] - saved["min"])
        assert float(width.group(1)) == pytest.approx(expected), (label, bar)

        labels = [button.get_text(strip=True) for button in panel.select("button.widget-button")]
        for name in BUTTONS:
            assert name in labels, f"no {name} button in {labels}"

    if path.name == "01-quickstart.ipynb":  # both runs there complete
        statuses = [status for panel in panels for _, status in _steps(panel)]
        assert statuses == ["status-completed"] * 6, statuses
        labels = sorted(p.select_one(".widget-hprogress .widget-label").get_text() for p in panels)
        assert labels == ["2/2", "4/4"]
        assert len(dom.select(".widget-hprogress .progress-bar.progress-bar-success")) == 2


def _screenshot(notebook: dict[str, Any], target: Path, tmp_path: Path) -> None:
    """A picture of the graphs and panels alone: the notebook cut down to the outputs that
    draw them (the whole notebook when none does)."""
    short = copy.deepcopy(notebook)
    cells = _graph_cells(short)
    for cell in cells:
        cell["source"] = ""
        cell["outputs"] = [
            out
            for out in cell["outputs"]
            if WIDGET_VIEW in out.get("data", {}) or "<svg" in _graph_html(out)
        ]
    if cells:
        short["cells"] = cells
        widgets = len(_widget_cells(short))
        height = 80 + 720 * widgets + 400 * (len(cells) - widgets)
    else:
        height = 4000
    page = _to_html(short, target.with_suffix(".panels.html"))
    target.unlink(missing_ok=True)
    _render(
        page.as_uri(),
        tmp_path / "profile-shot",
        f"--screenshot={target}",
        f"--window-size=1000,{height}",
    )
    assert target.is_file() and target.stat().st_size > 10_000, f"no screenshot at {target}"
