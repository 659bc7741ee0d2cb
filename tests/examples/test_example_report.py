"""``notebook-report.yaml``: its notebook (in a real kernel and in-process) and its steps."""

import ast
import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from example_harness import DEFINITIONS, Harness, code_cells, exec_notebook, load
from wfkit_examples import report, sales

NOTEBOOK = DEFINITIONS / "report" / "summary.ipynb"
MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
FIGURES = [
    {"month": "2025-01", "revenue": 100.0, "units": 10},
    {"month": "2025-02", "revenue": 110.0, "units": 11},
    {"month": "2025-03", "revenue": 99.0, "units": 9},
    {"month": "2025-04", "revenue": 120.0, "units": 12},
]


def parameter_names() -> set[str]:
    cell = next(c for c in code_cells(NOTEBOOK) if "parameters" in c["metadata"].get("tags", []))
    tree = ast.parse(cell["source"])
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_notebook_is_valid_and_clean() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.metadata.kernelspec.name) == (4, "python3")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_the_step_passes_exactly_the_notebook_parameters() -> None:
    step = load("notebook-report")["steps"]["summary"]
    assert step["notebook"] == "report/summary.ipynb"
    assert set(step["with"]) == parameter_names() == {"title", "currency", "figures"}


def test_notebook_in_process_writes_its_summary(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    params = {"title": "Q1", "currency": "USD", "figures": FIGURES}
    namespace = exec_notebook(NOTEBOOK, params, {"WFKIT_OUTPUT": str(out)})
    summary = json.loads(out.read_text())
    assert summary == namespace["summary"]
    assert summary["title"] == "Q1" and summary["currency"] == "USD"
    assert summary["months"] == 4
    assert summary["total"] == 429.0
    assert summary["mean"] == 107.25
    assert summary["median"] == 105.0
    assert summary["best"] == {"month": "2025-04", "revenue": 120.0}
    assert summary["worst"] == {"month": "2025-03", "revenue": 99.0}
    assert [r["growth_pct"] for r in summary["table"]] == [None, 10.0, -10.0, 21.21]
    assert summary["trend"] == "up"


@pytest.mark.parametrize(
    ("revenues", "trend"), [([100.0, 100.4, 99.8, 100.1], "flat"), ([90.0, 80.0, 70.0], "down")]
)
def test_notebook_trend(tmp_path: Path, revenues: list[float], trend: str) -> None:
    figures = [{"month": f"m{i}", "revenue": r} for i, r in enumerate(revenues)]
    out = tmp_path / "out.json"
    exec_notebook(NOTEBOOK, {"figures": figures}, {"WFKIT_OUTPUT": str(out)})
    assert json.loads(out.read_text())["trend"] == trend


def test_notebook_defaults_run_and_write_nothing_without_wfkit_output(tmp_path: Path) -> None:
    saved = os.environ.pop("WFKIT_OUTPUT", None)
    try:
        namespace = exec_notebook(NOTEBOOK, {}, {})
    finally:
        if saved is not None:
            os.environ["WFKIT_OUTPUT"] = saved
    assert namespace["summary"]["title"] == "Sales summary"
    assert namespace["summary"]["total"] == 3830.0
    assert not list(tmp_path.iterdir())


def test_notebook_refuses_no_figures(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="figures is empty"):
        exec_notebook(NOTEBOOK, {"figures": []}, {"WFKIT_OUTPUT": str(tmp_path / "o.json")})


def run_in_kernel(params: dict[str, Any], output: Path) -> list[dict[str, Any]]:
    """Execute the notebook in a real Jupyter kernel, parameters injected; return errors."""
    from jupyter_client.manager import start_new_kernel

    injected = "\n".join(f"{name} = {value!r}" for name, value in params.items())
    env = {**os.environ, "WFKIT_OUTPUT": str(output)}
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    errors: list[dict[str, Any]] = []
    try:
        for cell in code_cells(NOTEBOOK):
            sources = [cell["source"]]
            if "parameters" in cell["metadata"].get("tags", []):
                sources.append(injected)
            for source in sources:
                reply = kc.execute_interactive(source, timeout=60, output_hook=lambda _m: None)
                if reply["content"]["status"] != "ok":
                    errors.append(reply["content"])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return errors


def test_notebook_in_a_real_kernel(tmp_path: Path) -> None:
    out = tmp_path / "kernel.json"
    errors = run_in_kernel({"title": "Kernel", "currency": "GBP", "figures": FIGURES}, out)
    assert errors == []
    summary = json.loads(out.read_text())
    assert summary["title"] == "Kernel" and summary["total"] == 429.0
    assert summary["trend"] == "up"


def test_monthly_figures_agree_with_the_sales_steps() -> None:
    figures = report.monthly_figures("all", MONTHS, "EUR")
    assert [f["month"] for f in figures] == MONTHS
    assert figures[0] == {"month": "2024-01", "revenue": 6414.15, "units": 447}
    south = report.monthly_figures("south", MONTHS[:2], "USD")
    batch = sales.convert_batch(sales.extract_region("south", MONTHS[:2]), "USD")
    assert [f["revenue"] for f in south] == list(batch["by_month"].values())


def test_render_markdown(tmp_path: Path) -> None:
    out = tmp_path / "n.json"
    exec_notebook(NOTEBOOK, {"title": "Q1", "figures": FIGURES}, {"WFKIT_OUTPUT": str(out)})
    written = report.render_markdown(json.loads(out.read_text()), str(tmp_path / "r" / "q1.md"))
    text = Path(written["path"]).read_text()
    assert text.startswith("# Q1\n")
    assert "- Total revenue: 429.00 EUR" in text
    assert "| 2025-03 | 99.00 | -10.00 % |" in text
    assert "- Trend: up" in text
    assert written["bytes"] == len(text.encode())


def test_the_report_end_to_end(harness: Harness, workdir: Path) -> None:
    run = harness.run(
        "notebook-report",
        {
            "region": "south",
            "currency": "GBP",
            "months": MONTHS[:3],
            "out_dir": str(workdir / "reports"),
        },
        instance_id="rep-7",
    )
    assert run.status == "COMPLETED"
    path = Path(run.output["report"])
    assert path == workdir / "reports" / "notebook-report-rep-7.md"
    assert path.read_text().startswith("# Half-year sales (south)\n")
    assert run.out("summary")["currency"] == "GBP"
    assert run.output["total"] == pytest.approx(sum(f["revenue"] for f in run.out("figures")))
