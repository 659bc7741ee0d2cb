"""The tutorials' saved widget panels, rendered by a real browser, offline.

Each executed tutorial with widget state (``metadata.widgets``) is converted to HTML by
nbconvert, with the widget JavaScript served from local files instead of a CDN:
``embed-amd.js`` of the npm package ``@jupyter-widgets/html-manager`` and ``require.js`` of
``requirejs``, fetched once with ``npm pack`` into ``.cache/browser/``. Debian's headless
``chromium`` opens the page with every host name unresolvable (so nothing comes from the
network) and dumps the DOM after the scripts ran; the test then checks that the instance
panels really rendered: the graph SVG with each step's ``status-<s>`` class, the progress bar
with its final value, the Pause/Resume/Step/Terminate buttons.

Everything written goes to ``artifacts/browser/``: the HTML, the dumped DOM and a screenshot
of the panels (``<notebook>.png``), for a human to look at.

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
INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
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


def _tutorials_with_widgets() -> list[Path]:
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        notebook = json.loads(path.read_text())
        if WIDGET_STATE in notebook["metadata"].get("widgets", {}) and _widget_cells(notebook):
            found.append(path)
    return found


TUTORIALS = _tutorials_with_widgets()


# -- tools ------------------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
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
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
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
    assert "embed-amd.js" in body and "cdn.jsdelivr" not in body, "widget JS is not local"
    target.write_text(body, encoding="utf-8")
    return target


# -- reading the DOM --------------------------------------------------------------------


def _saved_graphs(state: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Each saved graph widget's steps as (id, status), from the HTML models' values."""
    from bs4 import BeautifulSoup

    graphs = []
    for model in state.values():
        value = model["state"].get("value")
        if model["model_name"] == "HTMLModel" and isinstance(value, str) and "<svg" in value:
            graphs.append(_steps(BeautifulSoup(value, "html.parser")))
    return [graph for graph in graphs if graph]


def _steps(tag: Any) -> list[tuple[str, str]]:
    steps = []
    for node in tag.select("svg g.wfkit-step[id^=step_]"):
        status = [c for c in node.get("class", []) if c.startswith("status-")]
        assert len(status) == 1, f"{node.get('id')} has classes {node.get('class')}"
        steps.append((node["id"], status[0]))
    return sorted(steps)


def _panels(dom: Any) -> list[Any]:
    """The rendered instance panels: widget boxes holding a progress bar (the widget
    manager only builds ``.jupyter-widgets`` elements when its JavaScript ran)."""
    return [
        box
        for box in dom.select(".jupyter-widgets.widget-vbox")
        if box.select(".widget-hprogress") and not box.find_parent(class_="widget-vbox")
    ]


# -- the test ---------------------------------------------------------------------------


def test_tutorials_with_widgets_are_found() -> None:
    names = [path.name for path in TUTORIALS]
    assert "01-quickstart.ipynb" in names, names


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_saved_widget_panels_render_offline(path: Path, site: Path, tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    notebook = json.loads(path.read_text())
    state = notebook["metadata"]["widgets"][WIDGET_STATE]["state"]
    page = _to_html(notebook, site / f"{path.stem}.html")
    done = _render(page.as_uri(), tmp_path / "profile", "--dump-dom")
    (site / f"{path.stem}.dom.html").write_text(done.stdout, encoding="utf-8")
    dom = BeautifulSoup(done.stdout, "html.parser")

    assert "Error displaying widget" not in done.stdout
    panels = _panels(dom)
    assert len(panels) == len(_widget_cells(notebook)), (
        f"{len(panels)} rendered panels for {len(_widget_cells(notebook))} widget outputs: "
        f"the widget JavaScript did not run (see {site / (path.stem + '.dom.html')})"
    )

    saved_graphs = _saved_graphs(state)
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

    _screenshot(notebook, site / f"{path.stem}.png", tmp_path)


def _screenshot(notebook: dict[str, Any], target: Path, tmp_path: Path) -> None:
    """A picture of the panels alone: the notebook cut down to its widget outputs."""
    short = copy.deepcopy(notebook)
    for cell in _widget_cells(short):
        cell["source"] = ""
        cell["outputs"] = [out for out in cell["outputs"] if WIDGET_VIEW in out.get("data", {})]
    short["cells"] = _widget_cells(short)
    page = _to_html(short, target.with_suffix(".panels.html"))
    target.unlink(missing_ok=True)
    height = 80 + 720 * len(short["cells"])
    _render(
        page.as_uri(),
        tmp_path / "profile-shot",
        f"--screenshot={target}",
        f"--window-size=1000,{height}",
    )
    assert target.is_file() and target.stat().st_size > 10_000, f"no screenshot at {target}"
