"""Step functions used by the tutorial notebooks in this folder.

The definitions in ``notebooks/definitions/`` (and the ``%%wfkit`` cells of the notebooks)
name them as ``call: tutorial_steps:FUNCTION``. They run offline, use only the standard
library, and take a fraction of a second, with a ``seconds`` argument where a tutorial
needs a step that is still running when it acts.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

# A small, fixed "database" of orders, so that every run gives the same numbers.
ORDERS: dict[str, list[dict[str, Any]]] = {
    "eu": [
        {"id": "eu-1", "customer": "ana", "amount": 120.0},
        {"id": "eu-2", "customer": "bo", "amount": 80.5},
        {"id": "eu-3", "customer": "ana", "amount": 42.0},
    ],
    "us": [
        {"id": "us-1", "customer": "cy", "amount": 310.0},
        {"id": "us-2", "customer": "dee", "amount": 19.99},
    ],
}


# -- 01 quickstart ------------------------------------------------------------------------


def greet(who: str) -> str:
    """``Hello, <who>!``"""
    return f"Hello, {who}!"


def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


def load_orders(region: str) -> list[dict[str, Any]]:
    """The orders of one region."""
    return [dict(order) for order in ORDERS[region]]


def order_totals(orders: list[dict[str, Any]], tax_rate: float) -> dict[str, float]:
    """Net, tax and gross totals of some orders, rounded to cents."""
    net = round(sum(order["amount"] for order in orders), 2)
    tax = round(net * tax_rate, 2)
    return {"net": net, "tax": tax, "gross": round(net + tax, 2)}


def top_customer(orders: list[dict[str, Any]]) -> str:
    """The customer with the largest total."""
    spent: Counter[str] = Counter()
    for order in orders:
        spent[order["customer"]] += order["amount"]
    return spent.most_common(1)[0][0]


def report(region: str, totals: dict[str, float], top: str) -> str:
    """One line for people."""
    return f"{region}: {totals['gross']:.2f} gross, top customer {top}"


# -- 02 pause, resume and step --------------------------------------------------------------


def extract(rows: int, seconds: float = 0.0) -> list[int]:
    """``rows`` numbers, after ``seconds`` of pretend work."""
    time.sleep(seconds)
    return list(range(1, rows + 1))


def clean(values: list[int]) -> list[int]:
    """The even values."""
    return [value for value in values if value % 2 == 0]


def summarize(values: list[int]) -> dict[str, float]:
    """Count, sum and mean."""
    return {"count": len(values), "sum": sum(values), "mean": sum(values) / len(values)}


def publish(summary: dict[str, float]) -> str:
    """Pretend to publish the summary; returns where it went."""
    return f"published {summary['count']} values"


# -- 03 human in the loop ------------------------------------------------------------------


def check_expense(amount: float, seconds: float = 0.0) -> dict[str, Any]:
    """Whether an expense needs a person's approval (over 100)."""
    time.sleep(seconds)
    return {"amount": amount, "needs_approval": amount > 100}


def pay(amount: float, approved_by: str) -> str:
    """Pretend to pay."""
    return f"paid {amount:.2f}, approved by {approved_by}"


# -- 04 failures and retries ---------------------------------------------------------------

_attempts: Counter[str] = Counter()


def flaky_download(key: str, fail_times: int) -> dict[str, Any]:
    """Fail with ``ConnectionError`` the first ``fail_times`` calls for ``key``, then work.

    ``key`` is the instance id, so that each run counts its own attempts.
    """
    _attempts[key] += 1
    if _attempts[key] <= fail_times:
        raise ConnectionError(f"server busy (call {_attempts[key]})")
    return {"rows": 3}


def enrich(data: dict[str, Any]) -> dict[str, Any]:
    """An optional step whose service is down: it always fails."""
    raise TimeoutError("geo service did not answer")


def store(data: dict[str, Any], extra: Any) -> str:
    """Pretend to store the rows, with the enrichment when there is one."""
    return f"stored {data['rows']} rows ({'enriched' if extra else 'not enriched'})"


def notify(status: str) -> str:
    """A ``finally`` step: tell someone how the run ended."""
    return f"told the team: run {status}"


# -- 05 fan-out, conditions and child workflows ---------------------------------------------

_parallel = {"running": 0, "peak": 0}
_parallel_lock = threading.Lock()


def measure(sample: str, index: int, seconds: float = 0.0) -> dict[str, Any]:
    """The length of one sample, after ``seconds`` of pretend work.

    Counts how many calls run at the same time; :func:`peak_parallel` tells the most.
    """
    with _parallel_lock:
        _parallel["running"] += 1
        _parallel["peak"] = max(_parallel["peak"], _parallel["running"])
    try:
        time.sleep(seconds)
        return {"index": index, "sample": sample, "length": len(sample)}
    finally:
        with _parallel_lock:
            _parallel["running"] -= 1


def peak_parallel(reset: bool = True) -> int:
    """The most :func:`measure` calls that ran at once (since the last reset)."""
    with _parallel_lock:
        peak = _parallel["peak"]
        if reset:
            _parallel["peak"] = 0
        return peak


def summarize_lengths(lengths: list[int]) -> dict[str, Any]:
    """Count, total and longest of some lengths."""
    return {"count": len(lengths), "total": sum(lengths), "longest": max(lengths)}


def alert(total: int, limit: int) -> str:
    """Pretend to warn someone that a total is over its limit."""
    return f"alert: total {total} is over {limit}"


# -- 06 durability --------------------------------------------------------------------------


def journaled(step: str, journal: str, seconds: float = 0.0) -> str:
    """Append ``step`` to the ``journal`` file, then do ``seconds`` of pretend work.

    The journal tells which steps ran, and how many times, whatever process ran them.
    """
    with open(journal, "a", encoding="utf-8") as file:
        file.write(f"{step}\n")
    time.sleep(seconds)
    return f"{step} done"
