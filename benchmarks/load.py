"""Load, validate and build the graph of a generated 10,000-step definition.

Prints a table of wall times (median of several runs) for each stage and the whole, the
per-step cost, and the floor measured in the same run: ``yaml.safe_load`` of the same text
with libyaml (what reading the YAML costs with no positions, no validation and no graph).
Target (issue 2): the whole under 1.0 s on a 2-core machine.

    python benchmarks/load.py [--steps 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import yaml

from wfkit.definition.parse import parse_text
from wfkit.definition.source import read_yaml
from wfkit.graph import build_graph, cycle_problems, parse_definition


def generate(steps: int) -> str:
    """A definition of ``steps`` call steps; most read earlier steps through expressions."""
    lines = [
        "wfkit: 1",
        "name: generated",
        "inputs:",
        "  threshold: {type: number, default: 0.5}",
        "  region: {type: string, enum: [eu, us], default: eu}",
        "defaults: {retry: {max_attempts: 3, initial_interval: 1s}, timeout: 10m}",
        "steps:",
    ]
    for i in range(steps):
        lines.append(f"  s{i}:")
        lines.append("    call: bench.steps:work")
        if i == 0:
            continue
        a, b = i - 1, (i * 7919) % i
        if i % 10 == 0:
            lines.append(f"    needs: [s{a}, s{b}]")
        elif i % 10 == 1:
            lines.append(f"    when: ${{{{ steps.s{a}.output.score >= inputs.threshold }}}}")
        else:
            lines.append(
                f'    with: {{x: "${{{{ steps.s{a}.output }}}}", '
                f'y: "${{{{ steps.s{b}.output.n + 1 }}}}", region: "${{{{ inputs.region }}}}"}}'
            )
    return "\n".join(lines) + "\n"


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def fresh_process(path: str, runs: int) -> float:
    """Median seconds to load, validate and build the graph in a new interpreter (as the
    CLI does), not counting the interpreter's start and imports."""
    # `import wfkit` loads its modules lazily, on first use: import them (and networkx,
    # which build_graph imports where it is used) before the clock starts.
    code = (
        "import gc, sys, time, networkx\n"
        "from wfkit.graph import build_graph, load_definition\n"
        "t = time.perf_counter()\n"
        "d = load_definition(sys.argv[1]); build_graph(d); gc.collect(0)\n"
        "print(time.perf_counter() - t)\n"
    )
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code, path], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    text = generate(args.steps)
    expressions = text.count("${{")

    def whole() -> None:
        definition = parse_definition(text, "generated.yaml")
        build_graph(definition)
        gc.collect(0)  # pay for the young objects now, inside the timing

    total, _ = timed(whole, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "generated.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        fresh = fresh_process(path, args.runs)

    floor, _ = timed(lambda: yaml.load(text, Loader=yaml.CSafeLoader), args.runs)
    read, _ = timed(lambda: read_yaml(text), args.runs)
    parse, result = timed(lambda: parse_text(text, "generated.yaml"), args.runs)
    if result.problems:
        raise SystemExit(f"the generated definition has problems: {result.problems[:3]}")
    definition = result.definition
    graph_t, graph = timed(lambda: build_graph(definition), args.runs)
    check_t, _ = timed(lambda: cycle_problems(definition, graph), args.runs)

    n = args.steps
    print(f"definition: {n:,} steps, {expressions:,} expressions, {len(text) / 1e6:.2f} MB")
    print(f"{'stage':<48}{'median s':>10}{'µs/step':>10}{'x floor':>9}")
    rows = [
        ("floor: yaml.load (libyaml, no positions)", floor),
        ("read YAML with positions", read),
        ("parse: read + schema + model + CEL", parse),
        ("build networkx graph", graph_t),
        ("cycle check", check_t),
        ("whole, repeated in one process", total),
        ("whole, in a fresh process (as the CLI)", fresh),
    ]
    for label, seconds in rows:
        print(f"{label:<48}{seconds:>10.3f}{seconds / n * 1e6:>10.1f}{seconds / floor:>9.2f}")
    verdict = "PASS" if max(total, fresh) < 1.0 else "FAIL"
    print(f"target: whole under 1.0 s -> {total:.3f} s / {fresh:.3f} s {verdict}")
    if verdict == "FAIL":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
