"""Steps of ``sales-pipeline.yaml``: extract sales rows per region, convert, summarise.

Money is computed with :class:`decimal.Decimal` and returned as floats rounded to cents,
so the same inputs always give the same outputs.
"""

import csv
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from wfkit_examples import DATA_DIR

__all__ = [
    "RATES",
    "REGIONS",
    "aggregate",
    "convert_batch",
    "extract_region",
    "month_summary",
    "to_cents",
]

#: Regions present in the sales file.
REGIONS = ("north", "south", "east", "west")
#: Units of each currency per 1 EUR (the currency the sales file is kept in).
RATES = {"EUR": Decimal("1"), "USD": Decimal("1.08"), "GBP": Decimal("0.85")}
_SALES_CSV = DATA_DIR / "sales.csv"
_CENT = Decimal("0.01")


def to_cents(value: Decimal) -> float:
    """Round a money amount to cents, half up, as a float.

    >>> to_cents(Decimal("2.675"))
    2.68
    >>> to_cents(Decimal("10"))
    10.0
    """
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _check_row(row: dict[str, str]) -> str:
    """Why a CSV row is unusable, or an empty string when it is fine."""
    try:
        units = int(row["units"])
    except ValueError:
        return f"units is not a whole number: {row['units']!r}"
    if units < 0:
        return f"units is negative: {units}"
    try:
        price = Decimal(row["unit_price"])
    except InvalidOperation:
        return f"unit_price is not a number: {row['unit_price']!r}"
    if price <= 0:
        return f"unit_price is not positive: {price}"
    return ""


def extract_region(region: str, months: list[str], source: str | None = None) -> dict[str, Any]:
    """The sales rows of one region for the given months, read from a CSV file.

    ``source`` defaults to the sales file shipped with the examples. Malformed rows are
    dropped and listed under ``rejected`` with their line number and the reason.
    """
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")
    wanted = set(months)
    rows: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    path = Path(source) if source else _SALES_CSV
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if row["region"] != region or row["month"] not in wanted:
                continue
            reason = _check_row(row)
            if reason:
                rejected.append({"line": line, "reason": reason})
                continue
            rows.append(
                {
                    "month": row["month"],
                    "product": row["product"],
                    "units": int(row["units"]),
                    "unit_price": row["unit_price"],
                }
            )
    return {"region": region, "rows": rows, "rejected": rejected}


def convert_batch(batch: dict[str, Any], currency: str) -> dict[str, Any]:
    """Revenue of one extracted region in ``currency``, in total, by month and by product."""
    if currency not in RATES:
        raise ValueError(f"unknown currency {currency!r}; expected one of {', '.join(RATES)}")
    rate = RATES[currency]
    by_month: dict[str, Decimal] = {}
    units_by_month: dict[str, int] = {}
    by_product: dict[str, Decimal] = {}
    for row in batch["rows"]:
        revenue = row["units"] * Decimal(row["unit_price"]) * rate
        by_month[row["month"]] = by_month.get(row["month"], Decimal(0)) + revenue
        units_by_month[row["month"]] = units_by_month.get(row["month"], 0) + row["units"]
        by_product[row["product"]] = by_product.get(row["product"], Decimal(0)) + revenue
    return {
        "region": batch["region"],
        "currency": currency,
        "revenue": to_cents(sum(by_month.values(), Decimal(0))),
        "units": sum(units_by_month.values()),
        "by_month": {m: to_cents(v) for m, v in sorted(by_month.items())},
        "units_by_month": dict(sorted(units_by_month.items())),
        "by_product": {p: to_cents(v) for p, v in sorted(by_product.items())},
        "rejected": len(batch.get("rejected", [])),
    }


def _month_revenue(batches: list[dict[str, Any]], month: str) -> Decimal:
    return sum((Decimal(str(b["by_month"].get(month, 0))) for b in batches), Decimal(0))


def month_summary(
    month: str, batches: list[dict[str, Any]], months: list[str], index: int
) -> dict[str, Any]:
    """One month across every region: revenue, units, the leading region, growth.

    ``index`` is the month's position in ``months``; growth is measured against the month
    before it in that list (``None`` for the first one or when the previous one is 0).
    """
    if months[index] != month:
        raise ValueError(f"months[{index}] is {months[index]!r}, not {month!r}")
    by_region = {b["region"]: b["by_month"].get(month, 0.0) for b in batches}
    revenue = _month_revenue(batches, month)
    growth: float | None = None
    if index > 0:
        previous = _month_revenue(batches, months[index - 1])
        if previous:
            growth = to_cents((revenue - previous) / previous * 100)
    leader = max(sorted(by_region), key=lambda r: by_region[r]) if by_region else None
    return {
        "month": month,
        "revenue": to_cents(revenue),
        "units": sum(b["units_by_month"].get(month, 0) for b in batches),
        "by_region": by_region,
        "leader": leader,
        "growth_pct": growth,
    }


def aggregate(
    batches: list[dict[str, Any]], monthly: list[dict[str, Any]], currency: str, top_n: int
) -> dict[str, Any]:
    """The whole period: totals, each region's share, and the ``top_n`` region-months."""
    total = sum((Decimal(str(b["revenue"])) for b in batches), Decimal(0))
    regions = sorted(batches, key=lambda b: (-b["revenue"], b["region"]))
    cells = [
        {"region": b["region"], "month": m, "revenue": v}
        for b in batches
        for m, v in b["by_month"].items()
    ]
    cells.sort(key=lambda c: (-c["revenue"], c["month"], c["region"]))
    best_month = max(monthly, key=lambda m: m["revenue"])["month"] if monthly else None
    return {
        "currency": currency,
        "total_revenue": to_cents(total),
        "total_units": sum(b["units"] for b in batches),
        "regions": [
            {
                "region": b["region"],
                "revenue": b["revenue"],
                "share_pct": to_cents(Decimal(str(b["revenue"])) / total * 100) if total else 0.0,
            }
            for b in regions
        ],
        "best_region": regions[0]["region"] if regions else None,
        "best_month": best_month,
        "top": cells[:top_n],
        "rejected_rows": sum(b["rejected"] for b in batches),
    }
