"""The step code of ``sales-pipeline.yaml``, and the definition run end to end."""

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from example_harness import Harness
from wfkit_examples import DATA_DIR, sales

from wfkit.errors import InvalidInput

MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]


def oracle_revenue(region: str | None = None, month: str | None = None) -> Decimal:
    """Revenue in EUR straight from the CSV, valid rows only: an independent sum."""
    total = Decimal(0)
    with (DATA_DIR / "sales.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if (region and row["region"] != region) or (month and row["month"] != month):
                continue
            if not row["units"].isdigit() or not row["unit_price"]:
                continue
            total += int(row["units"]) * Decimal(row["unit_price"])
    return total


def test_extract_keeps_valid_rows_and_reports_bad_ones() -> None:
    north = sales.extract_region("north", MONTHS)
    assert north["region"] == "north"
    assert len(north["rows"]) == 18  # 6 months x 3 products
    assert north["rows"][0] == {
        "month": "2024-01",
        "product": "widget",
        "units": 50,
        "unit_price": "12.50",
    }
    assert north["rejected"] == [{"line": 22, "reason": "units is negative: -3"}]
    east = sales.extract_region("east", MONTHS)
    assert east["rejected"] == [{"line": 42, "reason": "unit_price is not a number: ''"}]


def test_extract_filters_months() -> None:
    two = sales.extract_region("south", ["2024-01", "2024-06"])
    assert {r["month"] for r in two["rows"]} == {"2024-01", "2024-06"}
    assert len(two["rows"]) == 6
    assert sales.extract_region("south", [])["rows"] == []


def test_extract_reads_another_csv(tmp_path: Path) -> None:
    source = tmp_path / "s.csv"
    source.write_text(
        "month,region,product,units,unit_price\n"
        "2025-01,west,widget,3,2.50\n"
        "2025-01,west,gadget,2,0\n"
        "2025-01,north,widget,9,1.00\n"
    )
    got = sales.extract_region("west", ["2025-01"], source=str(source))
    assert got["rows"] == [
        {"month": "2025-01", "product": "widget", "units": 3, "unit_price": "2.50"}
    ]
    assert got["rejected"] == [{"line": 3, "reason": "unit_price is not positive: 0"}]


def test_extract_rejects_an_unknown_region() -> None:
    with pytest.raises(ValueError, match="unknown region 'mars'"):
        sales.extract_region("mars", MONTHS)


@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP"])
def test_convert_matches_the_csv(currency: str) -> None:
    batch = sales.convert_batch(sales.extract_region("west", MONTHS), currency)
    expected = oracle_revenue("west") * sales.RATES[currency]
    assert batch["revenue"] == pytest.approx(float(expected), abs=0.01)
    assert batch["currency"] == currency
    assert list(batch["by_month"]) == MONTHS
    assert sum(batch["by_month"].values()) == pytest.approx(batch["revenue"], abs=0.05)
    assert set(batch["by_product"]) == {"widget", "gadget", "gizmo"}
    assert batch["rejected"] == 1  # the 'many' units row


def test_convert_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValueError, match="unknown currency 'JPY'"):
        sales.convert_batch({"region": "x", "rows": []}, "JPY")


def test_month_summary_measures_growth_against_the_month_before() -> None:
    batches = [sales.convert_batch(sales.extract_region(r, MONTHS), "EUR") for r in sales.REGIONS]
    first = sales.month_summary("2024-01", batches, MONTHS, 0)
    second = sales.month_summary("2024-02", batches, MONTHS, 1)
    assert first["growth_pct"] is None
    assert first["revenue"] == pytest.approx(float(oracle_revenue(month="2024-01")), abs=0.01)
    jan, feb = oracle_revenue(month="2024-01"), oracle_revenue(month="2024-02")
    assert second["growth_pct"] == pytest.approx(float((feb - jan) / jan * 100), abs=0.01)
    assert first["leader"] == max(first["by_region"], key=first["by_region"].get)
    with pytest.raises(ValueError, match=r"months\[1\] is '2024-02'"):
        sales.month_summary("2024-03", batches, MONTHS, 1)


def test_aggregate_totals_shares_and_top() -> None:
    batches = [sales.convert_batch(sales.extract_region(r, MONTHS), "EUR") for r in sales.REGIONS]
    monthly = [sales.month_summary(m, batches, MONTHS, i) for i, m in enumerate(MONTHS)]
    result = sales.aggregate(batches, monthly, "EUR", 3)
    assert result["total_revenue"] == pytest.approx(float(oracle_revenue()), abs=0.01)
    assert result["total_revenue"] == 42738.7
    assert [r["region"] for r in result["regions"]] == ["south", "west", "north", "east"]
    assert sum(r["share_pct"] for r in result["regions"]) == pytest.approx(100, abs=0.05)
    assert result["best_region"] == "south"
    assert result["best_month"] == "2024-05"
    assert len(result["top"]) == 3
    assert [c["revenue"] for c in result["top"]] == sorted(
        (c["revenue"] for c in result["top"]), reverse=True
    )
    assert result["rejected_rows"] == 3


def test_the_pipeline_end_to_end(harness: Harness) -> None:
    run = harness.run(
        "sales-pipeline", {"currency": "USD", "top_n": 3, "regions": ["north", "east"]}
    )
    assert run.status == "COMPLETED"
    assert [b["region"] for b in run.out("extract")] == ["north", "east"]
    assert len(run.out("monthly")) == 6
    expected = (oracle_revenue("north") + oracle_revenue("east")) * Decimal("1.08")
    assert run.output["total_revenue"] == pytest.approx(float(expected), abs=0.02)
    assert run.output["best_region"] == "north"
    best = run.out("aggregate")["regions"][0]["revenue"]
    assert run.output["headline"] == f"north led with {best} USD"
    assert run.output["months"][0]["growth_pct"] is None
    assert len(run.out("aggregate")["top"]) == 3


def test_the_pipeline_rejects_a_region_outside_the_enum(harness: Harness) -> None:
    with pytest.raises(InvalidInput, match="mars"):
        harness.run("sales-pipeline", {"regions": ["mars"]})
