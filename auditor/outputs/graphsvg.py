"""The dependency graph as a picture: a layered (Sugiyama-style) layout for the HTML report's inline SVG.

Why a layered layout: a dependency graph reads from the project to what it pulls in, so depth from the root is the
natural x axis (layers: networkx's shortest-path lengths from the root, cycle-safe). Within a layer, nodes are
ordered by the barycenter heuristic (a few down and up sweeps over the neighbouring layers), which removes most
edge crossings; a layer taller than ``MAX_ROWS`` is folded into several sub-columns so that a 400-package graph
stays a picture one can read rather than a 6,000-pixel column. Coordinates are plain integers, computed at render
time; the SVG itself is written by the template (every label escaped there).

Two pictures come out of one graph: ``focus`` holds only the paths from the root to the flagged nodes
(vulnerable, malicious, unclaimed, typosquat, unsafe model), with each node's other dependencies collapsed into a
"+N" badge on the node; ``full`` holds every node with those paths highlighted. The HTML shows ``focus`` open and ``full``
collapsed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import networkx as nx

from auditor.domain import ROOT_NODE

MAX_ROWS = 45  # nodes per sub-column before a layer folds
NODE_W = 190
NODE_H = 20
ROW_GAP = 6
SUB_GAP = 16  # between the sub-columns of one layer
LAYER_GAP = 70  # between layers (room for the edges)
MARGIN = 12
CHAR_W = 6.6  # an estimate of the average glyph width at the picture's 11px font
SWEEPS = 4


@dataclass
class Node:
    id: str
    label: str  # full label (the tooltip)
    text: str  # the label cut to the box
    x: int
    y: int
    kind: str  # root, package, model, dataset
    flag: str | None = None  # vulnerable, malicious, unclaimed, typosquat, model
    severity: str | None = None
    on_path: bool = False
    collapsed: int = 0  # dependencies left out of this picture (the "+N" badge)


@dataclass
class Edge:
    source: str
    target: str
    d: str  # SVG path data
    on_path: bool = False


@dataclass
class Picture:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: int = 0
    height: int = 0
    node_w: int = NODE_W
    node_h: int = NODE_H


@dataclass(frozen=True)
class Flag:
    """Why a node is highlighted: its class and the worst severity of its findings."""

    kind: str
    severity: str


def depths(graph: nx.DiGraph) -> dict[str, int]:
    """Layer of every node: its shortest distance from the root; nodes the root does not reach sit in layer 1."""
    found: dict[str, int] = dict(nx.single_source_shortest_path_length(graph, ROOT_NODE)) \
        if ROOT_NODE in graph else {}
    return {node: found.get(node, 1) for node in graph.nodes}


def path_subgraph(graph: nx.DiGraph, layer: dict[str, int], targets: set[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """Nodes and edges on the shortest paths from the root to ``targets``: walk back from each target along
    predecessors exactly one layer closer to the root."""
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    queue = deque(t for t in targets if t in graph)
    nodes.update(queue)
    while queue:
        node = queue.popleft()
        for parent in graph.predecessors(node):
            if layer.get(parent, -1) == layer[node] - 1:
                edges.add((parent, node))
                if parent not in nodes:
                    nodes.add(parent)
                    queue.append(parent)
    return nodes, edges


def _order(layers: dict[int, list[str]], graph: nx.DiGraph, layer: dict[str, int]) -> None:
    """Barycenter crossing reduction, in place: each node moves to the mean position of its neighbours in the
    adjacent layer (down sweeps use parents, up sweeps children); ties keep the current order."""
    position = {node: index for nodes in layers.values() for index, node in enumerate(nodes)}
    numbers = sorted(layers)

    def sweep(sequence: list[int], neighbours: str) -> None:
        for number in sequence:
            nodes = layers[number]
            keyed = []
            for index, node in enumerate(nodes):
                near = graph.predecessors(node) if neighbours == "up" else graph.successors(node)
                wanted = number - 1 if neighbours == "up" else number + 1
                places = [position[n] for n in near if layer.get(n) == wanted and n in position]
                keyed.append((sum(places) / len(places) if places else float(index), index, node))
            keyed.sort()
            layers[number] = [node for _, _, node in keyed]
            for index, node in enumerate(layers[number]):
                position[node] = index

    for _ in range(SWEEPS):
        sweep(numbers[1:], "up")
        sweep(list(reversed(numbers[:-1])), "down")


def _cut(label: str, badge: int) -> str:
    room = NODE_W - 12 - (len(f"+{badge}") + 1) * CHAR_W if badge else NODE_W - 12
    limit = int(room / CHAR_W)
    return label if len(label) <= limit else label[: limit - 1] + "…"


def layout(graph: nx.DiGraph, flags: dict[str, Flag], *, highlighted: tuple[set[str], set[tuple[str, str]]],
           collapsed: dict[str, int] | None = None) -> Picture:
    """Place every node of ``graph`` and route every edge; ``collapsed`` counts, per node, the dependencies left
    out of the picture (drawn as a "+N" badge on the node)."""
    layer = depths(graph)
    work = graph
    layers: dict[int, list[str]] = {}
    for node in sorted(work.nodes, key=lambda n: (str(work.nodes[n].get("label", n)), n)):
        layers.setdefault(layer[node], []).append(node)
    _order(layers, work, layer)

    on_nodes, on_edges = highlighted
    picture = Picture()
    x = MARGIN
    tallest = 0
    places: dict[str, tuple[int, int]] = {}
    for number in sorted(layers):
        nodes = layers[number]
        columns = [nodes[i:i + MAX_ROWS] for i in range(0, len(nodes), MAX_ROWS)]
        for column in columns:
            for row, node in enumerate(column):
                y = MARGIN + row * (NODE_H + ROW_GAP)
                places[node] = (x, y)
                data = work.nodes[node]
                label = str(data.get("label", node))
                flag = flags.get(node)
                badge = (collapsed or {}).get(node, 0)
                picture.nodes.append(Node(id=node, label=label, text=_cut(label, badge), x=x, y=y,
                                          kind=str(data.get("kind", "package")), flag=flag.kind if flag else None,
                                          severity=flag.severity if flag else None, on_path=node in on_nodes,
                                          collapsed=badge))
            tallest = max(tallest, len(column))
            x += NODE_W + SUB_GAP
        x += LAYER_GAP - SUB_GAP
    for source, target in work.edges:
        (x1, y1), (x2, y2) = places[source], places[target]
        picture.edges.append(Edge(source=source, target=target, d=_route(x1, y1, x2, y2),
                                  on_path=(source, target) in on_edges))
    picture.edges.sort(key=lambda e: e.on_path)  # highlighted edges drawn last, on top
    picture.width = x - LAYER_GAP + MARGIN + SUB_GAP
    picture.height = MARGIN * 2 + tallest * (NODE_H + ROW_GAP)
    return picture


def _route(x1: int, y1: int, x2: int, y2: int) -> str:
    """A cubic curve from the right edge of the parent's box to the left edge of the child's; an edge to a node
    in the same or an earlier layer (a cycle, a shortcut) bows out to the right instead of crossing boxes."""
    sy, ty = y1 + NODE_H // 2, y2 + NODE_H // 2
    sx = x1 + NODE_W
    if x2 > x1:
        bend = max(20, (x2 - sx) // 2)
        return f"M{sx} {sy}C{sx + bend} {sy} {x2 - bend} {ty} {x2} {ty}"
    loop = NODE_W // 2 + 30
    return f"M{sx} {sy}C{sx + loop} {sy} {x2 + NODE_W + loop} {ty} {x2 + NODE_W} {ty}"


def pictures(graph: nx.DiGraph, flags: dict[str, Flag]) -> tuple[Picture | None, Picture]:
    """``(focus, full)``: the paths to the flagged nodes with the rest collapsed (None when nothing is flagged),
    and the whole graph with those paths highlighted."""
    layer = depths(graph)
    targets = {n for n in flags if n in graph}
    nodes, edges = path_subgraph(graph, layer, targets)
    if ROOT_NODE in graph:
        nodes.add(ROOT_NODE)
    full = layout(graph, flags, highlighted=(nodes, edges))
    if not targets:
        return None, full
    focus_graph = nx.DiGraph()
    for node in sorted(nodes, key=lambda n: (layer[n], n)):
        focus_graph.add_node(node, **graph.nodes[node])
    focus_graph.add_edges_from(sorted(edges))
    collapsed = {node: count for node in nodes
                 if (count := sum(1 for child in graph.successors(node) if child not in nodes))}
    return layout(focus_graph, flags, highlighted=(nodes, edges), collapsed=collapsed), full
