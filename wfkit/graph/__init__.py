"""Definitions as graphs: networkx DAGs, static checks, read-only views, the catalog."""

from wfkit.graph.build import build_graph, build_view, cycle_problems, generations
from wfkit.graph.catalog import Catalog, load_catalog, load_definition, parse_definition
from wfkit.graph.view import EdgeView, GraphView, StepView

__all__ = [
    "Catalog",
    "EdgeView",
    "GraphView",
    "StepView",
    "build_graph",
    "build_view",
    "cycle_problems",
    "generations",
    "load_catalog",
    "load_definition",
    "parse_definition",
]
