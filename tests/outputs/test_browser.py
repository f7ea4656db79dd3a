"""The HTML report in a real browser (headless Chromium): hostile strings stay inert, the table and its
query-string filters work, the dependency graph of a real-size project highlights every path from the project to a
flagged package and stays legible, and screenshots are saved for a human look.

Runs with ``pytest -m browser``; skips cleanly when no ``chromium`` binary is installed (Debian: ``chromium``).
Set ``MLAUDIT_SCREENSHOT_DIR`` to keep the screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import pytest

from auditor.domain import ROOT_NODE, Finding, Package, Report, Severity
from auditor.evidence import Details
from auditor.graph import build_graph
from auditor.outputs.graphsvg import MAX_ROWS, NODE_H, NODE_W
from auditor.outputs.html import graph_flags, render
from tests.outputs.bigproject import big_report
from tests.outputs.fixture import fixture_report

pytestmark = pytest.mark.browser

# Payloads that would leave a visible trace in the DOM if any of them ever ran.
DOM_SCRIPT = "<script>document.documentElement.setAttribute('data-pwned','script')</script>"
DOM_ATTR = "\" onmouseover=\"x\"><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">"
DOM_CLOSE = "</script><script>document.documentElement.setAttribute('data-pwned','close')</script><!--"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def _run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture
def page(tmp_path: Path) -> Path:
    report = fixture_report()
    report.add_package(Package(name="evil", version="1.0", direct=True,
                               metadata={"summary": DOM_SCRIPT + DOM_ATTR + DOM_CLOSE}))
    report.findings.append(Finding(kind="typosquat", id="MLA-TYPOSQUAT", severity=Severity.CRITICAL,
                                   message=f"evil {DOM_SCRIPT} {DOM_CLOSE}", package=("evil", "1.0"),
                                   fix=DOM_ATTR, evidence=Details.of({"x": DOM_ATTR}), summary=DOM_CLOSE))
    report.models[0].card["description"] = DOM_SCRIPT
    report.skipped[0].reason = DOM_ATTR
    path = tmp_path / f"report{DOM_ATTR[:2]}.html"
    path.write_text(render(report), encoding="utf-8")
    return path


def _dom(page: Path, query: str, tmp_path: Path) -> str:
    result = _run(_chromium(), tmp_path / "profile", "--dump-dom", page.as_uri() + query)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<table" in result.stdout
    return result.stdout


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(dom: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(dom)
    parser.close()
    return parser.tags


def _finding_rows(dom: str) -> list[str]:
    return re.findall(r"<tr class=\"finding[^>]*>", dom)


def test_hostile_strings_stay_inert_and_rows_are_all_there(page: Path, tmp_path: Path) -> None:
    dom = _dom(page, "", tmp_path)
    html_tag = re.search(r"<html[^>]*>", dom)
    assert html_tag is not None and "data-pwned" not in html_tag.group(0)  # no payload ran
    tags = _tags(dom)
    assert not [t for t, _ in tags if t in ("img", "iframe", "object", "embed")]
    assert not [a for _, a in tags if any(name.startswith("on") for name in a)]
    assert [t for t, _ in tags if t == "script"] == ["script"]  # only the report's own script
    rows = _finding_rows(dom)
    assert len(rows) == 8
    hidden = [r for r in rows if " hidden" in r]
    assert len(hidden) == 1 and 'data-ignored="1"' in hidden[0]  # ignored findings are hidden by default
    assert 'data-visible="7"' in dom
    # advisory references are the page's only outbound links, each without opener or referrer; the full text
    # sits in a closed <details>
    links = [a for t, a in tags if t == "a" and not (a.get("href") or "#").startswith("#")]
    assert links and all(a.get("rel") == "noopener noreferrer" and (a.get("href") or "").startswith("https://")
                         for a in links)
    assert [a for t, a in tags if t == "details" and a.get("class") == "advisory-text" and "open" not in a]


def test_query_string_filters_apply_on_load(page: Path, tmp_path: Path) -> None:
    dom = _dom(page, "?severity=critical", tmp_path)
    visible = [r for r in _finding_rows(dom) if " hidden" not in r]
    assert len(visible) == 2 and all('data-severity="critical"' in r for r in visible)
    dom = _dom(page, "?q=werkzeug", tmp_path)
    visible = [r for r in _finding_rows(dom) if " hidden" not in r]
    assert len(visible) == 1 and 'data-kind="vulnerability"' in visible[0]
    dom = _dom(page, "?kind=vulnerability&ignored=1", tmp_path)
    assert 'data-visible="3"' in dom
    dom = _dom(page, "?severity=unknown", tmp_path)
    visible = [r for r in _finding_rows(dom) if " hidden" not in r]
    assert len(visible) == 1 and 'data-severity="unknown"' in visible[0]


def test_screenshot(page: Path, tmp_path: Path) -> None:
    out_dir = Path(os.environ.get("MLAUDIT_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "mlaudit-report.png"
    result = _run(_chromium(), tmp_path / "profile", "--window-size=1300,2000", f"--screenshot={shot}",
                  page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _graph_report() -> Report:
    """A real-size project (400 packages, five layers, a few hundred edges) with vulnerable packages, a malicious
    and an unclaimed one deep in the graph."""
    report = big_report(400, findings_per_kind=0, vulnerable=12, seed=11)
    deep = [p for p in report.packages.values() if not p.direct and p.name.startswith("pkg-03")]
    report.findings += [
        Finding(kind="malicious", id="MAL-2026-1", severity=Severity.CRITICAL, message="malicious",
                package=(deep[0].name, deep[0].version)),
        Finding(kind="unclaimed-name", id="MLA-UNCLAIMED-NAME", severity=Severity.HIGH, message="not on the index",
                package=(deep[1].name, deep[1].version)),
    ]
    return report


class _Svg(HTMLParser):
    """Nodes (id -> (x, y, classes)) and highlighted edges of each <svg> in a DOM dump."""

    def __init__(self) -> None:
        super().__init__()
        self.current: str | None = None
        self.nodes: dict[str, dict[str, tuple[int, int, str]]] = {}
        self.edges: dict[str, set[tuple[str, str]]] = {}
        self.size: dict[str, tuple[int, int]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.current = a.get("id") or "?"
            self.nodes[self.current], self.edges[self.current] = {}, set()
            self.size[self.current] = (int(a["width"] or 0), int(a["height"] or 0))
        elif self.current and tag == "g" and a.get("data-node"):
            x, y = re.findall(r"-?\d+", a.get("transform") or "")
            self.nodes[self.current][a["data-node"] or ""] = (int(x), int(y), a.get("class") or "")
        elif self.current and tag == "path" and "hl" in (a.get("class") or "").split():
            self.edges[self.current].add((a.get("data-from") or "", a.get("data-to") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.current = None


def test_dependency_graph_highlights_every_path_from_the_project(tmp_path: Path) -> None:
    report = _graph_report()
    page = tmp_path / "graph.html"
    page.write_text(render(report), encoding="utf-8")
    dom = _dom(page, "?graph=full", tmp_path)
    assert re.search(r'<details id="full-graph"[^>]*\sopen', dom)  # ?graph=full opened the whole graph
    svg = _Svg()
    svg.feed(dom)
    graph = build_graph(report)
    flagged = graph_flags(report, graph)
    assert {f.kind for f in flagged.values()} == {"vulnerable", "malicious", "unclaimed"}
    full = svg.nodes["graph-full"]
    assert set(full) == set(graph.nodes)  # every package, in the picture
    for name in ("graph-focus", "graph-full"):
        nodes, edges = svg.nodes[name], svg.edges[name]
        assert {n for n, (_, _, cls) in nodes.items() if " flag " in f" {cls} "} == set(flagged)
        assert all(graph.has_edge(a, b) for a, b in edges)  # a highlighted edge is a real dependency
        reached = {ROOT_NODE}
        frontier = [ROOT_NODE]
        while frontier:
            node = frontier.pop()
            for a, b in edges:
                if a == node and b not in reached:
                    reached.add(b)
                    frontier.append(b)
        reachable = nx.descendants(graph, ROOT_NODE)
        assert set(flagged) & reachable <= reached  # each flagged node the project reaches: a highlighted path
        assert len(set(flagged) & reachable) > 10
        # legible: no two boxes overlap, every box inside the picture
        width, height = svg.size[name]
        boxes = sorted((x, y) for x, y, _ in nodes.values())
        assert len(set(boxes)) == len(boxes)
        assert all(0 <= x <= width - NODE_W and 0 <= y <= height - NODE_H for x, y in boxes)
        columns: dict[int, list[int]] = {}
        for x, y in boxes:
            columns.setdefault(x, []).append(y)
        for ys in columns.values():
            ys.sort()
            assert all(ys[i + 1] - ys[i] >= NODE_H for i in range(len(ys) - 1))
        assert max(len(ys) for ys in columns.values()) <= MAX_ROWS
    focus = svg.nodes["graph-focus"]
    assert len(focus) < len(full) / 2  # the paths, with the rest collapsed into badges


def test_graph_screenshot(tmp_path: Path) -> None:
    """The pictures alone, at their own size, for a human look (``MLAUDIT_SCREENSHOT_DIR`` keeps them)."""
    out_dir = Path(os.environ.get("MLAUDIT_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = render(_graph_report())
    css = page.split("<style>", 1)[1].split("</style>", 1)[0]
    for name in ("graph-focus", "graph-full"):
        picture = re.search(rf'<svg id="{name}".*?</svg>', page, flags=re.S)
        assert picture is not None
        width, height = (int(v) for v in re.findall(r'width="(\d+)" height="(\d+)"', picture.group(0))[0])
        wrapper = tmp_path / f"{name}.html"
        wrapper.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{css} body{{margin:0}}</style>"
                           f"</head><body>{picture.group(0)}</body></html>", encoding="utf-8")
        shot = out_dir / f"mlaudit-{name}.png"
        result = _run(_chromium(), tmp_path / "profile", f"--window-size={min(width, 4000)},{min(height, 4000)}",
                      "--hide-scrollbars", f"--screenshot={shot}", wrapper.as_uri())
        assert result.returncode == 0, result.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
