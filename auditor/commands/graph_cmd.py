"""``mlaudit graph``: show why each package and model is in the project, as a tree from the root."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import networkx as nx
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from auditor.checks import load_checks
from auditor.commands.common import add_input_args, options_from_args, print_service_failures, progress_display
from auditor.domain import ROOT_NODE
from auditor.errors import EXIT_INCOMPLETE
from auditor.graph import build_graph
from auditor.textsafe import clean

NAME = "graph"
HELP = "print the resolved dependency graph (packages and models) as a tree"
MAX_DEPTH = 50


def configure(parser: argparse.ArgumentParser) -> None:
    add_input_args(parser)
    parser.add_argument("--format", "-f", choices=["terminal", "json"], default="terminal")
    parser.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from auditor.pipeline import run_audit

    options = replace(options_from_args(args), disabled_checks={c.name for c in load_checks()})
    with progress_display(args) as progress:
        report = run_audit(options, progress)
    if print_service_failures(report):
        return EXIT_INCOMPLETE
    graph = build_graph(report)
    if args.format == "json":
        payload = {
            "nodes": [{"id": n, **graph.nodes[n]} for n in graph.nodes],
            "edges": [{"parent": u, "child": v, **d} for u, v, d in graph.edges(data=True)],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    Console(highlight=False).print(render_tree(graph))
    if report.skipped:
        Console(stderr=True).print(f"[yellow]{len(report.skipped)} requirement(s) skipped[/]; run `mlaudit` for details")
    return 0


def render_tree(graph: nx.DiGraph) -> Tree:
    """Depth-first tree; a node already shown is printed once more as a reference, not expanded again."""
    root = Tree(escape(clean(graph.nodes[ROOT_NODE].get("label", "project"))))
    shown: set[str] = {ROOT_NODE}

    def add(parent_tree: Tree, node: str, depth: int) -> None:
        for child in sorted(graph.successors(node), key=lambda n: str(graph.nodes[n].get("label", n))):
            data = graph.edges[node, child]
            label = escape(clean(graph.nodes[child].get("label", child)))
            marker = data.get("marker")
            if marker:
                label += f" [dim]; {escape(clean(marker))}[/]"
            if child in shown or depth >= MAX_DEPTH:
                parent_tree.add(label + " [dim](see above)[/]")
                continue
            shown.add(child)
            add(parent_tree.add(label), child, depth + 1)

    add(root, ROOT_NODE, 0)
    return root
