"""Benchmark: a 500-step workflow graph to DOT text and to SVG.

Builds a seeded, random-looking DAG as a hand-made GraphView (about 800 edges of all three
kinds, a few ``finally`` steps), then times :func:`wfkit.views.to_dot` and
:func:`wfkit.views.render` to SVG with whatever renderer :func:`find_renderer` picks.
Prints median, min and per-step times, and checks the target: the whole drawing (DOT text
plus SVG) under 0.5 s. Exit status 1 when the target is missed.

    python benchmarks/render.py [--steps 500] [--edges 800] [--runs 7] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from wfkit.graph.view import EdgeView, GraphView, StepView
from wfkit.views import find_renderer, render, to_dot

TARGET_SECONDS = 0.5
KINDS = ("call", "shell", "notebook", "workflow", "wait", "sleep")
VIAS = ("needs", "expression", "needs+expression")


def build_view(steps: int, edges: int, seed: int, finals: int = 8) -> GraphView:
    """A DAG of ``steps`` steps (the last ``finals`` in ``finally``) and about ``edges`` edges."""
    rng = random.Random(seed)
    ids = [f"step_{i:03d}" for i in range(steps)]
    main = steps - finals
    views = tuple(
        StepView(
            id=step_id,
            kind=KINDS[i % len(KINDS)],
            target=f"pkg.module_{i % 37}:function_{i}",
            is_finally=i >= main,
            pause_before=rng.random() < 0.02,
            foreach=rng.random() < 0.1,
            when=f"steps.{ids[i - 1]}.output > {i}" if i and rng.random() < 0.05 else None,
        )
        for i, step_id in enumerate(ids)
    )
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges:
        target = rng.randrange(1, steps)
        low = main if target >= main else 0
        if target == low:
            continue
        source = rng.randrange(max(low, target - 40), target)  # a nearby earlier step
        pairs.add((source, target))
    edge_views = tuple(EdgeView(ids[s], ids[t], rng.choice(VIAS)) for s, t in sorted(pairs))
    return GraphView("benchmark", views, edge_views, _generations(ids, sorted(pairs)))


def _generations(ids: list[str], pairs: list[tuple[int, int]]) -> tuple[tuple[str, ...], ...]:
    """Steps by longest-path depth (sources are in step order, so one pass suffices)."""
    depth = [0] * len(ids)
    for source, target in pairs:  # sorted by source: every source's depth is final
        depth[target] = max(depth[target], depth[source] + 1)
    levels: dict[int, list[str]] = {}
    for index, step_id in enumerate(ids):
        levels.setdefault(depth[index], []).append(step_id)
    return tuple(tuple(levels[d]) for d in sorted(levels))


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table; 0 when the target is met, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--edges", type=int, default=800)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    view = build_view(args.steps, args.edges, args.seed)
    dot = to_dot(view)
    svg = render(dot, "svg")
    rows = {
        "to_dot": timed(lambda: to_dot(view), args.runs),
        "render svg": timed(lambda: render(dot, "svg"), args.runs),
        "to_dot + svg": timed(lambda: render(to_dot(view), "svg"), args.runs),
    }
    print(f"renderer: {find_renderer()}")
    print(
        f"graph: {len(view.steps)} steps ({len(view.finally_steps)} finally), "
        f"{len(view.edges)} edges, {len(view.generations)} generations; "
        f"DOT {len(dot):,} bytes, SVG {len(svg):,} bytes; {args.runs} runs each"
    )
    print(f"{'stage':<14}{'median ms':>11}{'min ms':>9}{'per step µs':>13}")
    for stage, times in rows.items():
        median = statistics.median(times)
        per_step = median / len(view.steps) * 1e6
        print(f"{stage:<14}{median * 1e3:>11.1f}{min(times) * 1e3:>9.1f}{per_step:>13.1f}")
    total = statistics.median(rows["to_dot + svg"])
    verdict = "PASS" if total < TARGET_SECONDS else "FAIL"
    print(f"target: {args.steps}-step DAG to SVG under {TARGET_SECONDS} s: {total:.3f} s {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
