"""The finding paths come from the graph in plain dicts (``graph.dependencies``): the same paths networkx gives,
the graph built once per run after the checks."""

from __future__ import annotations

import random

from auditor.domain import ROOT_NODE, Edge, Finding, ModelRef, Package, Report, Severity, model_node, package_node
from auditor.graph import RootPaths, attach_paths, build_graph, dependencies, label_path, node_paths


def _report() -> Report:
    r = Report(root_name="proj", root_version="1.0")
    for i in range(12):
        r.add_package(Package(f"p{i}", "1", direct=i < 3))
    for parent, child in [(0, 3), (1, 3), (2, 4), (3, 5), (4, 5), (5, 6), (6, 3), (7, 8), (2, 9), (9, 10)]:
        r.edges.append(Edge(package_node(f"p{parent}"), package_node(f"p{child}"), f"p{child}"))
    r.edges.append(Edge(package_node("p10"), package_node("ghost"), "ghost"))  # a node no package names
    r.models.append(ModelRef("org/base"))
    r.models.append(ModelRef("org/tuned", via=model_node("org/base", "model")))
    r.edges.append(Edge(model_node("org/base", "model"), model_node("org/tuned", "model"), "org/tuned"))
    return r


def test_plain_dict_graph_gives_networkx_paths_and_labels() -> None:
    r = _report()
    light, full = dependencies(r), build_graph(r)
    assert set(light.nodes) == set(full.nodes)
    for node in full.nodes:
        assert light.nodes[node] == full.nodes[node]
        assert list(light.successors(node)) == list(full.successors(node))
        assert sorted(light.predecessors(node)) == sorted(full.predecessors(node))
        for limit in (1, 3):
            paths = node_paths(full, node, limit)
            assert node_paths(light, node, limit) == paths
            assert [label_path(light, p) for p in paths] == [label_path(full, p) for p in paths]
    assert node_paths(light, package_node("p11")) == [[package_node("p11")]]  # an orphan: one-element path
    assert node_paths(light, ROOT_NODE) == [[ROOT_NODE]]


def test_attach_paths_without_a_graph_builds_its_own() -> None:
    r = _report()
    r.findings.append(Finding("vulnerability", "X-1", Severity.HIGH, "bad", package=("p5", "1")))
    other = _report()
    other.findings.append(Finding("vulnerability", "X-1", Severity.HIGH, "bad", package=("p5", "1")))
    attach_paths(r)
    attach_paths(other, build_graph(other))
    assert r.findings[0].paths == other.findings[0].paths
    assert r.findings[0].paths[0][0] == "proj 1.0" and r.findings[0].paths[0][-1] == "p5 1"


def test_paths_from_one_bfs_are_node_paths_for_every_node() -> None:
    """``RootPaths`` (one BFS for all findings, what ``attach_paths`` uses) answers exactly what ``node_paths`` (one
    BFS per node, stopped at the node) answers: on the fixture's graph and on random graphs with cycles, diamonds,
    unreachable parts and self-loops, for every node, every limit, asked twice (the memo hands out fresh lists)."""
    rng = random.Random(25)
    graphs = [dependencies(_report()), build_graph(_report())]
    for _ in range(60):
        r = Report(root_name="proj")
        size = rng.randint(1, 40)
        for i in range(size):
            r.add_package(Package(f"p{i}", "1", direct=rng.random() < 0.15))
        for _edge in range(rng.randint(0, size * 3)):
            parent, child = rng.randrange(size), rng.randrange(size)
            r.edges.append(Edge(package_node(f"p{parent}"), package_node(f"p{child}"), f"p{child}"))
        graphs.append(dependencies(r))
    compared = 0
    for graph in graphs:
        fast = RootPaths(graph)
        for node in [*graph.nodes, package_node("absent")]:
            for limit in (1, 3, 50):
                expected = node_paths(graph, node, limit)
                got = fast.paths(node, limit)
                assert got == expected, (node, limit)
                got.append(["mutated"])
                assert fast.paths(node, limit) == expected
                compared += 1
    assert compared > 3000
