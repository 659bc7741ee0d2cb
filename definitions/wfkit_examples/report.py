"""Steps of ``notebook-report.yaml`` around the notebook ``report/summary.ipynb``.

``monthly_figures`` prepares the notebook's input from the sales file; the notebook
computes the summary; ``render_markdown`` turns that summary into a Markdown report.
"""

from pathlib import Path
from typing import Any

from wfkit_examples import sales

__all__ = ["monthly_figures", "render_markdown"]


def monthly_figures(region: str, months: list[str], currency: str) -> list[dict[str, Any]]:
    """Revenue and units per month for one region (or ``"all"``), in ``currency``."""
    regions = sales.REGIONS if region == "all" else (region,)
    batches = [sales.convert_batch(sales.extract_region(r, months), currency) for r in regions]
    return [
        {
            "month": month,
            "revenue": sales.month_summary(month, batches, months, i)["revenue"],
            "units": sum(b["units_by_month"].get(month, 0) for b in batches),
        }
        for i, month in enumerate(months)
    ]


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def render_markdown(summary: dict[str, Any], path: str) -> dict[str, Any]:
    """Write the notebook's summary as a Markdown report at ``path``.

    Returns the path written, its size in bytes and its number of lines.
    """
    cur = summary["currency"]
    lines = [
        f"# {summary['title']}",
        "",
        f"- Months: {summary['months']}",
        f"- Total revenue: {_money(summary['total'], cur)}",
        f"- Mean per month: {_money(summary['mean'], cur)}"
        f" (median {_money(summary['median'], cur)})",
        f"- Best month: {summary['best']['month']} ({_money(summary['best']['revenue'], cur)})",
        f"- Worst month: {summary['worst']['month']} ({_money(summary['worst']['revenue'], cur)})",
        f"- Trend: {summary['trend']}",
        "",
        "| month | revenue | growth |",
        "|---|---:|---:|",
    ]
    for row in summary["table"]:
        growth = "" if row["growth_pct"] is None else f"{row['growth_pct']:+.2f} %"
        lines.append(f"| {row['month']} | {row['revenue']:,.2f} | {growth} |")
    text = "\n".join(lines) + "\n"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return {"path": str(target), "bytes": len(text.encode()), "lines": len(lines)}
