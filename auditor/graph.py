"""The dependency graph: root -> direct -> transitive packages, models -> base models/datasets.

Why a real graph (networkx) rather than a flat list: every finding must say *why* the package is there
(``myproj -> transformers 4.30.0 -> tokenizers 0.13.3``), and SBOMs need every edge, not just the nodes.

Why two containers for one graph: the finding paths need three operations (a node's children, its parents,
membership), which plain dicts answer (``Dependencies``); the SBOM, the HTML picture and ``mlaudit graph`` need
networkx (``build_graph``), whose import is 287 modules and about a sixth of a second. Both are filled by the same
function from the same report, so they cannot disagree; a run that writes JSON never imports networkx.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from auditor.domain import ROOT_NODE, Finding, Location, Report, model_node, package_node

if TYPE_CHECKING:
    import networkx as nx

MAX_PATHS = 3


class GraphView(Protocol):
    """What the path functions read of a graph (``networkx.DiGraph`` and ``Dependencies`` both are one)."""

    @property
    def nodes(self) -> Any: ...

    def successors(self, node: str) -> Iterator[str]: ...

    def predecessors(self, node: str) -> Iterator[str]: ...

    def __contains__(self, node: object) -> bool: ...


class Dependencies:
    """The dependency graph in plain dicts (nodes with their attributes, children and parents in insertion order):
    the part of ``networkx.DiGraph``'s interface that ``_fill`` writes and the path functions read."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self._children: dict[str, dict[str, dict[str, Any]]] = {}
        self._parents: dict[str, dict[str, None]] = {}

    def add_node(self, node: str, **attrs: Any) -> None:
        self.nodes.setdefault(node, {}).update(attrs)
        self._children.setdefault(node, {})
        self._parents.setdefault(node, {})

    def add_edge(self, parent: str, child: str, **attrs: Any) -> None:
        for node in (parent, child):
            if node not in self.nodes:
                self.add_node(node)
        self._children[parent].setdefault(child, {}).update(attrs)
        self._parents[child][parent] = None

    def has_edge(self, parent: str, child: str) -> bool:
        return child in self._children.get(parent, {})

    def successors(self, node: str) -> Iterator[str]:
        return iter(self._children[node])

    def predecessors(self, node: str) -> Iterator[str]:
        return iter(self._parents[node])

    def __contains__(self, node: object) -> bool:
        return node in self.nodes


def build_graph(report: Report) -> nx.DiGraph:
    """The graph as a ``networkx.DiGraph`` (for the SBOM, the HTML picture and ``mlaudit graph``); see ``_fill``."""
    import networkx as nx

    graph = nx.DiGraph()
    _fill(graph, report)
    return graph


def dependencies(report: Report) -> Dependencies:
    """The graph in plain dicts (what the finding paths need); see ``_fill``."""
    graph = Dependencies()
    _fill(graph, report)
    return graph


def _fill(graph: Any, report: Report) -> None:
    """Nodes carry ``label`` (for paths) and ``kind``; edges carry requirement/marker/origin.

    Packages that no edge reaches (a lockfile with partial edge data, an unresolved pin) hang off the root when
    they are direct, so they still get a path; other orphans stay unattached and get a one-element path.
    """
    root_label = report.root_name + (f" {report.root_version}" if report.root_version else "")
    graph.add_node(ROOT_NODE, label=root_label, kind="root")
    for package in report.packages.values():
        graph.add_node(package.node_id, label=f"{package.name} {package.version}", kind="package")
    for ref in report.models:
        rev = f"@{ref.revision}" if ref.revision else ""
        graph.add_node(ref.node_id, label=f"{ref.repo_id}{rev}", kind=ref.kind)
    for edge in report.edges:
        for node in (edge.parent, edge.child):
            if node not in graph:
                graph.add_node(node, label=node.split(":", 1)[-1], kind="unknown")
        graph.add_edge(edge.parent, edge.child, requirement=edge.requirement, marker=edge.marker, origin=edge.origin)
    for package in report.packages.values():
        if package.direct and not graph.has_edge(ROOT_NODE, package.node_id):
            graph.add_edge(ROOT_NODE, package.node_id, requirement=f"{package.name}=={package.version}",
                           marker=package.markers, origin="direct")
    for ref in report.models:
        if ref.via is None and not graph.has_edge(ROOT_NODE, ref.node_id):
            graph.add_edge(ROOT_NODE, ref.node_id, requirement=ref.repo_id, marker=None, origin=ref.origin or "code")


def node_paths(graph: GraphView, node: str, limit: int = MAX_PATHS) -> list[list[str]]:
    """Up to ``limit`` shortest root-to-node paths, as node ids (BFS over predecessors, cycle-safe)."""
    if node not in graph:
        return []
    if node == ROOT_NODE:
        return [[ROOT_NODE]]
    # BFS from the root gives distances; then walk back along predecessors one level closer each step.
    dist: dict[str, int] = {ROOT_NODE: 0}
    queue: deque[str] = deque([ROOT_NODE])
    while queue:
        current = queue.popleft()
        if current == node:
            break
        for child in graph.successors(current):
            if child not in dist:
                dist[child] = dist[current] + 1
                queue.append(child)
    return _walk_back(graph, dist, node, limit)


def _walk_back(graph: GraphView, dist: dict[str, int], node: str, limit: int) -> list[list[str]]:
    """Up to ``limit`` shortest paths from the root to ``node``, walking back along predecessors one level closer
    to the root each step (``dist``: BFS distances from the root, final for every node closer than ``node``)."""
    if node not in dist:
        return [[node]]
    paths: list[list[str]] = []

    def walk(current: str, suffix: list[str]) -> None:
        if len(paths) >= limit:
            return
        if current == ROOT_NODE:
            paths.append([ROOT_NODE, *suffix])
            return
        for parent in sorted(graph.predecessors(current)):
            if dist.get(parent) == dist[current] - 1:
                walk(parent, [current, *suffix])

    walk(node, [])
    return paths


class RootPaths:
    """``node_paths`` for many nodes of one graph: the distances from the root are computed once (one BFS over the
    whole graph) instead of once per finding, and each node's paths once.

    Why the answers are ``node_paths``'s own: that BFS stops when it pops the node, and by then every node closer
    to the root than it has its final distance (BFS pops nodes in distance order); the walk back reads only those.
    The full BFS gives the same distances to them, so the same walk finds the same paths in the same order."""

    def __init__(self, graph: GraphView) -> None:
        self.graph = graph
        self.dist: dict[str, int] = {}
        if ROOT_NODE in graph:
            self.dist[ROOT_NODE] = 0
            queue: deque[str] = deque([ROOT_NODE])
            while queue:
                current = queue.popleft()
                for child in graph.successors(current):
                    if child not in self.dist:
                        self.dist[child] = self.dist[current] + 1
                        queue.append(child)
        self._memo: dict[tuple[str, int], list[list[str]]] = {}

    def paths(self, node: str, limit: int = MAX_PATHS) -> list[list[str]]:
        """What ``node_paths(graph, node, limit)`` returns (a fresh list of fresh lists, as it does)."""
        key = (node, limit)
        if key not in self._memo:
            self._memo[key] = self._paths(node, limit)
        return [list(p) for p in self._memo[key]]

    def _paths(self, node: str, limit: int) -> list[list[str]]:
        if node not in self.graph:
            return []
        if node == ROOT_NODE:
            return [[ROOT_NODE]]
        return _walk_back(self.graph, self.dist, node, limit)


def label_path(graph: GraphView, path: list[str]) -> list[str]:
    return [str(graph.nodes[n].get("label", n)) if n in graph else n for n in path]


def finding_node(finding: Finding, report: Report | None = None) -> str | None:
    """The graph node a finding is about (``report`` given: the version-qualified node where a name has several)."""
    if finding.package is not None:
        package = report.package_for(*finding.package) if report is not None else None
        return package.node_id if package is not None else package_node(finding.package[0])
    if finding.model is not None:
        repo_id = finding.model[0]
        return model_node(repo_id, "model")
    return None


def attach_paths(report: Report, graph: GraphView | None = None) -> None:
    """Fill ``paths`` and, where a check left it empty, ``location``: the input line that holds the package's version
    (a lock's or compiled requirements file's own line for each package), else its direct requirement's line --
    always in a file of the package's own profiles. Without ``graph``, the report's own (``dependencies``)."""
    if graph is None:
        graph = dependencies(report)
    root_paths = RootPaths(graph)  # one BFS for every finding (346 findings of a 201-package lock: 346 BFS before)
    for finding in report.findings:
        node = finding_node(finding, report)
        if node is None:
            continue
        if node not in graph and finding.model is not None:
            node = model_node(finding.model[0], "dataset")
        id_paths = root_paths.paths(node)
        if not finding.paths:
            finding.paths = [label_path(graph, p) for p in id_paths]
        if finding.location is None:
            files = _profile_files(report, finding)
            own = report.package_for(*finding.package) if finding.package is not None else None
            if own is not None and own.location is not None and (files is None or own.location.file in files):
                finding.location = own.location  # the input line that holds this very version (a lock's own line)
            else:
                finding.location = _direct_location(report, id_paths, files)


def _profile_files(report: Report, finding: Finding) -> set[str] | None:
    """The input files of the profiles the finding's package belongs to (None: one profile, any file will do). A
    direct requirement shared by two profiles (``datasets`` in uv.lock and in requirements_cuda.txt) must not cite
    the file of the profile that does not hold this version."""
    if finding.package is None or len(report.profiles) < 2:
        return None
    package = report.package_for(*finding.package)
    if package is None or not package.profiles:
        return None
    return {f for p in report.profiles if p.get("name") in package.profiles for f in p.get("files", [])}


def _direct_location(report: Report, id_paths: list[list[str]], files: set[str] | None = None) -> Location | None:
    for path in id_paths:
        for node in path[1:2] if len(path) > 1 else path:
            if node.startswith("pypi:"):
                package = report.package_at(node)
                if package is not None and package.location is not None and (
                        files is None or package.location.file in files):
                    return package.location
            for ref in report.models:
                if ref.node_id == node and ref.location is not None:
                    return ref.location
    return None
